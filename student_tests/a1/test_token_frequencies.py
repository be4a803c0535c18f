"""Exercise 2.3, token_frequencies(token_ids): how often each token id occurs (skipped when not attempted).

The result maps each token id to its count: a dict or a `collections.Counter`, or (id, count) pairs such as
`Counter.most_common()` gives. The assignment names
no function for this exercise, so the grader looks for `token_frequencies` (or
GRADER_NAMES["token_frequencies"]), then for a function of yours whose name mentions "freq" (or
"count" and "token") that takes a list of ids and returns such counts; the report says which it graded.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from student_tests.a1.common import GPT2, RAW_TEXT, exercise

NAME = "token_frequencies"
pytestmark = pytest.mark.check(component=NAME, section="2.3")


def _counts(nb, token_ids):
    component = exercise(nb, NAME, looks_for="a function whose name mentions \"freq\" (or \"count\" and \"token\")")
    data = nb.run("a1.frequencies", {"used_name": component.used_name, "token_ids": token_ids},
                  what=f"calling {component.display}")
    shown_ids = f"{token_ids[:8]}"[:-1] + (", ...]" if len(token_ids) > 8 else "]")
    expect("not_counts" not in data, f"{component.display}({shown_ids}) returned {data.get('not_counts')}; return the "
           f"count of each token id: a dict or a Counter (id -> count), or a list of (id, count) pairs.")
    return component, dict(map(tuple, data["pairs"]))


@given(token_ids=st.lists(st.integers(0, 20), max_size=40))
def test_counts_like_a_counter(nb, token_ids):
    """Counts every id of a random list of ids, as collections.Counter does."""
    component, got = _counts(nb, token_ids)
    expected = dict(Counter(token_ids))
    expect(got == expected, f"{component.display}({token_ids}) gave {got}; expected {expected}.")


def test_counts_the_story_tokens(nb):
    """Counts the 5145 GPT-2 tokens of the-verdict.txt (1416 distinct ids)."""
    token_ids = GPT2.encode(RAW_TEXT)
    component, got = _counts(nb, token_ids)
    expected = Counter(token_ids)
    wrong = {k: (got.get(k, 0), n) for k, n in expected.items() if got.get(k, 0) != n}
    expect(not wrong and set(got) == set(expected), f"{component.display} on the story's {len(token_ids)} BPE ids: "
           f"{len(wrong)} counts differ, e.g. {dict(list(wrong.items())[:5])} as id: (yours, expected).")
