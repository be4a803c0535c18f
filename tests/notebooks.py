"""Golden notebooks for the engine's tests, built with nbformat in a temporary folder, and the ways tests run a
student's check suite on them."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def markdown(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text)


def write_notebook(path: Path, *cells) -> Path:
    """Write a notebook whose cells are code sources (str) or ready-made cells; return its path."""
    nb = new_notebook(cells=[new_code_cell(c) if isinstance(c, str) else c for c in cells])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def with_cell_appended(folder: Path, cell: str, target: Path) -> Path:
    """A copy of the submission `folder` at `target` whose notebook ends with one more code cell; `target`."""
    shutil.copytree(folder, target)
    [path] = target.glob("*.ipynb")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(new_code_cell(cell))
    nbformat.write(notebook, path)
    return target


def student_pytest(suite: Path, submission: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A student's own run, `pytest <suite> --submission <submission> -q`, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "pytest", str(suite), "--submission", str(submission), "-q",
                           "-p", "no:cacheprovider", *extra], capture_output=True, text=True, timeout=timeout)


def processes_with(marker: str) -> list[str]:
    """The pids of the host's processes whose command line holds `marker` (a notebook's child, found again)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found
