"""The class view: index.html, class-summary.json and the wide gradebooks, built from saved reports."""

import csv
import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from grader.classview import write_class_view
from grader.cli import main, saved_reports
from grader.grade import submission_version, write_reports
from grader.results import CategoryScore, CellResult, CheckResult, Report

HOSTILE = "<script>alert(1)"  # a folder name: no "/"
HOSTILE_MESSAGE = "<script>alert(1)</script>"
CHECKS = ("t.py::test_shape", "t.py::test_values", "t.py::test_mask")


def _check(cid: str, status: str, message: str = "") -> CheckResult:
    return CheckResult(cid, f"title of {cid}", status, message, category="Correctness", max_points=10.0)


def _save(out: Path, report: Report) -> None:
    """A report folder as a finished grading leaves it, without grading anything."""
    folder = out / (report.assignment + (f"-{report.option}" if report.option else "")) / report.student
    write_reports(report, folder, ("json",))


def _report(student, assignment, score, failing=(), review=(), option=None, cells=(), duration=1.0, message=""):
    checks = tuple(_check(c, "review" if c in review else "fail" if c in failing else "pass", message)
                   for c in CHECKS)
    categories = (CategoryScore("Correctness", score - 10, 40.0),
                  CategoryScore("Understanding", 10.0, 25.0, True, "README"))
    return Report(student, assignment, option, score, 65.0, categories, checks, cells=cells, duration_s=duration)


REPORTS = (
    _report("ada", "a2", 60, duration=12.5),
    _report("bo", "a2", 30, failing=CHECKS[:2]),
    _report("cy", "a2", 45, failing=CHECKS[1:2], review=CHECKS[2:], message="no mapping for `W_query`"),
    _report(HOSTILE, "a2", 15, failing=CHECKS, message=HOSTILE_MESSAGE, duration=99.0),
    _report("dee", "a5", 50, failing=CHECKS[:1], option="lora",
            cells=(CellResult(3, "timeout", 300.0, reason="ran past the 300 s cell timeout"),)),
)


@pytest.fixture
def out(tmp_path) -> Path:
    out = tmp_path / "reports"
    for report in REPORTS:
        _save(out, report)
    write_class_view(saved_reports(out), out)
    return out


def _summary(out: Path) -> dict[str, dict]:
    return {a["name"]: a for a in json.loads((out / "class-summary.json").read_text())["assignments"]}


def test_failure_rates_equal_those_counted_from_the_reports(out):
    summary = _summary(out)
    assert sorted(summary) == ["a2", "a5-lora"]
    for name, group in summary.items():
        peers = [r for r in REPORTS if name.startswith(r.assignment) and r.option == (name.partition("-")[2] or None)]
        assert group["count"] == len(peers)
        for rate in group["checks"]:
            ran = [(r.student, c.status) for r in peers for c in r.checks if c.id == rate["id"]]
            failed = sorted(student for student, status in ran if status == "fail")
            assert (rate["failed"], rate["total"], sorted(rate["students"])) == (len(failed), len(ran), failed)
            assert rate["rate"] == pytest.approx(len(failed) / len(ran))
    rates = [c["rate"] for c in summary["a2"]["checks"]]
    assert rates == sorted(rates, reverse=True) and summary["a2"]["checks"][0]["id"] == CHECKS[1]  # 3 of 4 failed it


def test_summary_has_histogram_stats_review_slowest_and_cut_cells(out):
    a2, a5 = _summary(out)["a2"], _summary(out)["a5-lora"]
    assert sum(b["count"] for b in a2["histogram"]) == a2["count"] == 4
    assert sum(b["count"] for b in a5["histogram"]) == a5["count"] == 1
    assert (a2["min"], a2["max"], a2["median"], a2["mean"]) == (15, 60, 37.5, 37.5)
    held = [(i["student"], i["name"]) for i in a2["review"] if i["name"].startswith("check")]
    assert held == [("cy", f"check {CHECKS[2]}")]
    assert len([i for i in a2["review"] if i["name"] == "category Understanding"]) == 4  # provisional everywhere
    assert [i["student"] for i in a2["slowest"]][:2] == [HOSTILE, "ada"]
    assert [(i["student"], i["name"], i["seconds"]) for i in a5["cut_cells"]] == [("dee", "cell 3", 300.0)]
    assert a2["cut_cells"] == []


