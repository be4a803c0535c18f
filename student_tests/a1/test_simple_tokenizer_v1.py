"""SimpleTokenizerV1 (section 2.3): the book's regex split, encode/decode with a vocabulary, KeyError on unknown words.

The grader passes its own vocabulary (the story's 1130 sorted tokens) as `SimpleTokenizerV1(vocab=...)`,
then compares encode and decode with the reference on the book's example and on drawn texts.
Both split readings the book allows pass (with or without `:` and `;` as separators), and both
decode readings: removing the space before `,.?!"()'` (V1 in the book) or also before `:;` (V2 in
the book). An unknown word must be refused: the book raises KeyError; a ValueError that says so
(or a subclass of KeyError) passes too.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import example, given, settings

from grader.checks import expect
from reference.ch02 import SimpleTokenizerV1, SimpleTokenizerV2
from student_tests.a1.common import (
    PUNCTUATED_TEXT,
    UNKNOWN_WORD_ERRORS,
    VOCAB,
    agrees,
    encodings,
    id_lists,
    punctuation_after_words,
    raised,
    shown,
    story_texts,
    tokenizer_results,
    unknown_words,
)

NAME = "SimpleTokenizerV1"
pytestmark = pytest.mark.check(component=NAME, section="2.3")
BOOK_TEXT = '"It\'s the last he painted, you know,"\n       Mrs. Gisburn said with pardonable pride.'
BOOK_IDS = [1, 56, 2, 850, 988, 602, 533, 746, 5, 1126, 596, 5, 1, 67, 7, 38, 851, 1108, 754, 793, 7]
BOOK_DECODED = '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
REFERENCE = SimpleTokenizerV1(VOCAB)


def test_encodes_the_book_example(nb):
    """Encodes the book's `"It's the last he painted, ..."` to the book's ids."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, texts=[BOOK_TEXT])
    [got] = data["encoded"]
    expect(got == {"ids": BOOK_IDS}, f"{component.display}.encode({BOOK_TEXT!r}) gave {shown(got)}; the book prints "
           f"{BOOK_IDS}. Split with the book's regex r'([,.:;?_!\"()\\']|--|\\s)', strip, drop empty items, "
           f"then look each token up in vocab (section 2.3).")


def test_decodes_the_book_example(nb):
    """Decodes the book's ids to `" It' s the last he painted, you know," Mrs. ...`."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, ids=[BOOK_IDS])
    [got] = data["decoded"]
    expect(got == {"text": BOOK_DECODED}, f"{component.display}.decode({BOOK_IDS}) gave {shown(got)}; the book prints "
           f"{BOOK_DECODED!r}: join the tokens with spaces, then remove the spaces before punctuation (section 2.3).")


@given(word=unknown_words())
@settings(max_examples=5)
def test_unknown_word_raises_key_error(nb, word):
    """A word outside the vocabulary raises KeyError (the book's V1 has no `<|unk|>`)."""
    text = f"It's the last he painted, {word}."
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, texts=[text])
    [got] = data["encoded"]
    expect(raised(got, *UNKNOWN_WORD_ERRORS), f"{component.display}.encode({text!r}) gave {shown(got)}; "
           f"expected KeyError (or a ValueError saying so), since {word!r} is not in the vocabulary and V1 has no "
           f"`<|unk|>` (section 2.3).")


@given(text=story_texts())
@example(text=PUNCTUATED_TEXT)
def test_encodes_like_the_reference(nb, text):
    """Encodes random texts made of the story's words and punctuation to the reference's ids."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, texts=[text])
    [got], allowed = data["encoded"], encodings(text, VOCAB)
    expect(agrees(got, allowed), f"{component.display}.encode({text!r}) gave {shown(got)}; expected "
           f"{' or '.join(shown(e) for e in allowed)}. "
           f"Split with the book's regex (punctuation, `--` and whitespace), strip, drop empty items (section 2.3).")


@given(ids=id_lists(VOCAB))
@example(ids=punctuation_after_words(VOCAB))
def test_decodes_like_the_reference(nb, ids):
    """Decodes random ids to the reference's text (no space before punctuation)."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, ids=[ids])
    [got] = data["decoded"]
    readings = {REFERENCE.decode(ids), SimpleTokenizerV2(VOCAB).decode(ids)}
    expect(got.get("text") in readings, f"{component.display}.decode({ids}) gave {shown(got)}; expected "
           f"{REFERENCE.decode(ids)!r}: join with spaces, then remove the space before punctuation (section 2.3).")


@given(ids=id_lists(VOCAB))
def test_decode_then_encode_gives_the_ids_back(nb, ids):
    """encode(decode(ids)) gives back the same ids."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB}, round_trip_ids=[ids])
    [got] = data["ids_round_trip"]
    expect(got == {"ids": ids}, f"{component.display}: encode(decode({ids})) gave {shown(got)}; expected the same ids "
           f"back. decode must keep every token, and encode must split it again the same way (section 2.3).")
