"""How a report (grader.results.Report, the JSON contract in DESIGN.md) is written, and the facts about the run
it records."""

import json
import os
import platform
import uuid
from pathlib import Path

from grader.results import Report


def resolve_device(choice: str) -> str:
    """"auto" is CUDA when torch sees a GPU, else the CPU; "cpu" and "cuda" stay as they are."""
    import torch

    if choice != "auto":
        return choice
    return "cuda" if torch.cuda.is_available() else "cpu"


def environment(device: str) -> dict:
    """Versions and settings that make a grade reproducible. Nothing random is left to a seed of the run: each
    check seeds what it draws, and Hypothesis draws its examples derandomized."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": resolve_device(device),
        "hypothesis_profile": "grading (derandomized)",
    }


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) so that a reader finds the old file or the new one, never a part of either.

    The text goes to a temporary file beside `path`, is flushed to disk, then renamed over `path`;
    a failure on the way leaves `path` as it was and removes the temporary file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json(report: Report, path: Path) -> None:
    write_text_atomic(path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")
