"""`grade --rescore`: a saved report scored again (overrides, rubric) without running its notebook."""

import csv
import dataclasses
import json
import shutil
import time
from pathlib import Path

import pytest

import grader.rubric as rubric_module
from grader import cli, grade
from grader.cli import main

REPO = Path(__file__).resolve().parent.parent
OPTIONS = ("--cell-timeout", "60", "--budget", "300")  # the grading's options: part of its fingerprint


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One real grading of a small a1 sample (the only kernel this module starts)."""
    root = tmp_path_factory.mktemp("rescore")
    shutil.copytree(REPO / "submissions" / "a1" / "ada-correct", root / "subs" / "a1" / "ada")
    out = root / "reports"
    assert main([str(root / "subs"), "--out", str(out), *OPTIONS]) == 0
    return root


@pytest.fixture
def batch(graded, tmp_path, monkeypatch):
    """A copy of the graded batch, where grading a notebook would fail the test."""
    shutil.copytree(graded, tmp_path / "b")

    def no_kernel(*args, **kwargs):
        raise AssertionError("a rescore ran the notebook")

    monkeypatch.setattr(cli, "grade_isolated", no_kernel)
    monkeypatch.setattr(grade.pytest, "main", no_kernel)
    return tmp_path / "b"


def _report(root: Path, student: str = "ada") -> dict:
    return json.loads((root / "reports" / "a1" / student / "report.json").read_text())


def _row(root: Path, student: str = "ada") -> dict:
    with (root / "reports" / "gradebook.csv").open(encoding="utf-8") as stream:
        return next(r for r in csv.DictReader(stream) if r["student"] == student)


def _category(report: dict, name: str) -> dict:
    return next(c for c in report["categories"] if c["name"] == name)


def _rescore(root: Path, *extra: str) -> int:
    return main([str(root / "subs"), "--out", str(root / "reports"), "--rescore", *OPTIONS, *extra])


def test_a_fresh_report_records_the_signals_a_rescore_needs(graded):
    report = _report(graded)
    assert report["rescored"] is False
    assert {"run_cleanly", "explain_tokenization"} & set(report["signals"]) or report["signals"]
    assert all({"id", "value", "evidence"} <= set(s) for s in report["signals"].values())


def test_an_override_is_applied_without_running_the_notebook(batch, capsys):
    before, row_before = _report(batch), _row(batch)
    stamp_before = (batch / "reports" / "a1" / "ada" / "fingerprint.txt").read_text()
    overrides = batch / "overrides.toml"
    overrides.write_text('[[override]]\nstudent = "ada"\nassignment = "a1"\ncategory = "Understanding"\n'
                         'points = 3\nreason = "README copied from the book"\n')
    started = time.monotonic()
    assert _rescore(batch, "--overrides", str(overrides)) == 0
    assert time.monotonic() - started < 10  # the grading itself took seconds more; see the check below
    after = _report(batch)
    assert _category(after, "Understanding")["score"] == 3
    assert "set by instructor (README copied from the book)" in _category(after, "Understanding")["note"]
    assert after["checks"] == before["checks"] and after["cells"] == before["cells"]
    assert after["duration_s"] == before["duration_s"] and after["signals"] == before["signals"]
    assert after["rescored"] is True and after["score"] == pytest.approx(
        before["score"] - _category(before, "Understanding")["score"] + 3)
    assert _row(batch)["Understanding"] == "3" and _row(batch)["total"] != row_before["total"]
    # nothing but the overrides changed: the report is what a fresh grading would give, and stays fresh
    stamp = (batch / "reports" / "a1" / "ada" / "fingerprint.txt").read_text()
    assert stamp.split(":")[:2] == stamp_before.split(":")[:2] and stamp != stamp_before
    assert "(rescored)" in capsys.readouterr().err
    assert "set by instructor" in (batch / "reports" / "a1" / "ada" / "report.md").read_text() + \
        (batch / "reports" / "a1" / "ada" / "report.html").read_text()
    # and a plain `grade` now reuses it instead of running the notebook
    assert main([str(batch / "subs"), "--out", str(batch / "reports"), *OPTIONS, "--overrides", str(overrides)]) == 0
    assert "(reused)" in capsys.readouterr().err


def test_a_rubric_change_is_rescored(batch, tmp_path, monkeypatch):
    before = _report(batch)
    found = rubric_module.find
    folder = tmp_path / "a1"
    shutil.copytree(found("a1").folder, folder)
    text = (folder / "rubric.toml").read_text()
    head, completeness = text.split('name = "Completeness"\npoints = 10')
    (folder / "rubric.toml").write_text(head + 'name = "Completeness"\npoints = 20' +
                                        completeness.replace("points = 6", "points = 12")
                                        .replace("points = 4", "points = 8"))
    monkeypatch.setattr(rubric_module, "find", lambda *key: dataclasses.replace(found(*key), folder=folder))
    assert _rescore(batch) == 0
    after = _report(batch)
    old, new = _category(before, "Completeness"), _category(after, "Completeness")
    assert (old["max_score"], new["max_score"]) == (10, 20)
    assert new["score"] == pytest.approx(2 * old["score"])
    assert after["max_score"] == before["max_score"] + 10 and after["checks"] != [] and \
        [c["status"] for c in after["checks"]] == [c["status"] for c in before["checks"]]
    assert _row(batch)["max_score"] == f"{before['max_score'] + 10:g}"


def test_a_changed_submission_is_rescored_but_no_longer_marked_fresh(batch, capsys):
    (batch / "subs" / "a1" / "ada" / "notes.txt").write_text("added after grading")
    assert _rescore(batch) == 0
    assert "the submission changed since its grading" in capsys.readouterr().err
    assert not (batch / "reports" / "a1" / "ada" / "fingerprint.txt").exists()


def test_submissions_without_a_usable_saved_report_are_graded_normally(batch, monkeypatch, capsys):
    graded = []

    def fake_grade(submission, out, options, *, timeout):
        graded.append(submission.student)
        folder = grade.report_dir(out, submission)
        grade.write_reports(grade._problem_report(submission, ["graded"], options, time.monotonic()), folder, ("json",))
        return folder

    monkeypatch.setattr(cli, "grade_isolated", fake_grade)
    (batch / "subs" / "a1" / "new").mkdir()  # no saved report
    saved = batch / "reports" / "a1" / "ada" / "report.json"
    old = json.loads(saved.read_text())
    del old["signals"]  # a report from before --rescore
    saved.write_text(json.dumps(old))
    (saved.parent / "fingerprint.txt").write_text("0" * 64)  # its fingerprint, in the format of then
    assert _rescore(batch) == 0
    assert sorted(graded) == ["ada", "new"]
    err = capsys.readouterr().err
    assert "(graded: no saved report)" in err and "(graded: its saved report predates --rescore)" in err
    assert _row(batch, "new")["total"] == "0"


def test_rescore_and_force_exclude_each_other(batch):
    with pytest.raises(SystemExit):
        _rescore(batch, "--force")
