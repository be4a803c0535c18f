"""Rubric parsing and scoring: a pure function of the rubric and the check outcomes."""

import pytest

from grader.rubric import RubricError, parse_rubric
from grader.score import CheckResult, score

RUBRIC = """
assignment = "a9"
title = "Example"

[[categories]]
name = "Correctness"
points = 40
  [[categories.items]]
  id = "tok"
  points = 30
  checks = ["test_tok.py::*"]
  [[categories.items]]
  id = "att"
  points = 10
  checks = ["test_att.py::test_shape"]

[[categories]]
name = "Completeness"
points = 10
  [[categories.items]]
  id = "exercises"
  kind = "exercises"
  points = 10
  required = 2
  exercises = { "2.1" = ["test_ex.py::test_char*"], "2.2" = ["test_ex.py::test_pad*"], "2.3" = ["test_ex.py::test_freq*"] }

[[categories]]
name = "Understanding"
points = 25
  [[categories.items]]
  id = "readme"
  kind = "manual"
  points = 25
"""


def _check(check_id: str, status: str) -> CheckResult:
    return CheckResult(id=check_id, title=check_id, status=status)


def _scored(*outcomes):
    return score(parse_rubric(RUBRIC), [_check(i, s) for i, s in outcomes])


def _category(scored, name):
    return next(c for c in scored.categories if c.name == name)


def test_points_are_shared_by_pass_rate():
    scored = _scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "fail"), ("test_tok.py::c", "pass"),
                     ("test_att.py::test_shape", "pass"))
    assert _category(scored, "Correctness").score == 30.0  # 2/3 of 30 + 10


def test_each_check_carries_its_share_and_category():
    scored = _scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "error"))
    points = {c.id: (c.points, c.max_points, c.category) for c in scored.checks}
    assert points == {"test_tok.py::a": (15.0, 15.0, "Correctness"), "test_tok.py::b": (0.0, 15.0, "Correctness")}


def test_skipped_checks_do_not_count_but_all_skipped_earns_nothing():
    assert _category(_scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "skip")), "Correctness").score == 30.0
    assert _category(_scored(("test_tok.py::a", "skip")), "Correctness").score == 0.0


def test_unattempted_exercises_are_skipped_and_the_best_required_count():
    scored = _scored(("test_ex.py::test_char_round_trip", "pass"), ("test_ex.py::test_pad_a", "pass"),
                     ("test_ex.py::test_pad_b", "fail"), ("test_ex.py::test_freq", "skip"))
    completeness = _category(scored, "Completeness")
    assert completeness.score == 7.5  # 5 for 2.1 + 2.5 for half of 2.2
    assert "2.1, 2.2 (2 of 2 required)" in completeness.items[0].evidence


def test_one_exercise_attempted_earns_half():
    assert _category(_scored(("test_ex.py::test_char_x", "pass")), "Completeness").score == 5.0


def test_manual_categories_are_provisional_with_zero():
    understanding = _category(_scored(), "Understanding")
    assert (understanding.score, understanding.max_score, understanding.provisional) == (0.0, 25.0, True)


def test_checks_no_item_names_are_informational():
    [check] = _scored(("test_other.py::x", "fail")).checks
    assert (check.points, check.max_points, check.category) == (0.0, 0.0, None)


def test_total_is_the_sum_of_categories():
    scored = _scored(("test_tok.py::a", "pass"), ("test_att.py::test_shape", "pass"))
    assert scored.score == 40.0


def test_unknown_rubric_keys_are_rejected():
    with pytest.raises(RubricError, match="unknown key"):
        parse_rubric(RUBRIC.replace('title = "Example"', 'title = "Example"\nweight_typo = 3'))


def test_items_must_add_up_to_the_category():
    with pytest.raises(RubricError, match="add up to 35.0"):
        parse_rubric(RUBRIC.replace("points = 30", "points = 25"))


SIGNAL_RUBRIC = """
assignment = "a9"
components = ["GPTModel"]
[[categories]]
name = "Code Quality"
points = 10
  [[categories.items]]
  id = "lint"
  kind = "signal"
  signal = "lint"
  points = 10
[[categories]]
name = "Understanding"
points = 5
  [[categories.items]]
  id = "why-mask"
  kind = "readme"
  terms = ["causal", "future|later tokens"]
  min_terms = 2
  points = 5
"""


def test_signals_earn_their_share_of_points():
    from grader.evidence import Signal

    signals = {"lint": Signal("lint", 0.8, "ruff found 2 problems"), "why-mask": Signal("readme", 0.5, "mentions causal")}
    scored = score(parse_rubric(SIGNAL_RUBRIC), [], signals)
    quality, understanding = scored.categories
    assert (quality.score, quality.provisional, quality.items[0].evidence) == (8.0, False, "ruff found 2 problems")
    assert (understanding.score, understanding.provisional) == (2.5, True)


def test_an_override_replaces_a_category_and_says_so():
    from grader.score import Override

    scored = score(parse_rubric(RUBRIC), [], overrides=(Override("Understanding", 20, "strong README"),))
    understanding = _category(scored, "Understanding")
    assert (understanding.score, understanding.provisional) == (20, False)
    assert "strong README" in understanding.note and "automatic score was 0" in understanding.note


def test_an_override_is_clamped_to_the_category():
    from grader.score import Override

    scored = score(parse_rubric(RUBRIC), [], overrides=(Override("Completeness", 99, "typo"),))
    assert _category(scored, "Completeness").score == 10


def test_unknown_signals_are_rejected():
    with pytest.raises(RubricError, match="signal 'vibes'"):
        parse_rubric(SIGNAL_RUBRIC.replace('signal = "lint"', 'signal = "vibes"'))


def test_overrides_file_needs_a_reason(tmp_path):
    from grader.rubric import load_overrides

    path = tmp_path / "overrides.toml"
    path.write_text('[[override]]\nstudent = "ada"\nassignment = "a2"\ncategory = "Understanding"\npoints = 20\n')
    with pytest.raises(RubricError, match="reason"):
        load_overrides(path)
    path.write_text(path.read_text() + 'reason = "strong README"\n')
    assert load_overrides(path) == (("a2", None, "ada", "Understanding", 20.0, "strong README"),)
