"""Gradescope export: results.json per the autograder specification, and examples/gradescope/run_autograder."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from grader.assignments import all_assignments
from grader.evidence import Signal
from grader.load import submissions_in_folder
from grader.render import gradescope_results
from grader.results import CheckResult, Report
from grader.rubric import Rubric, load_rubric
from grader.score import score

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "submissions"
RUN_AUTOGRADER = ROOT / "examples" / "gradescope" / "run_autograder"
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def _samples() -> list[tuple[str, dict]]:
    """(path, entry) for every sample listed in submissions/*/expected*.toml (as tests/test_samples.py grades them)."""
    return [(entry["path"], entry) for expected in sorted(SAMPLES.glob("*/expected*.toml"))
            for entry in tomllib.loads(expected.read_text())["sample"]]


def _fails(pattern: str, fails: list[str]) -> bool:
    """Whether a rubric check pattern and one of a sample's `fails` patterns name the same check."""
    return any(fnmatchcase(f.replace("*", ""), pattern) or fnmatchcase(pattern.replace("*", ""), f) for f in fails)


def _report(rubric: Rubric, status_of, student: str = "ada", signal: float = 1 / 3) -> Report:
    """A report scored from the rubric: one check per rubric pattern (status from `status_of(pattern,
    index)`), every signal and README item measured at `signal` (fractional points)."""
    patterns = [p for c in rubric.categories for i in c.items
                for p in (*i.checks, *(p for e in i.exercises for p in e.checks))]
    checks = [CheckResult(p.replace("*", ""), f"check {k}", status_of(p, k), f"message {k} with `code`", "GELU", "4.3")
              for k, p in enumerate(dict.fromkeys(patterns))]
    signals = {i.id: Signal(i.id, signal, "measured") for c in rubric.categories for i in c.items
               if i.kind in ("signal", "readme")}
    scored = score(rubric, checks, signals)
    return Report(student, rubric.assignment, None, scored.score, rubric.max_score, scored.categories, scored.checks,
                  duration_s=12.6)


def _assert_valid(results: dict, report: Report) -> None:
    """The fields the specification requires, their types, and the invariants Gradescope relies on."""
    assert isinstance(results["score"], float) and results["score"] == round(report.score, 2)
    assert results["visibility"] in VISIBILITY and results["stdout_visibility"] in VISIBILITY
    assert results["output_format"] == "md" and isinstance(results["output"], str)
    assert isinstance(results["execution_time"], int)
    assert [t["name"] for t in results["tests"]] == [c.name for c in report.categories]
    for test in results["tests"]:
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test["output_format"] == "md" and test["visibility"] in VISIBILITY and isinstance(test["output"], str)
        assert round(test["score"], 2) == test["score"]
    assert round(sum(t["score"] for t in results["tests"]), 2) == results["score"]
    assert sum(t["max_score"] for t in results["tests"]) == report.max_score
    json.dumps(results, allow_nan=False)


@pytest.mark.parametrize("path, entry", _samples(), ids=[p for p, _ in _samples()])
def test_every_sample_report_gives_valid_results_whose_tests_add_up(path, entry):
    submission = submissions_in_folder(SAMPLES / path)[0]
    rubric = load_rubric(submission.assignment, submission.option)
    fails = entry.get("fails", []) if entry["verdict"] != "correct" else []
    report = _report(rubric, lambda p, k: "fail" if _fails(p, fails) else "pass", student=submission.student)
    _assert_valid(gradescope_results(report), report)


@pytest.mark.parametrize("entry", all_assignments(), ids=lambda e: e.name)
def test_held_checks_and_fractional_points_are_labelled_and_add_up(entry):
    rubric = load_rubric(entry.assignment, entry.option)
    report = _report(rubric, lambda p, k: ("pass", "review", "fail", "skip", "pass", "error", "pass")[k % 7],
                     signal=0.37)
    results = gradescope_results(report)
    _assert_valid(results, report)
    outputs = "\n".join(t["output"] for t in results["tests"])
    assert "held for review" in outputs and "**Provisional:**" in outputs
    assert any(round(t["score"]) != t["score"] for t in results["tests"])  # fractional points survive
    for test in results["tests"]:
        marks = [line.split(":")[0] for line in test["output"].splitlines()
                 if line.startswith("- ") and "**check" in line]
        assert marks == sorted(marks, key=lambda m: ("❌" not in m, "held" not in m, "✅" not in m))  # failing first


def test_category_scores_rounded_apart_still_sum_to_the_total():
    report = _report(load_rubric("a3"), lambda p, k: "pass" if k % 3 else "fail", signal=1 / 7)
    report = Report(**{**report.__dict__, "score": round(sum(c.score for c in report.categories) + 0.004, 2)})
    results = gradescope_results(report)
    assert round(sum(t["score"] for t in results["tests"]), 2) == results["score"] == report.score


def _run_autograder(tmp_path: Path, files: dict[str, str]) -> dict:
    """Run run_autograder in a scratch AUTOGRADER_ROOT whose submission holds `files`; its results.json."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADE": grade}
    subprocess.run(["bash", str(RUN_AUTOGRADER)], env=env, check=True, capture_output=True, timeout=300)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["tests"] is not None and isinstance(results["score"], float)
    return results


def test_run_autograder_reports_a_broken_notebook(tmp_path):
    results = _run_autograder(tmp_path, {"assignment2.ipynb": "{not json", "README.md": "# me"})
    assert results["score"] == 0.0 and "not a valid notebook" in results["output"]
    assert [t["name"] for t in results["tests"]] == ["Correctness", "Code Quality", "Understanding", "Completeness"]
    assert round(sum(t["score"] for t in results["tests"]), 2) == 0.0


def test_run_autograder_without_a_notebook_still_writes_results(tmp_path):
    results = _run_autograder(tmp_path, {"README.md": "# no notebook here"})
    assert results == {**results, "score": 0.0, "tests": [], "output_format": "md", "visibility": "visible"}
    assert "could not be graded" in results["output"] and "no submissions found" in results["output"]
