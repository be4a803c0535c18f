"""Rubric parsing and scoring: a pure function of the rubric and the check outcomes."""

import pytest

from grader.results import CheckResult
from grader.rubric import RubricError, parse_rubric
from grader.score import score

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
  points = 6
  checks = ["test_att.py::test_shape"]
  [[categories.items]]
  id = "exercise-correctness"
  points = 4
  optional = true
  checks = ["test_ex.py::*"]

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
"""  # noqa: E501 (TOML inline tables stay on one line)


def _check(check_id: str, status: str) -> CheckResult:
    return CheckResult(id=check_id, title=check_id, status=status)


def _scored(*outcomes):
    return score(parse_rubric(RUBRIC), [_check(i, s) for i, s in outcomes])


def _category(scored, name):
    return next(c for c in scored.categories if c.name == name)


def test_points_are_shared_by_pass_rate():
    scored = _scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "fail"), ("test_tok.py::c", "pass"),
                     ("test_att.py::test_shape", "pass"), ("test_ex.py::test_pad", "pass"))
    assert _category(scored, "Correctness").score == 30.0  # 2/3 of 30 + 6 + 4


def test_each_check_carries_its_share_and_category():
    scored = _scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "error"), ("test_ex.py::test_x", "pass"))
    points = {c.id: (c.points, c.max_points, c.category) for c in scored.checks}
    assert points == {"test_tok.py::a": (15.0, 15.0, "Correctness"), "test_tok.py::b": (0.0, 15.0, "Correctness"),
                      "test_ex.py::test_x": (4.0, 4.0, "Correctness")}


def test_skipped_checks_do_not_count_but_all_skipped_earns_nothing():
    ex = ("test_ex.py::test_pad", "pass")
    assert _category(_scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "skip"), ex), "Correctness").score == 34.0
    assert _category(_scored(("test_tok.py::a", "skip"), ex), "Correctness").score == 4.0  # tok and att earn 0


def test_exercises_earn_completeness_for_the_attempt_and_correctness_for_working():
    scored = _scored(("test_ex.py::test_char_round_trip", "pass"), ("test_ex.py::test_pad_a", "pass"),
                     ("test_ex.py::test_pad_b", "fail"), ("test_ex.py::test_freq", "skip"))
    completeness = _category(scored, "Completeness")
    assert completeness.score == 10.0  # 2.1 and 2.2 attempted, 2 required
    assert "2.1, 2.2 (2 of 2 required)" in completeness.items[0].evidence
    exercises = next(i for i in _category(scored, "Correctness").items if i.id == "exercise-correctness")
    assert (exercises.score, exercises.max_score) == (pytest.approx(4 * 2 / 3, abs=0.01), 4.0)


def test_exercises_without_an_automatic_check_hold_what_they_could_add_for_review():
    rubric = parse_rubric(RUBRIC.replace('"2.3" = ["test_ex.py::test_freq*"]', '"2.3" = [], "2.4" = []'))
    one = score(rubric, [_check("test_ex.py::test_char_round_trip", "pass"), _check("test_ex.py::test_pad", "skip")])
    [item] = _category(one, "Completeness").items
    assert (item.score, item.held, item.provisional) == (5.0, 5.0, True)  # 2.1 counted; 2.3 or 2.4 may make two
    assert "2.3 and 2.4 have no automatic check: a person confirms an attempt (5 points held)" in item.evidence
    two = score(rubric, [_check("test_ex.py::test_char_round_trip", "pass"), _check("test_ex.py::test_pad", "fail")])
    [item] = _category(two, "Completeness").items
    assert (item.score, item.held, item.provisional) == (10.0, 0.0, False)  # the two required were counted


def test_an_optional_item_whose_checks_all_skipped_leaves_its_points_to_the_others():
    scored = _scored(("test_tok.py::a", "pass"), ("test_att.py::test_shape", "fail"), ("test_ex.py::test_x", "skip"))
    correctness = _category(scored, "Correctness")
    by_id = {i.id: i for i in correctness.items}
    assert by_id["exercise-correctness"].max_score == 0.0 and "does not apply" in by_id["exercise-correctness"].evidence
    assert (by_id["tok"].max_score, by_id["att"].max_score, correctness.score) == (33.33, 6.67, 33.33)
    assert {c.id: c.max_points for c in scored.checks}["test_tok.py::a"] == pytest.approx(33.333, abs=0.01)


def test_redistributed_points_add_up_to_the_category_without_rounding_drift():
    items = "".join(f'  [[categories.items]]\n  id = "{n}"\n  points = {p}\n  checks = ["test_{n}.py::*"]\n'
                    for n, p in [("a", 3), ("b", 7), ("c", 7), ("d", 9), ("e", 9)])
    rubric = (f'assignment = "a9"\ntitle = "x"\n[[categories]]\nname = "Correctness"\npoints = 40\n{items}'
              '  [[categories.items]]\n  id = "ex"\n  points = 5\n  optional = true\n  checks = ["test_ex.py::*"]\n')
    checks = [_check(f"test_{n}.py::t", "pass") for n in "abcde"] + [_check("test_ex.py::t", "skip")]
    correctness = _category(score(parse_rubric(rubric), checks), "Correctness")  # 35 points shared as 40
    assert (correctness.score, round(sum(i.max_score for i in correctness.items), 2)) == (40.0, 40.0)


def test_checks_held_for_review_count_but_give_nothing_and_make_the_category_provisional():
    scored = _scored(("test_tok.py::a", "pass"), ("test_tok.py::b", "review"), ("test_att.py::test_shape", "pass"),
                     ("test_ex.py::test_pad", "pass"))
    correctness = _category(scored, "Correctness")
    tok = next(i for i in correctness.items if i.id == "tok")
    assert (tok.score, tok.held, correctness.score, correctness.provisional) == (15.0, 15.0, 25.0, True)
    assert "15 points held for review" in correctness.note and "1 held for review" in tok.evidence


def test_one_exercise_attempted_earns_half_even_when_it_fails():
    assert _category(_scored(("test_ex.py::test_char_x", "fail")), "Completeness").score == 5.0


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

    signals = {"lint": Signal("lint", 0.8, "ruff found 2 problems"),
               "why-mask": Signal("readme", 0.5, "mentions causal")}
    scored = score(parse_rubric(SIGNAL_RUBRIC), [], signals)
    quality, understanding = scored.categories
    assert (quality.score, quality.provisional, quality.items[0].evidence) == (8.0, False, "ruff found 2 problems")
    assert (understanding.score, understanding.provisional) == (2.5, True)


def test_an_override_replaces_a_category_and_says_so():
    from grader.results import Override

    scored = score(parse_rubric(RUBRIC), [], overrides=(Override("Understanding", 20, "strong README"),))
    understanding = _category(scored, "Understanding")
    assert (understanding.score, understanding.provisional) == (20, False)
    assert "strong README" in understanding.note and "automatic score was 0" in understanding.note


def test_an_override_is_clamped_to_the_category():
    from grader.results import Override

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
