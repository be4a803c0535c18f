"""The bundled sample submissions get the verdicts listed in submissions/<assignment>/expected.toml.

Correct samples pass every check (exercises they did not attempt may skip); each flawed
sample fails the checks its bug should trip, only checks of the components it names fail,
and everything else passes.
"""

import fnmatch
import html
import json
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.grade import GradeOptions, grade_isolated
from grader.load import discover
from notebooks import student_pytest

ROOT = Path(__file__).resolve().parent.parent / "submissions"
SAMPLES = [s for f in sorted(ROOT.glob("*/expected*.toml")) for s in tomllib.loads(f.read_text())["sample"]]


def _grade(path: str, out: Path) -> dict:
    [submission] = discover([ROOT / path])
    folder = grade_isolated(submission, out, GradeOptions(cell_timeout=60, budget=300), timeout=600)
    report = json.loads((folder / "report.json").read_text())
    report["_html"] = (folder / "report.html").read_text()  # for the HTML test; not part of the contract
    return report


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory):
    """Reports of the samples this run selected, graded two at a time (each in its own process and kernel)."""
    sys.path.insert(0, str(ROOT))
    from builder import samples
    from builder.core import generated_missing
    missing = generated_missing(samples(), ROOT)
    if missing:
        pytest.fail(f"{len(missing)} samples lack their generated modules (e.g. {missing[0]}): run "
                    f"`.venv/bin/python submissions/build.py --modules` (bash .ci/install runs it)", pytrace=False)
    out = tmp_path_factory.mktemp("reports")
    wanted = dict.fromkeys(item.callspec.params["sample"]["path"] for item in request.session.items
                           if item.path == request.path
                           and "sample" in getattr(getattr(item, "callspec", None), "params", {}))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {path: pool.submit(_grade, path, out) for path in wanted}

        def report(path: str) -> dict:
            if path not in futures:
                futures[path] = pool.submit(_grade, path, out)
            return futures[path].result()

        yield report


def _by_status(report: dict, *statuses: str) -> list[dict]:
    return [c for c in report["checks"] if c["status"] in statuses]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["path"] for s in SAMPLES])
def test_sample_gets_its_verdict(graded, sample):
    report = graded(sample["path"])
    assert not report["problems"], report["problems"]
    assert report["bindings"], "every report records how the components were found and bound"
    failed = _by_status(report, "fail", "error")
    if sample["verdict"] == "correct":
        assert failed == [], [(c["id"], c["message"]) for c in failed]
        correctness = next(c for c in report["categories"] if c["name"] in ("Correctness", "Implementation"))
        assert correctness["score"] == correctness["max_score"]
        return
    for pattern in sample["fails"]:
        matching = [c for c in report["checks"] if fnmatch.fnmatchcase(c["id"], pattern)]
        assert matching and all(c["status"] == "fail" for c in matching), (pattern, matching)
    assert {c["component"] for c in failed} <= set(sample["components"]), [(c["id"], c["message"]) for c in failed]


def _first_flawed(assignment: str) -> dict:
    return next(s for s in SAMPLES if s["path"].startswith(f"{assignment}/") and s["verdict"] == "flawed")


@pytest.mark.parametrize("assignment", ["a1", "a2", "a3"])
def test_plain_pytest_shows_the_message_the_report_shows(graded, assignment):
    """A student running the suite locally reads the same failure message the grader's report holds."""
    sample = _first_flawed(assignment)
    suite = Path(__file__).resolve().parent.parent / "student_tests" / assignment
    result = student_pytest(suite, ROOT / sample["path"])
    assert result.returncode == 1, result.stdout[-3000:]
    failed = _by_status(graded(sample["path"]), "fail")
    assert failed and all(c["message"].splitlines()[0] in result.stdout for c in failed)


@pytest.mark.parametrize("assignment", ["a2"])
def test_plain_pytest_passes_on_the_correct_sample(assignment):
    sample = next(s for s in SAMPLES if s["path"].startswith(f"{assignment}/") and s["verdict"] == "correct")
    suite = Path(__file__).resolve().parent.parent / "student_tests" / assignment
    result = student_pytest(suite, ROOT / sample["path"])
    assert result.returncode == 0, result.stdout[-3000:]


def test_html_report_of_a_flawed_sample_shows_the_failing_check_and_the_loss_plot(graded):
    """The instructor's and student's page: the failed check's message and the smoke-test loss curve, inline."""
    sample = next(s for s in SAMPLES if s["path"] == "a5/max-lora-b-random")
    report = graded(sample["path"])
    page = report["_html"]
    failed = _by_status(report, "fail")
    assert failed and all(c["title"] in html.unescape(page) for c in failed)
    assert "<polyline" in page and "LoRA smoke test" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
