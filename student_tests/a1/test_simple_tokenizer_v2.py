"""SimpleTokenizerV2 (section 2.4): unknown words become `<|unk|>`, and `<|endoftext|>` is a token.

The grader passes its own vocabulary (the story's 1130 sorted tokens, then `<|endoftext|>` = 1130
and `<|unk|>` = 1131) as `SimpleTokenizerV2(vocab=...)`, and compares with the reference.
Both split readings the book allows pass (with or without `:` and `;` as separators), and both
decode readings (a space kept or removed before `:` and `;`).

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import example, given

from grader.checks import expect
from reference.ch02 import ENDOFTEXT, UNK, SimpleTokenizerV1, SimpleTokenizerV2
from student_tests.a1.common import (
    PUNCTUATED_TEXT,
    VOCAB_V2,
    agrees,
    encodings,
    id_lists,
    punctuation_after_words,
    shown,
    story_texts,
    tokenizer_results,
    unknown_words,
)

NAME = "SimpleTokenizerV2"
pytestmark = pytest.mark.check(component=NAME, section="2.4")
BOOK_TEXT = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
BOOK_IDS = [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7]
BOOK_DECODED = "<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of the <|unk|>."
REFERENCE = SimpleTokenizerV2(VOCAB_V2)
HINT = "Replace every token not in the vocabulary by `<|unk|>` before looking the tokens up (section 2.4)."


def test_encodes_the_book_example(nb):
    """Encodes `Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace.` to the book's ids."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, texts=[BOOK_TEXT])
    [got] = data["encoded"]
    expect(got == {"ids": BOOK_IDS}, f"{component.display}.encode({BOOK_TEXT!r}) gave {shown(got)}; the book prints "
           f"{BOOK_IDS} ('Hello' and 'palace' are unknown: {UNK} = 1131, {ENDOFTEXT} = 1130). {HINT}")


def test_decodes_the_book_example(nb):
    """Decodes the book's ids to `<|unk|>, do you like tea? <|endoftext|> ... the <|unk|>.`."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, ids=[BOOK_IDS])
    [got] = data["decoded"]
    expect(got == {"text": BOOK_DECODED}, f"{component.display}.decode({BOOK_IDS}) gave {shown(got)}; the book prints "
           f"{BOOK_DECODED!r}: join with spaces, then remove the spaces before punctuation (section 2.4).")


@given(text=story_texts(extra_words=[ENDOFTEXT, "Hello", "palace", "tokenizer"]))
@example(text=PUNCTUATED_TEXT)
def test_encodes_like_the_reference(nb, text):
    """Encodes random texts of known and unknown words and `<|endoftext|>` to the reference's ids."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, texts=[text])
    [got], allowed = data["encoded"], encodings(text, VOCAB_V2, unknown=UNK)
    expect(agrees(got, allowed), f"{component.display}.encode({text!r}) gave {shown(got)}; expected "
           f"{' or '.join(shown(e) for e in allowed)}. {HINT}")


@given(word=unknown_words())
def test_unknown_word_becomes_unk(nb, word):
    """A word outside the vocabulary is encoded as `<|unk|>` (1131); its neighbours keep their ids."""
    text = f"the {word} was"
    expected = [VOCAB_V2["the"], VOCAB_V2[UNK], VOCAB_V2["was"]]
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, texts=[text])
    [got] = data["encoded"]
    expect(got == {"ids": expected},
           f"{component.display}.encode({text!r}) gave {shown(got)}; expected {expected}. {HINT}")


@given(ids=id_lists(VOCAB_V2))
@example(ids=punctuation_after_words(VOCAB_V2))
def test_decodes_like_the_reference(nb, ids):
    """Decodes random ids (special tokens included) to the reference's text."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, ids=[ids])
    [got] = data["decoded"]
    readings = {REFERENCE.decode(ids), SimpleTokenizerV1(VOCAB_V2).decode(ids)}
    expect(got.get("text") in readings, f"{component.display}.decode({ids}) gave {shown(got)}; expected "
           f"{REFERENCE.decode(ids)!r}: join with spaces, then remove the space before punctuation (section 2.4).")


@given(ids=id_lists(VOCAB_V2))
def test_decode_then_encode_gives_the_ids_back(nb, ids):
    """encode(decode(ids)) gives back the same ids, `<|unk|>` and `<|endoftext|>` included."""
    component, data = tokenizer_results(nb, NAME, init={"vocab": VOCAB_V2}, round_trip_ids=[ids])
    [got] = data["ids_round_trip"]
    expect(got == {"ids": ids},
           f"{component.display}: encode(decode({ids})) gave {shown(got)}; expected the same ids back "
           f"(section 2.4).")
