"""Exercise 2.1, CharTokenizer(text): a character-level tokenizer (skipped when not attempted).

The vocabulary is the sorted distinct characters of the training text, numbered from 0;
`encode` gives one id per character and `decode` joins the characters back without separators.
The grader looks for `CharTokenizer` (or GRADER_NAMES["CharTokenizer"]), then for a class of yours
whose name mentions "char" and that builds from `text=` and encodes and decodes.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch02 import CharTokenizer
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


@given(case=char_texts())
def test_vocabulary_is_the_sorted_distinct_characters(nb, case):
    """The ids are the positions of the characters in the sorted set of the training text's characters."""
    train, text = case
    found = exercise(nb, NAME, looks_for=LOOKS_FOR)
    component, data = tokenizer_results(nb, NAME, init={"text": train}, texts=[text], found=found)
    [got], expected = data["encoded"], CharTokenizer(train).encode(text)
    expect(got == {"ids": expected},
           f"{component.display}(text={train!r}).encode({text!r}) gave {shown(got)}; expected "
           f"{expected}, the positions in sorted(set(text)) = {sorted(set(train))}.")
