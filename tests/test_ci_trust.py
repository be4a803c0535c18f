"""A pull request cannot change its own grade: the CI scripts run on a throw-away course repository.

.github/scripts/grade-pull-request.sh grades a pull request that also adds a fake grader and
other import hijacks; .github/scripts/post-comment.sh posts with a stand-in `gh` that answers
from canned GitHub API JSON and records what was sent.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.ci import MARKER, summary
from tests.test_ci import _git, _write

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / ".github" / "scripts"
VENV_BIN = Path(sys.executable).parent  # where the installed `grade` and this python live
SAMPLE = ROOT / "submissions" / "a1" / "ada-correct"
FORGED = "| a1/ada | 100 / 100 | FORGED |"

needs_tools = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("jq")), reason="needs bash and jq")


def _hijacks(pwned: Path) -> dict[str, str]:
    """Files a pull request adds at its root to run its own code in the grader's place."""
    pwn = f"import pathlib; pathlib.Path({str(pwned)!r}).write_text('PWNED'); print('PWNED')\n"
    forge = pwn + f"print({MARKER + chr(10) + FORGED!r})\n"
    return {"grader/__init__.py": pwn, "grader/ci.py": forge, "grader/cli.py": forge, "grader/grade.py": forge,
            "grade.py": forge, "sitecustomize.py": pwn, "ipykernel_launcher.py": pwn,
            "torch/__init__.py": pwn + "raise ImportError('PWNED')\n"}


def _course_with_pull_request(repo: Path, pwned: Path) -> str:
    """A course repository whose last commit adds ada's a1 submission and the hijacks; returns the base commit."""
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    _write(repo, "README.md")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    for path, text in _hijacks(pwned).items():
        _write(repo, path, text)
    shutil.copytree(SAMPLE, repo / "assignments" / "a1" / "ada")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "pull request")
    return _git(repo, "rev-parse", "HEAD~1")


def _table(comment: str) -> str:
    return comment.split("\n---\n")[0]


def _outcome(report_json: Path) -> tuple:
    report = json.loads(report_json.read_text())
    return (report["score"], [c["score"] for c in report["categories"]],
            [(c["id"], c["status"]) for c in report["checks"]])


