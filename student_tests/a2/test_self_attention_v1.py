"""SelfAttention_v1 (section 3.4.1): scaled dot-product self-attention with raw weight matrices.

Checks the book's signature; the reference's outputs on the same weights (raw
`nn.Parameter(d_in, d_out)` matrices, or `nn.Linear` layouts, which are mapped transposed);
properties that need no weight mapping (identical tokens, softmax over each query's row);
and the book's seeded output.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch03 import SelfAttention_v1
from student_tests.a2.support import (
    TOY_INPUTS,
    attention_sizes,
    check_identical_tokens,
    check_matches_reference,
    check_seeded_book_output,
    check_softmax_rows,
)

pytestmark = pytest.mark.check(component="SelfAttention_v1", section="3.4.1")
NAME, SECTION = "SelfAttention_v1", "3.4.1"
BOOK_SEED_123 = torch.tensor([[0.2996, 0.8053], [0.3061, 0.8210], [0.3058, 0.8203],
                              [0.2948, 0.7939], [0.2927, 0.7891], [0.2990, 0.8040]])


def test_exists_with_the_book_signature(nb):
    """SelfAttention_v1(d_in, d_out) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out"} - set(component.params)
    expect(not missing, f"{component.display} takes no argument(s) {sorted(missing)}; the book's signature is "
                        f"SelfAttention_v1(d_in, d_out) (section {SECTION})")


@settings(max_examples=5)
@given(sizes=attention_sizes(), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, sizes, seed):
    """On the reference's weights, outputs equal the reference's (float32)."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    reference, x = SelfAttention_v1(d_in, d_out), torch.rand(tokens, d_in)
    check_matches_reference(nb, NAME, init={"d_in": d_in, "d_out": d_out}, reference=reference, x=x,
                            what=f"(d_in={d_in}, d_out={d_out}) on {tokens} tokens (seed {seed})", section=SECTION)


@settings(max_examples=4)
@given(sizes=attention_sizes(min_tokens=2), seed=st.integers(0, 2**16))
def test_identical_tokens_give_the_single_token_output(nb, sizes, seed):
    """A run of identical tokens gives each of them the one-token output (weights sum to 1)."""
    d_in, d_out, tokens = sizes
    token = torch.rand(1, d_in, generator=torch.Generator().manual_seed(seed))
    check_identical_tokens(nb, NAME, init={"d_in": d_in, "d_out": d_out}, token=token, tokens=tokens,
                           width=d_out, section=SECTION, seed=seed)


def test_softmax_normalises_each_querys_row(nb):
    """The attention weights (the softmax's result) sum to 1 over the keys of each query."""
    x = torch.rand(5, 3, generator=torch.Generator().manual_seed(5)) * 4
    check_softmax_rows(nb, NAME, init={"d_in": 3, "d_out": 4}, x=x, section=SECTION)


def test_seeded_output_matches_the_book(nb):
    """With torch.manual_seed(123), SelfAttention_v1(3, 2) on the toy input prints the book's numbers."""
    check_seeded_book_output(nb, NAME, init={"d_in": 3, "d_out": 2}, seed=123, inputs=TOY_INPUTS,
                             book=BOOK_SEED_123, reference_class=SelfAttention_v1, section=SECTION)
