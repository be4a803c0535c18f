"""Rendered reports: the Markdown comment, the self-contained HTML page, the gradebook and Gradescope export."""

import csv
import re
from html.parser import HTMLParser

from grader.render import gradescope_results, render_html, render_markdown, write_gradebook
from grader.results import CategoryScore, CheckResult, ItemScore, Plot, Report

FAILED = CheckResult("test_mha.py::test_matches", "On the reference's weights, outputs equal the reference's", "fail",
                     "`MultiHeadAttention` differs from the reference by up to 0.0072 <at index [1, 4]>",
                     "MultiHeadAttention", "3.6.2", "Correctness", 0.0, 10.0)
PASSED = CheckResult("test_mha.py::test_exists", "MultiHeadAttention exists", "pass", "", "MultiHeadAttention",
                     "3.6.2", "Completeness", 2.0, 2.0)


def _report(**changes) -> Report:
    fields = dict(
        student="ada", assignment="a2", option=None, score=42.0, max_score=100.0,
        categories=(CategoryScore("Correctness", 40.0, 40.0,
                                  items=(ItemScore("mha", "MultiHeadAttention", 40, 40, "4 of 4"),)),
                    CategoryScore("Understanding", 2.0, 25.0, True, "README: mentions causal")),
        checks=(FAILED, PASSED),
        plots=(Plot("training loss", "lines", {"yours": [3.0, 2.0, 1.5], "reference": [3.0, 2.1, 1.4]}),
               Plot("attention weights", "matrix", matrix=((1.0, 0.0), (0.4, 0.6)), labels=("Your", "journey"))),
    )
    return Report(**{**fields, **changes})


class _Resources(HTMLParser):
    """Every URL an HTML page would fetch: src/href attributes, and <script>/<link> tags."""

    def __init__(self):
        super().__init__()
        self.fetches = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "link", "img", "iframe") or "src" in attributes or "href" in attributes:
            self.fetches.append((tag, attributes))


def test_html_report_loads_nothing_from_the_network():
    parser = _Resources()
    page = render_html(_report())
    parser.feed(page)
    assert parser.fetches == []
    assert not re.search(r"url\(|@import", page)


def test_html_report_shows_the_failing_check_and_both_plots():
    page = render_html(_report())
    assert "On the reference&#39;s weights" in page and "differs from the reference by up to 0.0072" in page
    assert page.count("<svg") == 2 and "<polyline" in page and "training loss" in page


def test_html_escapes_student_text():
    page = render_html(_report(student="<script>alert(1)</script>"))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_markdown_lists_the_failed_check_with_its_section():
    text = render_markdown(_report())
    assert "#### MultiHeadAttention: On the reference's weights" in text and "Book section 3.6.2." in text
    assert text.startswith("## a2 · ada: 42 / 100 · 1 check to fix\n")


def test_markdown_stays_under_githubs_limit_whatever_was_printed():
    noisy = CheckResult("t.py::x", "x", "fail", "y" * 200_000, "GELU")
    assert len(render_markdown(_report(checks=tuple([noisy] * 50)))) < 65_536


def test_gradescope_export_has_the_total_and_a_test_per_category():
    results = gradescope_results(_report(categories=(*_report().categories, CategoryScore("Code Quality", 0.0, 25.0))))
    assert results["score"] == 42.0
    by_name = {t["name"]: t for t in results["tests"]}
    assert list(by_name) == ["Correctness", "Understanding", "Code Quality"]
    assert by_name["Understanding"]["max_score"] == 25.0 and "**Provisional:**" in by_name["Understanding"]["output"]


def test_gradebook_has_a_row_per_student_and_assignment(tmp_path):
    rows = [_report(), _report(student="bo", score=0.0, problems=("no notebook",))]
    write_gradebook(rows, tmp_path / "gradebook.csv")
    table = list(csv.DictReader((tmp_path / "gradebook.csv").open()))
    assert [(r["student"], r["total"], r["status"]) for r in table] == [("ada", "42", "provisional"),
                                                                        ("bo", "0", "problem")]
    assert table[0]["Correctness"] == "40"
