"""The per-submission report (the JSON contract in DESIGN.md) and how it is written."""

import dataclasses
import json
import os
import platform
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.score import CategoryScore, CheckResult

SCHEMA_VERSION = 2  # 2: check status "review", `bindings`, item `held`


@dataclass(frozen=True)
class Plot:
    """Data for a figure in the HTML report: line series (e.g. losses) or a matrix (attention weights)."""

    title: str
    kind: str  # "lines" or "matrix"
    series: dict = dataclasses.field(default_factory=dict)  # lines: label -> list of y values
    matrix: tuple = ()  # rows of values in [0, 1]
    labels: tuple = ()  # matrix row/column labels
    x_label: str | None = None  # axis titles; None: lines get one from the title ("each step" -> "step", "loss")
    y_label: str | None = None


@dataclass(frozen=True)
class NotebookFigure:
    """One image the notebook itself saved in a code cell's outputs (matplotlib's PNG), for the HTML page.

    `data` is the PNG in base64; empty where the image was left out, and `note` then says why."""

    cell: int  # position among all the notebook's cells, from 0 (as CellResult.index)
    data: str = ""
    note: str = ""


@dataclass(frozen=True)
class BindingRecord:
    """How a component was found and how the book's weights were loaded into it, for the report."""

    component: str
    used_name: str
    found: str
    module: str
    method: str  # found (looked up, no weights bound) | names | roles | searched | none
    candidates: int = 0
    matched: bool | None = None  # a candidate reproduced the reference (None: not run)
    pairs: tuple = ()  # (your parameter, the book's, how)
    notes: tuple = ()
    problem: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything the grader found about one submission; `problems` explain a score of 0."""

    student: str
    assignment: str | None
    option: str | None
    score: float
    max_score: float
    categories: tuple[CategoryScore, ...]
    checks: tuple[CheckResult, ...]
    cells: tuple = ()
    duration_s: float = 0.0
    environment: dict = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    bindings: tuple[BindingRecord, ...] = ()  # how each component was found and its weights loaded
    # The notebook's own saved figures, for report.html only: they stay out of report.json (they are
    # in the notebook already, and would make every gradebook rebuild read megabytes of base64).
    figures: tuple[NotebookFigure, ...] = ()
    # The evidence behind rubric items of kind "signal"/"readme", by item id ({id, value, evidence}),
    # so `grade --rescore` can score again without running the notebook. None: not recorded (older reports).
    signals: dict | None = None
    rescored: bool = False  # scored again (`grade --rescore`) from the checks and signals of an earlier grading
    grader_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["figures"]
        return data

    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in ("fail", "error")]

    def review_checks(self) -> list[CheckResult]:
        """Checks held for the course staff: they could not be graded automatically."""
        return [c for c in self.checks if c.status == "review"]


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


REPORT_KEYS = {"student", "assignment", "option", "score", "max_score", "categories", "checks", "problems"}


def read_saved_reports(out: Path) -> list[tuple[dict, Path]]:
    """(report, folder) for every report.json under out (<out>/<assignment>/<student>/report.json); one that
    cannot be read is skipped with a warning naming it."""
    found = []
    for path in sorted(Path(out).glob("*/*/report.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(report, dict) or not REPORT_KEYS <= report.keys():
                raise ValueError("not a grader report")
        except (OSError, ValueError) as err:
            print(f"grade: warning: {path} left out of the gradebook, it cannot be read: {err}", file=sys.stderr)
            continue
        found.append((report, path.parent))
    return found
