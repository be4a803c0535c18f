"""End to end: `grade` on broken and hostile notebooks, the pytest plugin, reports and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.grade import GradeOptions, grade_submission
from grader.load import discover
from notebooks import write_notebook

MHA = "test_multihead_attention.py::test_matches_the_reference_on_the_same_weights"


def _report(out: Path, assignment: str, student: str) -> dict:
    return json.loads((out / assignment / student / "report.json").read_text())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One `grade` run over a hostile batch: a loop, a kernel exit, broken JSON, a missing notebook, a good one."""
    root = tmp_path_factory.mktemp("batch")
    write_notebook(root / "a2" / "loops" / "assignment2.ipynb", "x = 1", "while True:\n    pass", "y = 2")
    write_notebook(root / "a2" / "exits" / "assignment2.ipynb", "import os\nos._exit(3)", "z = 3")
    (root / "a2" / "garbled").mkdir(parents=True)
    (root / "a2" / "garbled" / "assignment2.ipynb").write_text('{"cells": [')
    (root / "a2" / "empty").mkdir(parents=True)
    source = (Path(__file__).resolve().parent.parent / "reference" / "ch03.py").read_text()
    write_notebook(root / "a2" / "good" / "assignment2.ipynb", source)
    out = root / "reports"
    assert main([str(root), "--out", str(out), "--cell-timeout", "10", "--budget", "120"]) == 0
    return out


def test_every_submission_in_the_batch_gets_a_report(batch):
    students = sorted(p.parent.name for p in batch.glob("a2/*/report.json"))
    assert students == ["empty", "exits", "garbled", "good", "loops"]
    assert all((batch / "a2" / s / "report.md").exists() for s in students)


def test_a_cell_that_loops_forever_is_cut_and_the_next_cell_runs(batch):
    cells = _report(batch, "a2", "loops")["cells"]
    assert [c["status"] for c in cells] == ["ok", "timeout", "ok"]
    assert "time limit" in " ".join(_report(batch, "a2", "loops")["warnings"])


def test_a_kernel_exit_is_recorded_and_grading_goes_on(batch):
    report = _report(batch, "a2", "exits")
    assert [c["status"] for c in report["cells"]] == ["kernel_died", "ok"]
    assert report["checks"], "checks still ran after the kernel was restarted"


def test_a_notebook_that_is_not_json_gets_a_zero_with_the_reason(batch):
    report = _report(batch, "a2", "garbled")
    assert report["score"] == 0 and "not a valid notebook file" in report["problems"][0]
    assert {c["name"] for c in report["categories"]} >= {"Correctness", "Completeness"}


def test_a_folder_without_a_notebook_gets_a_zero_with_the_reason(batch):
    report = _report(batch, "a2", "empty")
    assert report["score"] == 0 and "assignment2.ipynb" in report["problems"][0]


def test_a_good_notebook_in_the_same_batch_still_passes(batch):
    report = _report(batch, "a2", "good")
    check = next(c for c in report["checks"] if c["id"] == MHA)
    assert check["status"] == "pass" and report["score"] > 0


def test_report_json_follows_the_contract(batch):
    report = _report(batch, "a2", "good")
    assert {"student", "assignment", "option", "score", "max_score", "categories", "checks", "cells",
            "duration_s", "grader_version", "environment", "schema_version"} <= set(report)
    assert ({"id", "title", "component", "category", "status", "points", "max_points", "message"}
            <= set(report["checks"][0]))
    assert {"index", "status", "seconds"} <= set(report["cells"][0])
    assert {"torch", "device", "hypothesis_profile"} <= set(report["environment"])


def test_missing_components_fail_with_a_hint_to_map_names(tmp_path):
    path = write_notebook(tmp_path / "a2" / "kim" / "assignment2.ipynb", "x = 1")
    [submission] = discover([path])
    report = grade_submission(submission, GradeOptions(cell_timeout=10))
    check = next(c for c in report.checks if c.id == MHA)
    assert check.status == "fail" and "GRADER_NAMES" in check.message


def test_student_suite_skips_without_a_submission():
    suite = Path(__file__).resolve().parent.parent / "student_tests" / "a2"
    result = subprocess.run([sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider", "-rs"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "--submission" in result.stdout and "skipped" in result.stdout


def test_grade_version_and_help_do_not_crash(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and "grade" in capsys.readouterr().out


def test_regrading_an_unchanged_batch_reuses_identical_reports(batch, capsys):
    before = {p: p.read_text() for p in batch.glob("a2/*/report.json")}
    root = batch.parent
    assert main([str(root), "--out", str(batch), "--cell-timeout", "10", "--budget", "120"]) == 0
    assert "(reused)" in capsys.readouterr().err
    assert {p: p.read_text() for p in batch.glob("a2/*/report.json")} == before


def test_every_category_has_a_score_and_the_gradebook_a_row(batch):
    import csv

    rows = list(csv.DictReader((batch / "gradebook.csv").open()))
    assert sorted(r["student"] for r in rows) == ["empty", "exits", "garbled", "good", "loops"]
    report = _report(batch, "a2", "good")
    assert [c["name"] for c in report["categories"]] == ["Correctness", "Code Quality", "Understanding", "Completeness"]
    assert all(isinstance(c["score"], (int, float)) for c in report["categories"])
    assert (batch / "a2" / "good" / "report.html").exists()


def test_grading_draws_the_same_examples_whatever_local_modules_are_loaded(tmp_path, monkeypatch):
    """Hypothesis mixes literals of loaded local modules into its draws; the grading profile must not."""
    from hypothesis.internal.conjecture import providers

    from grader.plugin import draw_without_local_constants

    monkeypatch.setattr(providers, "_get_local_constants", providers._get_local_constants)
    (tmp_path / "local_constants_module.py").write_text("MAGIC = 987654321\nNAME = 'zebra-constant'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("local_constants_module")
    draw_without_local_constants()
    assert len(providers._get_local_constants()) == 0
