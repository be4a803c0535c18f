"""GPTDatasetV1 (section 2.6): sliding windows of token ids, targets shifted by one.

The grader builds `GPTDatasetV1(txt=..., tokenizer=<GPT-2's tiktoken encoding>, max_length=...,
stride=...)` and reads `len(dataset)` and its items. Windows start every `stride` tokens; each
needs `max_length + 1` tokens (its last target), so there are len(range(0, n_tokens - max_length,
stride)) of them, as in the book.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import given

from grader.checks import expect
from reference.ch02 import GPTDatasetV1
from student_tests.a1.common import (
    GPT2,
    RAW_TEXT,
    dataset_result,
    first_difference,
    windowed_texts,
)

pytestmark = pytest.mark.check(component="GPTDatasetV1", section="2.6")


def _rows(items):
    return [[x.tolist(), y.tolist()] for x, y in items]


def test_book_windows_of_the_verdict(nb):
    """On the-verdict.txt with max_length=4, stride=1, windows 0 and 50 are the book's."""
    component, data = dataset_result(nb, txt=RAW_TEXT, max_length=4, stride=1, indices=[0, 50])
    expected = [[[40, 367, 2885, 1464], [367, 2885, 1464, 1807]], [[290, 4920, 2241, 287], [4920, 2241, 287, 257]]]
    expect(_rows(data["items"]) == expected, f"{component.display} on the-verdict.txt (max_length=4, stride=1): items 0 and "
           f"50 are {_rows(data['items'])} as [inputs, targets]; the book prints {expected} (section 2.6).")


@given(window=windowed_texts())
def test_matches_the_reference(nb, window):
    """Has the reference's length and items on generated texts, max_length and stride."""
    txt, max_length, stride = window
    component, data = dataset_result(nb, txt=txt, max_length=max_length, stride=stride)
    reference = GPTDatasetV1(txt, GPT2, max_length, stride)
    got, expected = _rows(data["items"]), _rows(reference[i] for i in range(len(reference)))
    expect(data["length"] == len(reference) and got == expected, f"{component.display}(txt={txt!r}, max_length="
           f"{max_length}, stride={stride}) has {data['length']} items where the reference has {len(reference)}; "
           f"{first_difference(got, expected)} as [inputs, targets] (section 2.6).")


@given(window=windowed_texts())
def test_targets_are_the_inputs_shifted_by_one(nb, window):
    """Every item's targets are its inputs shifted by one token (the next token at each position)."""
    txt, max_length, stride = window
    component, data = dataset_result(nb, txt=txt, max_length=max_length, stride=stride)
    bad = [[x.tolist(), y.tolist()] for x, y in data["items"] if len(x) != len(y) or y[:-1].tolist() != x[1:].tolist()]
    expect(not bad, f"{component.display}(txt={txt!r}, max_length={max_length}, stride={stride}) has an item with "
           f"[inputs, targets] = {bad[:1]}; the targets should be the inputs shifted by one token: "
           f"targets = token_ids[start + 1 : start + max_length + 1] (section 2.6).")


@given(window=windowed_texts())
def test_number_of_windows(nb, window):
    """Has one item per window that fits: len(range(0, n_tokens - max_length, stride))."""
    txt, max_length, stride = window
    component, data = dataset_result(nb, txt=txt, max_length=max_length, stride=stride, indices=[])
    n_tokens = len(GPT2.encode(txt))
    expected = len(range(0, n_tokens - max_length, stride))
    expect(data["length"] == expected, f"{component.display}(txt of {n_tokens} tokens, max_length={max_length}, "
           f"stride={stride}) has {data['length']} items; expected {expected}: every start 0, stride, 2*stride, ... "
           f"that leaves max_length + 1 tokens (section 2.6).")


@given(window=windowed_texts())
def test_windows_start_stride_tokens_apart(nb, window):
    """Item i's inputs are the max_length tokens starting at i * stride."""
    txt, max_length, stride = window
    component, data = dataset_result(nb, txt=txt, max_length=max_length, stride=stride)
    ids = GPT2.encode(txt)
    got = [x.tolist() for x, _ in data["items"]]
    expected = [ids[i * stride:i * stride + max_length] for i in range(len(got))]
    expect(got == expected, f"{component.display}(txt={txt!r}, max_length={max_length}, stride={stride}): "
           f"{first_difference(got, expected, 'inputs of item')}; item i holds the {max_length} tokens starting at "
           f"i * stride (section 2.6).")