def test_a_pull_request_that_adds_a_fake_grader_gets_the_honest_grade(tmp_path):
    pwned, course, out = tmp_path / "pwned", tmp_path / "course", tmp_path / "reports"
    base = _course_with_pull_request(course, pwned)
    # The worst case: started in the checkout, with the checkout on PYTHONPATH.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(course)}
    ci = subprocess.run(["bash", str(SCRIPTS / "grade-pull-request.sh"), base, str(course), str(out)],
                        cwd=course, env=env, capture_output=True, text=True, check=False)
    assert ci.returncode == 0, ci.stderr

    clean = tmp_path / "clean"  # the same submission graded directly, far from the pull request
    shutil.copytree(SAMPLE, clean / "assignments" / "a1" / "ada")
    subprocess.run([str(VENV_BIN / "grade"), "assignments/a1/ada", "--out", "out"], cwd=clean, check=True,
                   capture_output=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})

    comment = (out / "comment.md").read_text()
    assert _outcome(out / "a1" / "ada" / "report.json") == _outcome(clean / "out" / "a1" / "ada" / "report.json")
    assert comment.startswith(MARKER) and _table(comment) == _table(summary(clean / "out"))
    logs = [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    assert not pwned.exists() and not any("PWNED" in text or "FORGED" in text for text in [ci.stdout, ci.stderr, *logs])


# --- posting the comment -------------------------------------------------------------------------

FAKE_GH = """\
#!{python}
import json, os, sys
args = sys.argv[2:]  # after "api"
method = args[args.index("-X") + 1] if "-X" in args else "GET"
body = json.load(open(args[args.index("--input") + 1])) if "--input" in args else None
url = next(a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in ("-X", "--input")))
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps({{"method": method, "url": url, "body": body}}) + "\\n")
if method == "GET":
    print(json.dumps(json.load(open(os.environ["FAKE_GH_API"]))[url.split("?")[0]]))
"""
HEAD = "c0ffee" * 6 + "c0ff"


def _pull(number: int, sha: str = HEAD, repo: str = "student/course", changed: int = 2) -> dict:
    return {"number": number, "head": {"sha": sha, "repo": {"full_name": repo}}, "changed_files": changed}


def _comment(id_: int, login: str, body: str) -> dict:
    return {"id": id_, "user": {"login": login}, "body": body}


@pytest.fixture
def post(tmp_path):
    """post(event_pulls, api, comment_md) runs post-comment.sh; returns its result and the requests it made."""

    def run(event_pulls: list, api: dict, comment_md: str = f"{MARKER}\nhonest\n"):
        bin_dir, reports = tmp_path / "bin", tmp_path / "reports"
        bin_dir.mkdir(exist_ok=True)
        reports.mkdir(exist_ok=True)
        (bin_dir / "gh").write_text(FAKE_GH.format(python=sys.executable))
        (bin_dir / "gh").chmod(0o755)
        (reports / "comment.md").write_text(comment_md)
        (reports / "pr-number.txt").write_text("99\n")  # the artifact's word, which must not count
        event = {"workflow_run": {"head_sha": HEAD, "head_branch": "main",
                                  "head_repository": {"full_name": "student/course"}, "pull_requests": event_pulls}}
        (tmp_path / "event.json").write_text(json.dumps(event))
        (tmp_path / "api.json").write_text(json.dumps({f"repos/course/repo/{k}": v for k, v in api.items()}))
        log = tmp_path / "gh.log"
        log.write_text("")
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "REPO": "course/repo",
               "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "FAKE_GH_LOG": str(log),
               "FAKE_GH_API": str(tmp_path / "api.json")}
        result = subprocess.run(["bash", str(SCRIPTS / "post-comment.sh"), str(reports)],
                                env=env, capture_output=True, text=True, check=False)
        writes = [r for r in map(json.loads, log.read_text().splitlines()) if r["method"] != "GET"]
        return result, writes

    return run


def _api(number: int, comments: list, files: tuple = ("assignments/a1/ada/assignment1.ipynb",), **pull) -> dict:
    return {f"pulls/{number}": _pull(number, **pull), f"pulls/{number}/files": [{"filename": f} for f in files],
            f"issues/{number}/comments": comments}


@needs_tools
def test_the_pull_request_comes_from_the_event_and_only_the_bots_comment_is_updated(post):
    comments = [_comment(1, "mallory", f"{MARKER}\nmallory's fake grade"), _comment(2, "github-actions[bot]", "other"),
                _comment(3, "github-actions[bot]", f"{MARKER}\nold grade")]
    result, writes = post([{"number": 7}], _api(7, comments))
    assert result.returncode == 0, result.stderr
    assert writes == [{"method": "PATCH", "url": "repos/course/repo/issues/comments/3",
                       "body": {"body": f"{MARKER}\nhonest\n"}}]


@needs_tools
def test_a_fork_pull_request_is_found_by_its_head_commit_and_an_oversized_comment_is_cut(post):
    api = {"pulls": [_pull(5, sha="other"), _pull(8), _pull(9, repo="someone/else")], **_api(8, [])}
    result, writes = post([], api, comment_md="é" * 70_000)
    assert result.returncode == 0, result.stderr
    assert [(w["method"], w["url"]) for w in writes] == [("POST", "repos/course/repo/issues/8/comments")]
    assert writes[0]["body"]["body"].startswith(MARKER) and len(writes[0]["body"]["body"]) == 65_536


@needs_tools
def test_a_pull_request_that_changes_github_gets_a_notice_not_its_artifact(post):
    result, writes = post([{"number": 7}],
                          _api(7, [], files=("assignments/a1/ada/x.py", ".github/workflows/grade.yml")))
    assert result.returncode == 0, result.stderr
    posted = writes[0]["body"]["body"]
    assert posted.startswith(MARKER) and "not posted" in posted and "honest" not in posted


@needs_tools
def test_a_run_for_an_older_commit_posts_nothing(post):
    result, writes = post([{"number": 7}], _api(7, [], sha="newer"))
    assert result.returncode == 0 and writes == []
