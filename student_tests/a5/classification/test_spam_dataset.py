"""SpamDataset (section 6.3): token ids of each message, padded or truncated to one length, with its label.

The grader writes small CSV files with the book's header `Label,Text` (labels 0 = ham, 1 = spam,
as the book saves train.csv) and builds your SpamDataset(csv_file, tokenizer, max_length=None,
pad_token_id=50256) on them with GPT-2's tokenizer. Checks the signature; padding to the longest
message with 50256 when max_length is None; truncation to a given max_length; a given
pad_token_id; the labels; len(); and the `max_length` attribute the book reuses for the
validation and test sets. Items are compared with the reference's on drawn messages.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.assets import gpt2_encoding
from reference.ch06 import SpamDataset
from student_tests.a5.classification.common import (
    PROBES,
    signature_problem,
    spam_rows,
    text_payload,
)

pytestmark = pytest.mark.check(component="SpamDataset", section="6.3")
NAME, SECTION = "SpamDataset", "6.3"


def _theirs(nb, rows, **kwargs) -> dict:
    display = nb.require(NAME).display
    return nb.run(f"{PROBES}.spam_dataset", {"rows": rows, "kwargs": kwargs, **text_payload()},
                  what=f"building {display}(csv_file, tokenizer{''.join(f', {k}={v}' for k, v in kwargs.items())})")


def _expected(rows, **kwargs) -> SpamDataset:
    return SpamDataset([tuple(r) for r in rows], gpt2_encoding(), **kwargs)


def _compare_ids(nb, rows, kwargs, what: str) -> None:
    """Every item's token ids equal the reference's; the message names the first differing row."""
    theirs, ours = _theirs(nb, rows, **kwargs), _expected(rows, **kwargs)
    for i, (item, expected) in enumerate(zip(theirs["items"], ours.encoded_texts)):
        expect(item["ids"] == expected,
               f"{nb.require(NAME).display} with {kwargs or 'the default arguments'}, row {i} {rows[i][1]!r}: "
               "token ids "
               f"{item['ids']} (length {len(item['ids'])}); expected {expected} (length {len(expected)}): {what}. "
               f"Rows: {rows}. See section {SECTION}.")


def test_exists_with_the_book_signature(nb):
    """SpamDataset(csv_file, tokenizer, max_length=None, pad_token_id=50256) exists."""
    problem = signature_problem(nb.require(NAME), ["csv_file", "tokenizer", "max_length", "pad_token_id"],
                                {"max_length": None, "pad_token_id": 50256})
    expect(problem is None, f"{problem}; the book's signature is SpamDataset(csv_file, tokenizer, max_length=None, "
                            f"pad_token_id=50256) (section {SECTION})")


@settings(max_examples=6)
@given(rows=spam_rows())
def test_pads_every_message_to_the_longest_with_50256(nb, rows):
    """Without max_length, every message is padded with 50256 (<|endoftext|>) to the longest one's length."""
    _compare_ids(nb, rows, {}, "with max_length=None every message is padded to the longest encoded message, "
                               "with pad_token_id (default 50256, <|endoftext|>) appended after the text")


@settings(max_examples=6)
@given(rows=spam_rows(min_rows=2, max_words=20), data=st.data())
def test_truncates_to_max_length(nb, rows, data):
    """With max_length shorter than the longest message, longer messages are cut to their first max_length ids."""
    longest = _expected(rows).max_length
    max_length = data.draw(st.integers(1, max(1, longest - 1)), label="max_length")
    _compare_ids(nb, rows, {"max_length": max_length},
                 f"messages longer than max_length={max_length} keep their first {max_length} ids, shorter ones are "
                 f"padded to {max_length}")


@settings(max_examples=4)
@given(rows=spam_rows(min_rows=2, max_words=20), extra=st.integers(1, 8))
def test_pads_to_a_max_length_longer_than_every_message(nb, rows, extra):
    """With max_length longer than every message, every message is padded to max_length (as exercise 6.1 pads to
    the model's context length)."""
    max_length = _expected(rows).max_length + extra
    _compare_ids(nb, rows, {"max_length": max_length},
                 f"every message is padded to max_length={max_length}, also when it is longer than the longest one")


@settings(max_examples=4)
@given(rows=spam_rows(), pad_token_id=st.sampled_from([0, 13, 220]))
def test_pads_with_the_given_pad_token_id(nb, rows, pad_token_id):
    """pad_token_id sets the id used for padding."""
    _compare_ids(nb, rows, {"pad_token_id": pad_token_id},
                 f"padding uses the pad_token_id argument ({pad_token_id}), not a fixed id")


@settings(max_examples=4)
@given(rows=spam_rows())
def test_labels_and_length_follow_the_csv_rows(nb, rows):
    """len(dataset) is the number of rows and each item's label is the row's class index (0 ham, 1 spam)."""
    theirs = _theirs(nb, rows)
    labels, expected = [item["label"] for item in theirs["items"]], [label for label, _ in rows]
    expect(theirs["len"] == len(rows) and labels == expected,
           f"{nb.require(NAME).display} on a CSV with {len(rows)} rows (labels {expected}): len() is {theirs['len']} "
           f"and the items' labels are {labels}. Each item is (token ids, label) with the Label column's class "
           f"index. Rows: {rows}. See section {SECTION}.")


@settings(max_examples=3)
@given(rows=spam_rows())
def test_records_max_length(nb, rows):
    """`dataset.max_length` is the longest encoded message (max_length=None), so val/test sets can reuse it."""
    theirs, expected = _theirs(nb, rows), _expected(rows).max_length
    expect(theirs["max_length"] == expected,
           f"{nb.require(NAME).display}(csv_file, tokenizer).max_length is {theirs['max_length']}; expected "
           f"{expected}, the longest encoded message (the book builds the validation and test sets with "
           f"max_length=train_dataset.max_length). Rows: {rows}. See section {SECTION}.")
