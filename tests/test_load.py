"""Discovery of submission folders, assignment identification and notebook loading."""

import json
from pathlib import Path

import nbformat
import pytest

from grader.load import discover, identify, load_notebook


def _notebook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    return path


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("assignment1.ipynb", ("a1", None)),
        ("assignment4.ipynb", ("a4", None)),
        ("assignment5_classification.ipynb", ("a5", "classification")),
        ("assignment5_instruction.ipynb", ("a5", "instruction")),
        ("assignment5_lora.ipynb", ("a5", "lora")),
    ],
)
def test_course_notebook_names_are_identified_without_warning(name, identity):
    assert identify(Path(name)) == (identity, None)


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("Assignment_1.ipynb", ("a1", None)),
        ("assignmnet3.ipynb", ("a3", None)),
        ("ASSIGNMENT-5-LoRA.ipynb", ("a5", "lora")),
        ("assignment5_classifcation.ipynb", ("a5", "classification")),
    ],
)
def test_small_naming_slips_are_accepted_with_a_warning(name, identity):
    found, warning = identify(Path(name))
    assert found == identity
    assert name in warning and "rename" in warning


@pytest.mark.parametrize("name", ["notes.ipynb", "assignment6.ipynb", "assignment5.ipynb", "assignment1_draft.ipynb"])
def test_other_notebooks_are_not_taken_for_an_assignment(name):
    assert identify(Path(name)) == (None, None)


def test_discover_walks_assignment_and_student_folders(tmp_path):
    _notebook(tmp_path / "a2" / "ada" / "assignment2.ipynb")
    _notebook(tmp_path / "a1" / "bob" / "assignment1.ipynb")
    found = discover([tmp_path])
    assert [(s.assignment, s.student) for s in found] == [("a1", "bob"), ("a2", "ada")]
    assert all(s.problem is None and s.notebook.exists() for s in found)


def test_a_student_folder_without_a_notebook_is_a_submission_with_a_problem(tmp_path):
    (tmp_path / "a3" / "cy").mkdir(parents=True)
    (tmp_path / "a3" / "cy" / "README.md").write_text("# notes")
    [submission] = discover([tmp_path])
    assert (submission.assignment, submission.student, submission.notebook) == ("a3", "cy", None)
    assert "assignment3.ipynb" in submission.problem


def test_notebook_under_the_wrong_assignment_folder_is_graded_with_a_warning(tmp_path):
    _notebook(tmp_path / "a2" / "dee" / "assignment3.ipynb")
    [submission] = discover([tmp_path])
    assert submission.assignment == "a3"
    assert any("a2" in w for w in submission.warnings)


def test_a_single_notebook_path_is_one_submission(tmp_path):
    path = _notebook(tmp_path / "eve" / "assignment5_lora.ipynb")
    _notebook(tmp_path / "eve" / "assignment1.ipynb")
    [submission] = discover([path])
    assert (submission.student, submission.assignment, submission.option) == ("eve", "a5", "lora")


def test_checkpoint_folders_are_ignored(tmp_path):
    _notebook(tmp_path / "a1" / "fay" / "assignment1.ipynb")
    _notebook(tmp_path / "a1" / "fay" / ".ipynb_checkpoints" / "assignment1-checkpoint.ipynb")
    assert [s.student for s in discover([tmp_path])] == ["fay"]


def test_a_missing_path_is_reported_not_raised(tmp_path):
    [submission] = discover([tmp_path / "nope"])
    assert "not a notebook or a folder" in submission.problem


def test_load_reads_a_valid_notebook(tmp_path):
    loaded = load_notebook(_notebook(tmp_path / "assignment1.ipynb"))
    assert loaded.problem is None and loaded.notebook.cells[0].source == "x = 1"


def test_load_reports_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "assignment1.ipynb"
    path.write_text("{ this is not json")
    loaded = load_notebook(path)
    assert loaded.notebook is None and "not a valid notebook file" in loaded.problem


def test_load_reports_json_that_is_not_a_notebook(tmp_path):
    path = tmp_path / "assignment1.ipynb"
    path.write_text(json.dumps({"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    loaded = load_notebook(path)
    assert loaded.notebook is None and "notebook format" in loaded.problem
