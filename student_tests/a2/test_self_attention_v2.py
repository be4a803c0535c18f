"""SelfAttention_v2 (section 3.4.2): self-attention with nn.Linear query, key and value projections.

Checks the book's signature (with `qkv_bias=False`); the reference's outputs on the same
weights, with and without biases; properties that need no weight mapping (identical tokens,
softmax over each query's row, qkv_bias honoured); and the book's seeded output.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch03 import SelfAttention_v2
from student_tests.a2.support import (
    TOY_INPUTS,
    attention_sizes,
    check_identical_tokens,
    check_matches_reference,
    check_qkv_bias,
    check_seeded_book_output,
    check_softmax_rows,
)

pytestmark = pytest.mark.check(component="SelfAttention_v2", section="3.4.2")
NAME, SECTION = "SelfAttention_v2", "3.4.2"
BOOK_SEED_789 = torch.tensor([[-0.0739, 0.0713], [-0.0748, 0.0703], [-0.0749, 0.0702],
                              [-0.0760, 0.0685], [-0.0763, 0.0679], [-0.0754, 0.0693]])


def test_exists_with_the_book_signature(nb):
    """SelfAttention_v2(d_in, d_out, qkv_bias=False) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out", "qkv_bias"} - set(component.params)
    expect(not missing and component.defaults.get("qkv_bias") is False,
           f"{component.display} takes {list(component.params)} with defaults {component.defaults}; the book's "
           f"signature is SelfAttention_v2(d_in, d_out, qkv_bias=False) (section {SECTION})")


@settings(max_examples=5)
@given(sizes=attention_sizes(), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, sizes, seed):
    """On the reference's weights, outputs equal the reference's (float32)."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    reference, x = SelfAttention_v2(d_in, d_out), torch.rand(tokens, d_in)
    check_matches_reference(nb, NAME, init={"d_in": d_in, "d_out": d_out}, reference=reference, x=x,
                            what=f"(d_in={d_in}, d_out={d_out}) on {tokens} tokens (seed {seed})", section=SECTION)


@settings(max_examples=3)
@given(sizes=attention_sizes(), seed=st.integers(0, 2**16))
def test_matches_the_reference_with_qkv_bias(nb, sizes, seed):
    """With qkv_bias=True, on the reference's weights and biases, outputs equal the reference's."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    init = {"d_in": d_in, "d_out": d_out, "qkv_bias": True}
    check_matches_reference(nb, NAME, init=init, reference=SelfAttention_v2(**init), x=torch.rand(tokens, d_in),
                            what=f"(d_in={d_in}, d_out={d_out}, qkv_bias=True) on {tokens} tokens (seed {seed})",
                            section=SECTION)


def test_qkv_bias_adds_the_projection_biases(nb):
    """qkv_bias=True gives the query, key and value projections a bias each; False gives none; all weights are used."""
    x = torch.rand(5, 4, generator=torch.Generator().manual_seed(10))
    check_qkv_bias(nb, NAME, init={"d_in": 4, "d_out": 6}, reference_class=SelfAttention_v2, x=x, section=SECTION)


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
    """With torch.manual_seed(789), SelfAttention_v2(3, 2) on the toy input prints the book's numbers."""
    check_seeded_book_output(nb, NAME, init={"d_in": 3, "d_out": 2}, seed=789, inputs=TOY_INPUTS,
                             book=BOOK_SEED_789, reference_class=SelfAttention_v2, section=SECTION)
