"""Grading children forked from the batch's fork server (grader/forkserver.py) grade exactly as a fresh
`python -m grader.grade` does, are killed with their kernels at their timeout, and a dead server falls
back to fresh processes."""

import json
import time

import psutil
import pytest

from grader import grade
from grader.grade import GradeOptions, grade_isolated
from grader.load import discover
from notebooks import write_notebook

QUICK = GradeOptions(cell_timeout=30, budget=120, formats=("json",), sandbox="none")
VARYING = {"duration_s", "seconds"}  # wall times differ from run to run


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    root = tmp_path_factory.mktemp("forked")
    write_notebook(root / "a1" / "ann" / "assignment1.ipynb", "import re\nx = 1",
                   "class SimpleTokenizerV1:\n    def __init__(self, vocab):\n        self.str_to_int = vocab\n")
    [found] = discover([root / "a1" / "ann"])
    return found


def test_a_forked_child_grades_like_a_fresh_process(submission, tmp_path, monkeypatch):
    forked = json.loads((grade_isolated(submission, tmp_path / "forked", QUICK, timeout=300) / "report.json")
                        .read_text())
    assert grade._server and grade._server[0].process.poll() is None, "the fork server did not start"
    monkeypatch.setenv("LLM_GRADER_NO_FORK", "1")
    fresh = json.loads((grade_isolated(submission, tmp_path / "fresh", QUICK, timeout=300) / "report.json")
                       .read_text())
    assert forked["checks"] and _stable(forked) == _stable(fresh)


def test_a_forked_child_past_its_timeout_is_killed_with_its_kernel(tmp_path):
    forever = "import time\nwhile True:\n    time.sleep(0.1)"
    write_notebook(tmp_path / "sub" / "a1" / "bob" / "assignment1.ipynb", forever)
    [bob] = discover([tmp_path / "sub" / "a1" / "bob"])
    server = grade._fork_server()
    before = {p.pid for p in psutil.Process(server.process.pid).children(recursive=True)}
    started = time.monotonic()
    folder = grade_isolated(bob, tmp_path / "out", GradeOptions(cell_timeout=300, budget=600, sandbox="none"),
                            timeout=20)
    assert time.monotonic() - started < 60
    report = json.loads((folder / "report.json").read_text())
    assert report["problems"] == ["the grader stopped after 20 s while grading this submission; see grader.log"]
    time.sleep(1)
    left = [p for p in psutil.Process(server.process.pid).children(recursive=True) if p.pid not in before]
    assert not [p.cmdline() for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_child_that_fails_says_so_and_a_dead_server_falls_back_to_fresh_processes(submission, tmp_path):
    log = (tmp_path / "log.txt").open("w")
    assert grade._run_child([str(tmp_path / "no-request.json"), str(tmp_path)], log, 120, tmp_path) == 1
    server = grade._fork_server()
    server.process.kill()
    server.process.wait()
    folder = grade_isolated(submission, tmp_path / "out", QUICK, timeout=300)
    report = json.loads((folder / "report.json").read_text())
    assert report["checks"] and not report["problems"]
    assert "the fork server stopped" in (folder / "grader.log").read_text()
    grade._server.clear()  # the next test starts a new one


@pytest.fixture(autouse=True)
def _own_server(monkeypatch):
    """Each test with its own fork server (module state), closed after it."""
    monkeypatch.delenv("LLM_GRADER_NO_FORK", raising=False)
    monkeypatch.setattr(grade, "_server", [])
    yield
    for server in grade._server:
        server.close()


def test_fork_is_skipped_where_asked(monkeypatch):
    monkeypatch.setenv("LLM_GRADER_NO_FORK", "1")
    assert grade._fork_server() is None
