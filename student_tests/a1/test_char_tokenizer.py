"""Exercise 2.1, CharTokenizer(text): a character-level tokenizer (skipped when not attempted).

The vocabulary is the distinct characters of the training text, each with its own id (in any order: the book
numbers its word vocabulary in sorted order, first-seen order is as good); `encode` gives one id per character
and `decode` joins the characters back without separators.
The grader looks for `CharTokenizer` (or GRADER_NAMES["CharTokenizer"]), then for a class of yours
whose name mentions "char" and that builds from `text=` and encodes and decodes.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from student_tests.a1.common import exercise, shown, tokenizer_results

NAME = "CharTokenizer"
LOOKS_FOR = "a class whose name mentions \"char\" with encode and decode"
pytestmark = pytest.mark.check(component=NAME, section="2.2")
CHARACTERS = string.ascii_letters + string.digits + string.punctuation + " \n\téüß—“”"  # readable in a report


@st.composite
def char_texts(draw, *, min_size=1, max_size=40):
    """(training text, a text made of its characters)."""
    train = draw(st.text(st.sampled_from(CHARACTERS), min_size=min_size, max_size=max_size))
    return train, draw(st.text(st.sampled_from(sorted(set(train))), max_size=max_size))


@given(case=char_texts())
def test_round_trip(nb, case):
    """decode(encode(text)) gives back the text exactly."""
    train, text = case
    found = exercise(nb, NAME, looks_for=LOOKS_FOR)
    component, data = tokenizer_results(nb, NAME, init={"text": train}, round_trip_texts=[text], found=found)
    [got] = data["text_round_trip"]
    expect(got == {"text": text}, f"{component.display}(text={train!r}): decode(encode({text!r})) gave {shown(got)}; "
           f"expected the same text (one id per character, joined without separators).")


@given(case=char_texts(min_size=2))
def test_one_id_per_distinct_character(nb, case):
    """Encoding the training text gives one id per character: the same id for the same character, different ids for
    different ones (numbered in any order, e.g. sorted like the book's word vocabulary, or as first seen)."""
    train, _ = case
    found = exercise(nb, NAME, looks_for=LOOKS_FOR)
    component, data = tokenizer_results(nb, NAME, init={"text": train}, texts=[train], found=found)
    [got] = data["encoded"]
    ids = got.get("ids")
    pairs = set(zip(train, ids)) if isinstance(ids, list) and len(ids) == len(train) else None
    one_each = pairs is not None and len(pairs) == len(set(train)) == len({i for _, i in pairs})
    expect(one_each, f"{component.display}(text={train!r}).encode(text) gave {shown(got)}; expected one id per "
           f"character, the same id for the same character and different ids for the {len(set(train))} distinct "
           f"characters.")
