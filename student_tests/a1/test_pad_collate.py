"""Exercise 2.2, pad_collate(batch, pad_token_id=50256, ignore_index=-100) (skipped when not attempted).

`batch` is a list of (input_ids, target_ids) tensor pairs of different lengths; the result is
(inputs, targets), two (len(batch), longest) tensors: inputs padded with pad_token_id, targets
with ignore_index, which cross-entropy skips. The grader looks for `pad_collate` (or
GRADER_NAMES["pad_collate"]), then for a function of yours whose name mentions "pad" and that
takes such a batch and returns a pair.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch02 import pad_collate
from student_tests.a1.common import exercise

NAME = "pad_collate"
pytestmark = pytest.mark.check(component=NAME, section="2.6")


@st.composite
def pair_batches(draw, *, min_pairs=1, max_pairs=5, max_length=8):
    """Lists of (input_ids, target_ids) pairs of equal length within a pair, different across pairs."""
    lengths = draw(st.lists(st.integers(1, max_length), min_size=min_pairs, max_size=max_pairs))
    ids = [torch.tensor(draw(st.lists(st.integers(0, 50256), min_size=n + 1, max_size=n + 1))) for n in lengths]
    return [(row[:-1], row[1:]) for row in ids]


def _padded(nb, batch, **kwargs):
    component = exercise(nb, NAME, looks_for="a function whose name mentions \"pad\" taking a batch of pairs")
    result = nb.call(component.used_name, batch, **kwargs)
    expect(isinstance(result, list) and len(result) == 2, f"{component.display} returned {str(result)[:200]}; "
           f"expected a pair (inputs, targets) of tensors.")
    return component, [torch.as_tensor(t).tolist() for t in result]


@given(batch=pair_batches(), pad_token_id=st.integers(0, 50256), ignore_index=st.sampled_from([-100, -1, -7]))
def test_pads_like_the_reference(nb, batch, pad_token_id, ignore_index):
    """Pads inputs with pad_token_id and targets with ignore_index up to the longest pair."""
    component, got = _padded(nb, batch, pad_token_id=pad_token_id, ignore_index=ignore_index)
    expected = [t.tolist() for t in pad_collate(batch, pad_token_id=pad_token_id, ignore_index=ignore_index)]
    expect(got == expected, f"{component.display}({[(x.tolist(), y.tolist()) for x, y in batch]}, pad_token_id="
           f"{pad_token_id}, ignore_index={ignore_index}) gave {got}; expected {expected} as (inputs, targets).")


def test_default_padding_values(nb):
    """Without arguments, pads inputs with 50256 (`<|endoftext|>`) and targets with -100."""
    batch = [(torch.tensor([1, 2, 3]), torch.tensor([2, 3, 4])), (torch.tensor([5]), torch.tensor([6]))]
    component, got = _padded(nb, batch)
    expected = [[[1, 2, 3], [5, 50256, 50256]], [[2, 3, 4], [6, -100, -100]]]
    expect(got == expected,
           f"{component.display}([([1, 2, 3], [2, 3, 4]), ([5], [6])]) gave {got}; expected {expected} "
           f"with the defaults pad_token_id=50256, ignore_index=-100.")
