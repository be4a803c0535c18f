"""GPTDatasetV1 (section 2.6): sliding windows of token ids, targets shifted by one.

The grader builds `GPTDatasetV1(txt=..., tokenizer=<GPT-2's tiktoken encoding>, max_length=...,
stride=...)` and reads `len(dataset)` and its items. Windows start every `stride` tokens; each
needs `max_length + 1` tokens (its last target), so there are len(range(0, n_tokens - max_length,
stride)) of them, as in the book. A text too short for one window may give no items (the book's
first code) or raise a ValueError/AssertionError (its current code asserts it); both are correct.
Any way of building the windows passes (lists, lazy slicing in __getitem__, tensor.unfold).

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import example, given

from grader.checks import expect
from reference.ch02 import GPTDatasetV1
from student_tests.a1.common import (
    GPT2,
    RAW_TEXT,
    TWO_TEXTS,
    dataset_items,
    expect_integer_ids,
    expect_windows,
    first_difference,
    windowed_texts,
)

pytestmark = pytest.mark.check(component="GPTDatasetV1", section="2.6")
BOOK_WINDOW_0 = [[40, 367, 2885, 1464], [367, 2885, 1464, 1807]]  # [inputs, targets] (section 2.6)


def _rows(items):
    return [[x.tolist(), y.tolist()] for x, y in items]


def test_book_windows_of_the_verdict(nb):
    """On the-verdict.txt with max_length=4, stride=1, windows 0 and 50 are the book's."""
    component, data = dataset_items(nb, txt=RAW_TEXT, max_length=4, stride=1, indices=[0, 50])
    expected = [BOOK_WINDOW_0, [[290, 4920, 2241, 287], [4920, 2241, 287, 257]]]
    expect(_rows(data["items"]) == expected,
           f"{component.display} on the-verdict.txt (max_length=4, stride=1): items 0 and "
           f"50 are {_rows(data['items'])} as [inputs, targets]; the book prints {expected} (section 2.6).")


def test_windows_are_integer_token_ids(nb):
    """The inputs and targets of the book's windows are integer tensors (torch.tensor(ids), not torch.Tensor(ids))."""
    component, data = dataset_items(nb, txt=RAW_TEXT, max_length=4, stride=1, indices=[0, 50])
    expect(_rows(data["items"])[0] == BOOK_WINDOW_0, f"{component.display} on the-verdict.txt (max_length=4, "
           f"stride=1): item 0 is {_rows(data['items'])[0]}; the book prints {BOOK_WINDOW_0} (section 2.6).")
    expect_integer_ids([t for pair in data["items"] for t in pair], component, "the inputs and targets of its items")


@given(window=windowed_texts())
@example(window=("the cat sat on the mat", 5, 2))  # exactly one window
@example(window=("the cat sat on", 4, 1))  # no window: no items, or a clear refusal
@example(window=(TWO_TEXTS, 3, 2))  # the separator is one token, 50256: encode with allowed_special (section 2.4)
def test_matches_the_reference(nb, window):
    """Has the reference's length and items on generated texts, max_length and stride."""
    txt, max_length, stride = window
    if (found := dataset_items(nb, txt=txt, max_length=max_length, stride=stride)) is None:
        return
    component, data = found
    reference = GPTDatasetV1(txt, GPT2, max_length, stride)
    got, expected = _rows(data["items"]), _rows(reference[i] for i in range(len(reference)))
    expect(data["length"] == len(reference) and got == expected, f"{component.display}(txt={txt!r}, max_length="
           f"{max_length}, stride={stride}) has {data['length']} items where the reference has {len(reference)}; "
           f"{first_difference(got, expected)} as [inputs, targets] (section 2.6).")


@given(window=windowed_texts())
def test_targets_are_the_inputs_shifted_by_one(nb, window):
    """Every item's targets are the tokens that follow its inputs in the text (the inputs shifted by one)."""
    txt, max_length, stride = window
    if (found := dataset_items(nb, txt=txt, max_length=max_length, stride=stride)) is None:
        return
    component, data = found
    bad = [[x.tolist(), y.tolist()] for x, y in data["items"] if len(x) != len(y) or y[:-1].tolist() != x[1:].tolist()]
    expect(not bad, f"{component.display}(txt={txt!r}, max_length={max_length}, stride={stride}) has an item with "
           f"[inputs, targets] = {bad[:1]}; the targets should be the inputs shifted by one token: "
           f"targets = token_ids[start + 1 : start + max_length + 1] (section 2.6).")
    expect_windows(_rows(data["items"]), ids=GPT2.encode(txt), max_length=max_length, component=component,
                   what=f"GPTDatasetV1(txt={txt!r}, max_length={max_length}, stride={stride})")


@given(window=windowed_texts())
def test_number_of_windows(nb, window):
    """Has one item per window that fits: len(range(0, n_tokens - max_length, stride)), each a window of the text."""
    txt, max_length, stride = window
    if (found := dataset_items(nb, txt=txt, max_length=max_length, stride=stride)) is None:
        return
    component, data = found
    ids = GPT2.encode(txt)
    expected = len(range(0, len(ids) - max_length, stride))
    expect(data["length"] == expected, f"{component.display}(txt of {len(ids)} tokens, max_length={max_length}, "
           f"stride={stride}) has {data['length']} items; expected {expected}: every start 0, stride, 2*stride, ... "
           f"that leaves max_length + 1 tokens (section 2.6).")
    expect_windows(_rows(data["items"]), ids=ids, max_length=max_length, component=component,
                   what=f"GPTDatasetV1(txt of {len(ids)} tokens, max_length={max_length}, stride={stride})")


@given(window=windowed_texts())
def test_windows_start_stride_tokens_apart(nb, window):
    """Item i is the window that starts at token i * stride (inputs and their next tokens)."""
    txt, max_length, stride = window
    if (found := dataset_items(nb, txt=txt, max_length=max_length, stride=stride)) is None:
        return
    component, data = found
    ids = GPT2.encode(txt)
    got = [x.tolist() + y.tolist()[-1:] for x, y in data["items"]]
    expected = [ids[i * stride:i * stride + max_length + 1] for i in range(len(got))]
    expect(got == expected, f"{component.display}(txt={txt!r}, max_length={max_length}, stride={stride}): "
           f"{first_difference(got, expected, 'window (inputs, then the last target) of item')}; item i holds the "
           f"{max_length} tokens starting at i * stride, and its targets end with the token after them (section 2.6).")



def test_text_of_max_length_plus_one_tokens_gives_one_window(nb):
    """A text of exactly max_length + 1 tokens holds one window: the reference's single item, not an error."""
    txt, max_length = "the cat sat on the mat", 5  # 6 GPT-2 tokens
    component, data = dataset_items(nb, txt=txt, max_length=max_length, stride=2)
    reference = GPTDatasetV1(txt, GPT2, max_length, 2)
    expected = _rows(reference[i] for i in range(len(reference)))
    expect(data["length"] == 1 and _rows(data["items"]) == expected, f"{component.display}(txt={txt!r} (6 tokens), "
           f"max_length=5, stride=2) has {data['length']} items {_rows(data['items'])}; the reference has one, "
           f"{expected}: the inputs and the 5 tokens after the first (section 2.6).")
