"""The GitHub Actions logic: which submission folders a pull request changes, and the comment text."""

import json
import subprocess
from pathlib import Path

import pytest

from grader.ci import MARKER, changed_submissions, submission_folder, summary

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _write(repo: Path, path: str, text: str = "x") -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    _write(tmp_path, "README.md")
    _write(tmp_path, "assignments/a1/old/assignment1.ipynb")
    _write(tmp_path, "assignments/a3/gone/assignment3.ipynb")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def _commit(repo: Path) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change")
    return _git(repo, "rev-parse", "main~1")


def test_new_and_edited_student_folders_are_found_once(repo):
    _write(repo, "assignments/a2/ada/assignment2.ipynb")
    _write(repo, "assignments/a2/ada/helpers/attn.py")
    _write(repo, "assignments/a1/old/README.md", "new")
    base = _commit(repo)
    assert changed_submissions(base, repo=repo) == ["assignments/a1/old", "assignments/a2/ada"]


def test_files_outside_student_folders_are_ignored(repo):
    _write(repo, "README.md", "changed")
    _write(repo, "assignments/a2/notes.md")
    base = _commit(repo)
    assert changed_submissions(base, repo=repo) == []


def test_deleted_student_folders_are_not_graded(repo):
    _git(repo, "rm", "-rq", "assignments/a3/gone")
    base = _commit(repo)
    assert changed_submissions(base, repo=repo) == []


@pytest.mark.parametrize(("path", "folder"), [("submissions/a5/ivy/x.ipynb", "submissions/a5/ivy"),
                                              ("assignments/a1/bo", None), ("src/a1/bo/x", None)])
def test_submission_folder_of_a_path(path, folder):
    assert submission_folder(path) == folder


def _report(out: Path, student: str, score: float, **extra) -> None:
    folder = out / "a2" / student
    folder.mkdir(parents=True)
    report = {"student": student, "assignment": "a2", "option": None, "score": score, "max_score": 100,
              "checks": [{"status": "fail"}], "problems": [], **extra}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "report.md").write_text(f"## details for {student}\n")


def test_comment_starts_with_the_marker_and_lists_every_submission(tmp_path):
    _report(tmp_path, "ada", 71.5)
    _report(tmp_path, "bo", 0, problems=["assignment2.ipynb is not a valid notebook file"])
    text = summary(tmp_path)
    assert text.startswith(MARKER)
    assert "| a2/ada | 71.5 / 100 | 1 check(s) to fix |" in text
    assert "not a valid notebook file" in text and "## details for bo" in text


def test_comment_without_reports_says_nothing_was_graded(tmp_path):
    assert "nothing was graded" in summary(tmp_path)


def test_comment_fits_github(tmp_path):
    _report(tmp_path, "ada", 1)
    (tmp_path / "a2" / "ada" / "report.md").write_text("x" * 200_000)
    assert len(summary(tmp_path)) < 65_536


def test_the_comment_workflow_looks_for_the_same_marker():
    assert MARKER in (WORKFLOWS / "comment.yml").read_text()


def test_the_grading_workflow_has_no_write_permissions():
    text = (WORKFLOWS / "grade.yml").read_text()
    assert "permissions:\n  contents: read" in text and "secrets." not in text