def test_wide_gradebook_has_a_row_per_student_with_category_maxima(out):
    rows = list(csv.reader((out / "gradebook-a2.csv").open(encoding="utf-8")))
    assert rows[0] == ["student", "Correctness (40)", "Understanding (25)", "total", "max", "status", "commit",
                       "submitted"]
    by_student = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert sorted(by_student) == sorted(r.student for r in REPORTS if r.assignment == "a2")
    for report in REPORTS[:4]:
        row = by_student[report.student]
        assert float(row["total"]) == report.score
        assert float(row["Correctness (40)"]) + float(row["Understanding (25)"]) == report.score
    assert by_student["cy"]["status"] == "review" and by_student["ada"]["status"] == "provisional"
    assert (out / "gradebook-a5-lora.csv").exists()


class _Page(HTMLParser):
    """The links and script tags of a page."""

    def __init__(self):
        super().__init__()
        self.links, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.links += [value for name, value in attrs if name in ("href", "src") and not value.startswith("#")]


def test_index_lists_every_assignment_links_failing_students_and_escapes(out):
    html = (out / "index.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    assert 'id="a2"' in html and 'id="a5-lora"' in html and "<svg viewBox=" in html
    assert page.scripts == 0 and "<script>alert" not in html and "&lt;script&gt;" in html
    assert "a2/bo/report.html" in page.links and "a5-lora/dee/report.html" in page.links
    assert not [link for link in page.links if "://" in link or "<" in link]
    assert f"a2/{HOSTILE}/report.html" in map(unquote, page.links)  # the hostile name, quoted in the link
    for link in page.links:  # every link leads to a saved report
        assert (out / unquote(link)).with_name("report.json").exists()


def test_a_partial_regrade_rebuilds_the_class_view_from_all_reports(out, tmp_path):
    folder = tmp_path / "submissions" / "a2" / "eve"
    folder.mkdir(parents=True)
    (folder / "assignment2.ipynb").write_text('{"cells": [')  # broken: graded at once, no kernel

    assert main([str(folder), "--out", str(out)]) == 0

    summary = json.loads((out / "class-summary.json").read_text())
    assert summary["reports"] == len(REPORTS) + 1 and _summary(out)["a2"]["count"] == 5
    assert "eve" in (out / "index.html").read_text() and "dee" in (out / "index.html").read_text()
    students = [row["student"] for row in csv.DictReader((out / "gradebook-a2.csv").open(encoding="utf-8"))]
    assert sorted(students) == sorted(["ada", "bo", "cy", "eve", HOSTILE])


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_a_report_records_the_commit_and_time_of_the_submission_folder(tmp_path):
    """The wide gradebook's commit and submitted columns come from git, where the folder is in a checkout."""
    repo = tmp_path / "course"
    (repo / "assignments" / "a1" / "ada").mkdir(parents=True)
    (repo / "assignments" / "a1" / "ada" / "assignment1.ipynb").write_text("{}")
    (repo / "assignments" / "a1" / "ben").mkdir()
    (repo / "assignments" / "a1" / "ben" / "x.txt").write_text("ben")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "ada and ben")
    (repo / "assignments" / "a1" / "ben" / "x.txt").write_text("ben again")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "ben only")
    first, latest = _git(repo, "rev-list", "--reverse", "HEAD").split()
    ada = submission_version(repo / "assignments" / "a1" / "ada")
    assert ada["commit"] == first and ada["submitted"] == _git(repo, "log", "-1", "--format=%cI", first)
    assert submission_version(repo / "assignments" / "a1" / "ben")["commit"] == latest
    outside = tmp_path / "loose"
    outside.mkdir()
    assert submission_version(outside) == {}
    (repo / "assignments" / "a1" / "ada" / ".git").mkdir()  # a nested repository of the student's: not asked
    assert submission_version(repo / "assignments" / "a1" / "ada") == {}
