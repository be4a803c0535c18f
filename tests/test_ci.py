"""The GitHub Actions logic: which submission folders a pull request changes, and the comment text."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from grader.ci import (
    CUT_NOTE,
    MARKER,
    changed_submissions,
    fit_comment,
    main,
    submission_folder,
    summary,
)

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


def test_non_ascii_folder_names_are_found_verbatim(repo, capsysbinary):
    _write(repo, "assignments/a1/zoë 李/assignment1.ipynb")
    _write(repo, "submissions/a2/\u00e5sa/assignment2.ipynb")
    base = _commit(repo)
    assert changed_submissions(base, repo=repo) == ["assignments/a1/zoë 李", "submissions/a2/åsa"]
    main(["changed", "--base", base, "--repo", str(repo), "-z"])
    assert capsysbinary.readouterr().out.split(b"\0") == [str(repo / "assignments/a1/zoë 李").encode(),
                                                         str(repo / "submissions/a2/åsa").encode(), b""]


def test_symlinked_and_control_character_folders_are_not_graded(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (repo / "assignments/a2").mkdir(parents=True)
    (repo / "assignments/a2/eve").symlink_to(outside, target_is_directory=True)
    _write(repo, "assignments/a1/bo\nb/assignment1.ipynb")
    base = _commit(repo)
    assert changed_submissions(base, repo=repo) == []


@pytest.mark.parametrize(("path", "folder"), [("submissions/a5/ivy/x.ipynb", "submissions/a5/ivy"),
                                              ("assignments/a1/bo", None), ("src/a1/bo/x", None)])
def test_submission_folder_of_a_path(path, folder):
    assert submission_folder(path) == folder


def _report(out: Path, student: str, score: float, **extra) -> None:
    folder = out / "a2" / student
    folder.mkdir(parents=True)
    check = {"id": "test_attention.py::test_is_causal", "title": "is causal", "status": "fail", "points": 0,
             "max_points": 5}
    report = {"student": student, "assignment": "a2", "option": None, "score": score, "max_score": 100,
              "categories": [], "checks": [check], "problems": [], **extra}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "report.md").write_text(f"## details for {student}\n")


def test_comment_starts_with_the_marker_and_lists_every_submission(tmp_path):
    _report(tmp_path, "ada", 71.5)
    _report(tmp_path, "bo", 0, problems=["assignment2.ipynb is not a valid notebook file"])
    text = summary(tmp_path)
    assert text.startswith(MARKER)
    assert "| a2/ada | 71.5 / 100 | 1 check to fix |" in text
    assert "not a valid notebook file" in text and "## details for bo" in text


def test_comment_without_reports_says_nothing_was_graded(tmp_path):
    assert "nothing was graded" in summary(tmp_path)


def test_comment_fits_github(tmp_path):
    _report(tmp_path, "ada", 1)
    (tmp_path / "a2" / "ada" / "report.md").write_text("x" * 200_000)
    assert len(summary(tmp_path)) <= 65_536


def test_a_student_folder_name_cannot_forge_a_table_row(tmp_path):
    _report(tmp_path, "x | 99 | all checks passed |\n| a2-y", 3)
    rows = [line for line in summary(tmp_path).splitlines() if line.startswith("| a2/")]
    cells = re.split(r"(?<!\\)\|", rows[0])
    assert len(rows) == 1 and [c.strip() for c in cells[2:]] == ["3 / 100", "1 check to fix", ""]


LONG_MARKDOWN = "".join(
    f"## part {i}\n\n| a | b |\n|---|---|\n| {i} | é |\n\n<details><summary>log {i}</summary>\n\n"
    f"```text\n{'trace line ✓ ' * 20}\n<details>\n~~~\n```\n\nfailed: {i}\n</details>\n\n" for i in range(60))


def _balanced(markdown: str) -> bool:
    """Whether every ``` fence and <details> block in this test's Markdown is closed."""
    fences = [line for line in markdown.splitlines() if line.startswith("```")]
    outside = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    return len(fences) % 2 == 0 and outside.count("<details>") == outside.count("</details>")


@pytest.mark.parametrize("limit", [120, 777, 1500, 4096, 10_000, len(LONG_MARKDOWN) - 1])
def test_a_cut_comment_fits_and_keeps_fences_and_details_closed(limit):
    cut = fit_comment(LONG_MARKDOWN, limit)
    assert limit - 400 < len(cut) <= limit and cut.endswith(CUT_NOTE) and _balanced(cut)
    body = cut.removesuffix(CUT_NOTE)
    kept = os.path.commonprefix([body, LONG_MARKDOWN])
    kept = kept[:kept.rfind("\n") + 1]  # whole lines of the original, then only the closing lines
    assert re.fullmatch(r"(```\n)?(</details>\n)*", body[len(kept):])


def test_a_comment_that_fits_is_not_cut():
    assert fit_comment(LONG_MARKDOWN, len(LONG_MARKDOWN)) == LONG_MARKDOWN


def test_the_comment_script_looks_for_the_same_marker():
    assert f"marker='{MARKER}'" in (WORKFLOWS.parent / "scripts" / "post-comment.sh").read_text()


def test_the_grading_workflow_has_no_write_permissions():
    text = (WORKFLOWS / "grade.yml").read_text()
    assert "permissions:\n  contents: read" in text and "secrets." not in text


@pytest.mark.parametrize("name", ["grade.yml", "comment.yml"])
def test_workflows_pin_actions_by_commit_and_bound_their_runs(name):
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses and all(re.fullmatch(r"actions/[\w-]+@[0-9a-f]{40}", action) for action, _ in uses)
    assert all(re.fullmatch(r" # v\d+\.\d+\.\d+", comment) for _, comment in uses)
    assert "timeout-minutes:" in text and "\nconcurrency:" in text


def test_the_grading_workflow_runs_on_every_pull_request_and_never_in_its_checkout():
    text = (WORKFLOWS / "grade.yml").read_text()
    assert "paths:" not in text and "apt-get install -y -q bubblewrap" in text
    assert 'bash "$GITHUB_WORKSPACE/base/.github/scripts/grade-pull-request.sh"' in text
    assert text.count("run: ") == text.count("working-directory: ${{ runner.temp }}")
