"""MultiHeadAttention (section 3.6.2): the same outputs as the reference on the same weights, and causal.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect_close
from reference.ch03 import MultiHeadAttention

pytestmark = pytest.mark.check(component="MultiHeadAttention", section="3.6.2")
NAME = "MultiHeadAttention"


def _init(d_in=6, d_out=8, context_length=10, num_heads=2):
    return {"d_in": d_in, "d_out": d_out, "context_length": context_length, "dropout": 0.0, "num_heads": num_heads}


def test_exists_with_the_book_signature(nb):
    """MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out", "context_length", "dropout", "num_heads"} - set(component.params)
    assert not missing, f"{component.display} takes no argument(s) {sorted(missing)}"


@given(num_heads=st.sampled_from([1, 2, 4]), tokens=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, num_heads, tokens, seed):
    """On the reference's weights, outputs equal the reference's (float32, eval mode)."""
    torch.manual_seed(seed)
    init = _init(num_heads=num_heads)
    reference = MultiHeadAttention(**init).eval()
    x = torch.rand(2, tokens, init["d_in"])
    expect_close(nb.forward(NAME, init=init, reference=reference, inputs=[x]), reference(x),
                 what=f"`{NAME}` with {num_heads} heads on {tokens} tokens")
