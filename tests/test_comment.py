"""What staff and students see first: failures grouped by root cause, ordered by points lost, unscored
checks labelled and last, the first cause expanded, a "Start here" line, and the same in the PR comment."""

import json
import re
from dataclasses import asdict, replace

import pytest

from grader.ci import _blocks_after, summary
from grader.comment import points_lost, to_look_at
from grader.render import render_markdown
from grader.results import CategoryScore, CheckResult, Report

SHARED = "GELU is not defined: add `class GELU(nn.Module)` <before> the model"
NINE = tuple(CheckResult(f"test_gelu.py::test_{i}", f"GELU check {i}", "error", SHARED, "GELU", "4.3", "Correctness",
                         0.0, 2.0)
             for i in range(9))
EXERCISE = CheckResult("test_a_exercises.py::test_ex_4_1", "Exercise 4.1 prints the parameter count", "fail",
                       "NameError: name 'total_params' is not defined", "Exercise 4.1", "4.1", None, 0.0, 0.0)
BIG = CheckResult("test_mha.py::test_matches", "On the reference's weights, outputs equal the reference's", "fail",
                  "`MultiHeadAttention` differs from the reference by up to 0.0072 <at index [1, 4]>\nsecond line",
                  "MultiHeadAttention", "3.6.2", "Correctness", 5.0, 30.0)
HELD = CheckResult("test_train.py::test_curve", "The loss curve falls", "review", "needs a <b>person</b> to judge",
                   "Training", "5.2", "Correctness", 0.0, 4.0)
PASSED = CheckResult("test_mha.py::test_exists", "MultiHeadAttention exists", "pass", "", "MultiHeadAttention",
                     "3.6.2", "Completeness", 2.0, 2.0)


def _report(checks, **changes) -> Report:
    fields = {"student": "ada", "assignment": "a2", "option": None, "score": 45.0, "max_score": 100.0,
              "categories": (CategoryScore("Correctness", 45.0, 100.0),), "checks": tuple(checks)}
    return Report(**{**fields, **changes})


def _mixed() -> Report:
    # The 0-point exercise check comes first in test-file order; it must not lead.
    return _report((EXERCISE, *NINE, BIG, HELD, PASSED))


def _what_to_fix(text: str) -> str:
    return text[text.index("### What to fix"):text.index("### Held for review")]


def _balanced(text: str) -> bool:
    fence, depth = None, 0
    for line in text.splitlines():
        fence, depth = _blocks_after(line, fence, depth)
    return fence is None and depth == 0 and text.count("<details>") == text.count("</details>")


def test_nine_checks_with_one_message_are_one_entry_listing_all_nine():
    section = _what_to_fix(render_markdown(_mixed()))
    assert section.count(SHARED) == 1 and "```\n" + SHARED + "\n```" in section  # once, in a code fence
    assert all(f"`test_gelu.py::test_{i}`" in section for i in range(9))
    assert "one cause behind 9 checks (18 points lost)" in section
    assert "### What to fix (11 checks, 3 causes" in section


def test_causes_are_ordered_by_points_lost_and_unscored_come_last():
    section = _what_to_fix(render_markdown(_mixed()))
    big, gelu, exercise = (section.index(s) for s in ("MultiHeadAttention", "one cause behind 9", "Exercise 4.1"))
    assert big < gelu < exercise
    assert "<b>Exercise 4.1</b>: Exercise 4.1 prints the parameter count (unscored)</summary>" in section


def test_the_first_cause_is_expanded_and_the_rest_collapsed():
    section = _what_to_fix(render_markdown(_mixed()))
    before_first_details = section.split("<details>")[0]
    assert "#### MultiHeadAttention: On the reference's weights" in before_first_details
    assert "(25 points lost)" in before_first_details and "differs from the reference" in before_first_details
    assert section.count("<details>") == 2  # GELU and the exercise


def test_start_here_names_the_top_cause_with_its_first_line_escaped():
    text = render_markdown(_mixed())
    start = [line for line in text.splitlines() if line.startswith("**Start here:**")]
    assert start == [("**Start here:** **MultiHeadAttention** (`test_mha.py::test_matches`, 25 points lost): "
                      "`MultiHeadAttention` differs from the reference by up to 0.0072 &lt;at index [1, 4]&gt;")]
    assert text.index("**Start here:**") < text.index("| Category |")


