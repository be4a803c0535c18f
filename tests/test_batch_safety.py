"""No grade is ever lost: partial runs, a stopped run and a failed write keep every finished report."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from grader import report as report_module
from grader.cli import main, update_gradebook
from grader.grade import write_reports
from grader.report import write_text_atomic
from grader.results import CategoryScore, Report
from notebooks import write_notebook

REPO = Path(__file__).resolve().parent.parent
GUARD_S = 600  # only against a hang; nothing here asserts on time


def _saved_report(out: Path, assignment: str, student: str, score: float) -> Path:
    """A report folder as a finished grading leaves it, without grading anything."""
    report = Report(student, assignment, None, score, 100.0, (CategoryScore("Correctness", score, 40.0),), ())
    folder = out / assignment / student
    write_reports(report, folder, ("json",))
    return folder


def _gradebook(out: Path) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8"))}


def test_an_atomic_write_that_fails_half_way_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    write_text_atomic(path, "old")

    def disk_full(fd):
        raise OSError("No space left on device")

    monkeypatch.setattr(report_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(path, "new " * 10_000)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_the_gradebook_has_a_row_per_saved_report_and_skips_an_unreadable_one(tmp_path, capsys):
    out = tmp_path / "reports"
    _saved_report(out, "a1", "ada", 40)
    _saved_report(out, "a2", "bo", 30)
    (_saved_report(out, "a3", "cy", 20) / "report.json").write_text('{"student": "cy", "sco')
    (out / "a3" / "dee").mkdir(parents=True)
    (out / "a3" / "dee" / "report.json").write_text("[1, 2]")

    assert update_gradebook(out) == 2
    assert sorted(_gradebook(out)) == ["ada", "bo"]
    warnings = capsys.readouterr().err
    assert str(out / "a3" / "cy" / "report.json") in warnings and str(out / "a3" / "dee" / "report.json") in warnings


def test_regrading_one_student_keeps_every_other_row(tmp_path):
    out = tmp_path / "reports"
    for assignment, student, score in (("a1", "ada", 40), ("a1", "bo", 35), ("a2", "cy", 30)):
        _saved_report(out, assignment, student, score)
    update_gradebook(out)
    before = _gradebook(out)
    folder = tmp_path / "submissions" / "a1" / "bo"
    folder.mkdir(parents=True)
    (folder / "assignment1.ipynb").write_text('{"cells": [')  # graded at once: a zero with the reason

    assert main([str(folder), "--out", str(out)]) == 0

    after = _gradebook(out)
    assert sorted(after) == ["ada", "bo", "cy"]
    assert (after["bo"]["total"], after["bo"]["status"]) == ("0", "problem")
    for student in ("ada", "cy"):  # the regraded report adds columns, the kept rows are as they were
        assert {column: after[student][column] for column in before[student]} == before[student]


def _wait_for(condition, process: subprocess.Popen, what: str):
    """condition()'s first true value; fails if the grade process ends first."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"grade ended (exit {process.returncode}) before {what}:\n{process.communicate()}")
        time.sleep(0.1)
    pytest.fail(f"no {what}")


def _processes_below(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _is_kernel(process: psutil.Process) -> bool:
    try:
        return any("ipykernel_launcher" in part for part in process.cmdline())
    except psutil.Error:
        return False


def _holds(process: psutil.Process, hold: Path) -> bool:
    try:
        return any(str(hold) in part for part in process.cmdline())
    except psutil.Error:
        return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


WAIT_WHILE_HELD = "import os, time\nwhile os.path.exists({hold!r}):\n    time.sleep(0.1)"


@pytest.fixture
def two_submissions(tmp_path):
    """ann grades quickly. bob's kernel starts a helper process, then both wait as long as the file
    `hold` exists, so bob's grading never ends by itself while it does (the kernel must see the file:
    these runs use --sandbox none). The helper stands for what a notebook may start (DataLoader
    workers, a shell command): ipykernel exits when its parent dies, but what it started does not."""
    root, hold = tmp_path / "submissions", tmp_path / "hold"
    hold.touch()
    wait = WAIT_WHILE_HELD.format(hold=str(hold))
    write_notebook(root / "a1" / "ann" / "assignment1.ipynb", "x = 1")
    write_notebook(root / "a1" / "bob" / "assignment1.ipynb",
                   f"import subprocess, sys\nhelper = subprocess.Popen([sys.executable, '-c', {wait!r}])", wait)
    yield root, hold
    hold.unlink(missing_ok=True)  # whatever a failed test left running ends


def test_a_stopped_run_keeps_finished_reports_kills_its_kernels_and_resumes(two_submissions, tmp_path):
    root, hold = two_submissions
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "grader.cli", str(root), "--out", str(out), "-j", "1", "--sandbox", "none",
               "--cell-timeout", "300", "--budget", "600"]
    grade = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "a1" / "ann" / "fingerprint.txt").exists(), grade, "ann's report")
        _wait_for(lambda: any(_holds(p, hold) for p in _processes_below(grade.pid)), grade, "bob's helper")
        started = _processes_below(grade.pid)  # bob's grading child, its kernel and its helper
        assert any(map(_is_kernel, started))
        grade.send_signal(signal.SIGTERM)
        stdout, stderr = grade.communicate(timeout=GUARD_S)
    finally:
        if grade.poll() is None:
            grade.kill()

    assert grade.returncode == 128 + signal.SIGTERM, stderr
    assert "grade: stopped by SIGTERM" in stderr
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not [p for p in alive if _alive(p)], f"left running: {[p.cmdline() for p in alive if _alive(p)]}"
    for path in out.glob("*/*/report.json"):
        json.loads(path.read_text())  # every report left is whole
    assert not (out / "a1" / "bob" / "fingerprint.txt").exists()
    assert list(_gradebook(out)) == ["ann"]
    ann = (out / "a1" / "ann" / "report.json").read_text()

    hold.unlink()
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=GUARD_S)

    assert rerun.returncode == 0, rerun.stderr
    rows = {line.split()[0]: line for line in rerun.stdout.splitlines() if line.startswith("a1/")}
    assert rows["a1/ann"].endswith("(reused)") and not rows["a1/bob"].endswith("(reused)")
    assert (out / "a1" / "ann" / "report.json").read_text() == ann
    assert sorted(_gradebook(out)) == ["ann", "bob"]
