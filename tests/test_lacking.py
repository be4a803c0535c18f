"""Cells that need what the grading machine does not have (the network, a package the student had installed, room
for a file bigger than the grader allows)
are not counted against the student when the saved notebook shows them run without an error: they are
skipped with the reason, their functions and classes are defined again, and later cells that fail only here
(for want of what such a cell would have set or written) are skipped too. The same failure in a cell whose
saved outputs show the error, or in a notebook saved without outputs, still counts."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from grader.evidence import runs_clean
from grader.execute import KernelSession, Limits, SessionOptions
from grader.grade import _cell_warnings

OPTIONS = SessionOptions(cell_timeout=30, grace=1, budget=120, max_restarts=0, limits=Limits(file_bytes=2**20))
CELLS = {
    "imports_a_package_not_here": ("import os\nimport llm_grader_absent_package as absent\n"
                                   "weights = absent.load()\n\ndef helper():\n    return 41\n"),
    "uses_its_result": "print(weights)",
    "reads_a_file_it_would_write": "open('written-by-the-student.bin').read()",
    "downloads": ("import urllib.request\n"
                  "urllib.request.urlopen('http://llm-grader-offline.invalid/data.json', timeout=5).read()"),
    "saved_with_its_error": "1 / 0",
    "calls_the_redefined_helper": "print(helper() + 1)",
    "asks_a_package_version": "from importlib.metadata import version\nprint(version('llm-grader-absent-package'))",
    "saves_a_checkpoint_over_the_file_limit": "import torch\ntorch.save(torch.zeros(2**19), 'model.pth')",
    "writes_a_file_over_the_file_limit": "open('big.bin', 'wb').write(b'x' * 2**21)",
}


def _notebook(path, *, saved: bool):
    """The cells as the student saved them: run in order, each clean but `saved_with_its_error` (saved=True),
    or never run (saved=False)."""
    cells = []
    for count, (name, source) in enumerate(CELLS.items(), start=1):
        cell = new_code_cell(source)
        if saved:
            cell.execution_count = count
            cell.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
                            if name == "saved_with_its_error" else new_output("stream", name="stdout", text="ok\n")]
        cells.append(cell)
    nbformat.write(new_notebook(cells=cells), path)
    return path


def _run(folder, *, saved: bool):
    with KernelSession(_notebook(folder / "assignment4.ipynb", saved=saved), folder, options=OPTIONS) as session:
        return {name: cell for name, cell in zip(CELLS, session.run_all().cells)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("saved"), saved=True)


def test_a_package_the_machine_lacks_is_not_the_students_error(saved):
    cell = saved["imports_a_package_not_here"]
    assert cell.status == "skipped" and cell.error_name == "ModuleNotFoundError"
    assert "the module `llm_grader_absent_package`" in cell.reason and "not counted as an error" in cell.reason
    assert "if `llm_grader_absent_package` is your own .py file, hand it in" in cell.reason


def test_the_cells_after_it_that_fail_only_here_are_skipped(saved):
    for name, error in (("uses_its_result", "NameError"), ("reads_a_file_it_would_write", "FileNotFoundError")):
        assert saved[name].status == "skipped", saved[name]
        assert f"raised {error} here but not in your saved run, after cell 1" in saved[name].reason


def test_a_package_version_the_machine_lacks_is_not_the_students_error(saved):
    cell = saved["asks_a_package_version"]
    assert cell.status == "skipped" and cell.error_name == "PackageNotFoundError"
    assert "it needs the package `llm-grader-absent-package`" in cell.reason


@pytest.mark.parametrize("name", ["saves_a_checkpoint_over_the_file_limit", "writes_a_file_over_the_file_limit"])
def test_a_file_over_the_graders_size_limit_is_not_the_students_error(saved, name):
    """The kernel may write files of at most Limits.file_bytes (here 1 MiB; the book's checkpoints are bigger)."""
    assert saved[name].status == "skipped" and "it needs room to write a file over 1 MiB" in saved[name].reason


def test_a_download_is_not_the_students_error(saved):
    cell = saved["downloads"]
    assert cell.status == "skipped" and cell.error_name == "URLError" and "needs the network" in cell.reason


def test_an_error_the_saved_notebook_shows_still_counts(saved):
    assert saved["saved_with_its_error"].status == "error"
    assert "1 of 9 code cells failed: cell 5 (ZeroDivisionError)" in runs_clean(_Execution(saved)).evidence


def test_the_skipped_cells_functions_are_defined_again(saved):
    cell = saved["calls_the_redefined_helper"]
    assert cell.status == "ok" and "42" in cell.output


def test_without_saved_outputs_the_same_failures_count(tmp_path):
    unsaved = _run(tmp_path, saved=False)
    assert [c.status for c in unsaved.values()] == ["error"] * len(CELLS)


def test_the_report_names_the_cells_not_counted(saved):
    [note] = _cell_warnings(_Execution(saved))
    assert note.startswith("cell(s) 1, 4, 7, 8, 9 need what the grading machine does not have")
    assert note.endswith("nor are cell(s) 2, 3 after them, which failed only here")


class _Execution:
    budget_exhausted = False

    def __init__(self, cells):
        self.cells = tuple(cells.values())