def test_start_here_names_a_merged_cause_or_else_an_unscored_one():
    assert ("**Start here:** **GELU** (9 checks, 18 points lost): GELU is not defined"
            in render_markdown(_report((EXERCISE, *NINE))))
    only_unscored = render_markdown(_report((EXERCISE, PASSED), score=100.0))
    assert "**Start here:** **Exercise 4.1** (`test_a_exercises.py::test_ex_4_1`, unscored): NameError" in only_unscored


def test_the_total_line_says_unscored_checks_are_to_look_at_not_to_fix():
    text = render_markdown(_report((EXERCISE, replace(EXERCISE, id="t::other", message="x"), PASSED),
                                   score=100.0))
    assert text.splitlines()[0] == "## a2 · ada: 100 / 100 · 2 unscored checks to look at"
    mixed = render_markdown(_mixed()).splitlines()[0]
    assert mixed == "## a2 · ada: 45 / 100 · 10 checks to fix · 1 unscored check to look at · 1 held for review"


def test_held_checks_are_listed_apart_as_held_not_lost():
    text = render_markdown(_mixed())
    held = text[text.index("### Held for review"):]
    assert "### Held for review (1 check; points held, not lost)" in held
    assert "The loss curve falls (held for review: 4 points held, not lost)" in held
    assert "test_train.py" not in _what_to_fix(text)


def test_markdown_stays_valid_and_lets_no_html_through_from_messages():
    text = render_markdown(_mixed())
    assert _balanced(text)
    outside_fences = re.sub(r"```\n.*?\n```", "", text, flags=re.DOTALL)
    assert "<b>person</b>" not in outside_fences and "&lt;b&gt;person&lt;/b&gt;" in outside_fences
    assert "<at index" not in outside_fences and "<before>" not in outside_fences


def test_checks_with_no_message_are_not_merged():
    quiet = [CheckResult(f"t.py::q{i}", f"quiet {i}", "fail", "", "GELU", None, None, 0.0, 1.0) for i in range(2)]
    text = render_markdown(_report(quiet))
    assert "#### GELU: quiet 0 (1 point lost)" in text and "<b>GELU</b>: quiet 1 (1 point lost)</summary>" in text


def test_a_report_that_passed_everything_says_so():
    text = render_markdown(_report((PASSED,), score=100.0))
    assert text.splitlines()[0] == "## a2 · ada: 100 / 100" and "All 1 checks that ran passed." in text
    assert "Start here" not in text


def test_points_lost_and_the_note_work_on_report_json_dicts():
    checks = [asdict(c) for c in (EXERCISE, *NINE, BIG, HELD, PASSED)]
    assert points_lost(checks[-3]) == 25.0 and points_lost(EXERCISE) == 0.0
    assert to_look_at(checks) == "10 checks to fix · 1 unscored check to look at · 1 held for review"
    assert to_look_at([asdict(EXERCISE)]) == "1 unscored check to look at"
    assert to_look_at([PASSED]) == ""


@pytest.fixture
def reports(tmp_path):
    for student, report in (("ada", _mixed()), ("bo", _report((EXERCISE, PASSED), student="bo", score=100.0))):
        folder = tmp_path / "a2" / student
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(report.to_dict()))
        (folder / "report.md").write_text(render_markdown(report))
    return tmp_path


def test_the_pull_request_comment_carries_all_of_it_for_each_submission(reports):
    text = summary(reports)
    assert "| a2/ada | 45 / 100 | 10 checks to fix · 1 unscored check to look at · 1 held for review |" in text
    assert "| a2/bo | 100 / 100 | 1 unscored check to look at |" in text
    ada, bo = text.split("\n---\n\n")[1:]
    assert ada.startswith("## a2 · ada: 45 / 100 · 10 checks to fix")
    assert "**Start here:** **MultiHeadAttention**" in ada and "one cause behind 9 checks" in ada
    assert "#### MultiHeadAttention" in ada and "points held, not lost" in ada
    assert bo.startswith("## a2 · bo: 100 / 100 · 1 unscored check to look at")
    assert "**Start here:** **Exercise 4.1**" in bo
    assert "#### Exercise 4.1: Exercise 4.1 prints the parameter count (unscored)" in bo
    assert _balanced(text)
