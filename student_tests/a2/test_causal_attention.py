"""CausalAttention (section 3.5): batched single-head attention with a causal mask and dropout.

Checks the book's signature; the reference's outputs on the same weights for batches of
sequences up to `context_length` tokens, with and without biases; properties that need no
weight mapping (causality, identical tokens, softmax over each query's row, dropout only
while training, qkv_bias honoured, every weight used); in training mode, dropout on the attention
weights only and scaled by 1/(1-p) (token 0 attends only to itself, so its output is 0 or
scaled); and the book's seeded output.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch03 import CausalAttention
from student_tests.a2.support import (
    TOY_INPUTS,
    attention_sizes,
    check_causal,
    check_dropout_off_in_eval,
    check_dropout_on_in_training,
    check_dropout_position,
    check_first_token_dropout,
    check_identical_tokens,
    check_matches_reference,
    check_qkv_bias,
    check_seeded_book_output,
    check_softmax_rows,
)

pytestmark = pytest.mark.check(component="CausalAttention", section="3.5")
NAME, SECTION, CONTEXT = "CausalAttention", "3.5", 8
BOOK_SEED_123 = torch.tensor([[-0.4519, 0.2216], [-0.5874, 0.0058], [-0.6300, -0.0632],
                              [-0.5675, -0.0843], [-0.5526, -0.0981], [-0.5299, -0.1081]]).repeat(2, 1, 1)


def _init(d_in=4, d_out=6, **extra):
    return {"d_in": d_in, "d_out": d_out, "context_length": CONTEXT, "dropout": 0.0, **extra}


def test_exists_with_the_book_signature(nb):
    """CausalAttention(d_in, d_out, context_length, dropout, qkv_bias=False) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out", "context_length", "dropout", "qkv_bias"} - set(component.params)
    expect(not missing and component.defaults.get("qkv_bias") is False,
           f"{component.display} takes {list(component.params)} with defaults {component.defaults}; the book's "
           f"signature is CausalAttention(d_in, d_out, context_length, dropout, qkv_bias=False) (section {SECTION})")


@settings(max_examples=5)
@given(sizes=attention_sizes(max_tokens=CONTEXT), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, sizes, seed):
    """On the reference's weights, outputs equal the reference's for a batch of 2 (float32, eval mode)."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    init = _init(d_in, d_out)
    check_matches_reference(nb, NAME, init=init, reference=CausalAttention(**init), x=torch.rand(2, tokens, d_in),
                            what=f"(d_in={d_in}, d_out={d_out}, context_length={CONTEXT}) on a batch of 2 x "
                                 f"{tokens} tokens (seed {seed})", section=SECTION)


@settings(max_examples=3)
@given(sizes=attention_sizes(max_tokens=CONTEXT), seed=st.integers(0, 2**16))
def test_matches_the_reference_with_qkv_bias(nb, sizes, seed):
    """With qkv_bias=True, on the reference's weights and biases, outputs equal the reference's."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    init = _init(d_in, d_out, qkv_bias=True)
    check_matches_reference(nb, NAME, init=init, reference=CausalAttention(**init), x=torch.rand(2, tokens, d_in),
                            what=f"(d_in={d_in}, d_out={d_out}, qkv_bias=True) on 2 x {tokens} tokens (seed {seed})",
                            section=SECTION)


@settings(max_examples=5)
@given(sizes=attention_sizes(min_tokens=2, max_tokens=CONTEXT), data=st.data())
def test_is_causal(nb, sizes, data):
    """Changing later tokens never changes the outputs of earlier ones."""
    d_in, d_out, tokens = sizes
    position, seed = data.draw(st.integers(0, tokens - 2), label="position"), data.draw(st.integers(0, 2**16))
    x = torch.rand(2, tokens, d_in, generator=torch.Generator().manual_seed(seed))
    check_causal(nb, NAME, init=_init(d_in, d_out), x=x, position=position, seed=seed, section="3.5.1")


@settings(max_examples=3)
@given(sizes=attention_sizes(min_tokens=2, max_tokens=CONTEXT), seed=st.integers(0, 2**16))
def test_identical_tokens_give_the_single_token_output(nb, sizes, seed):
    """A run of identical tokens gives each of them the one-token output (masked weights still sum to 1)."""
    d_in, d_out, tokens = sizes
    token = torch.rand(2, 1, d_in, generator=torch.Generator().manual_seed(seed))
    check_identical_tokens(nb, NAME, init=_init(d_in, d_out), token=token, tokens=tokens, width=d_out,
                           section="3.5.2", seed=seed)


def test_softmax_normalises_each_querys_row(nb):
    """The attention weights (the softmax's result) sum to 1 over the keys of each query."""
    x = torch.rand(2, 5, 3, generator=torch.Generator().manual_seed(5)) * 4
    check_softmax_rows(nb, NAME, init=_init(3, 4), x=x, section=SECTION)


def test_dropout_is_off_in_eval_mode(nb):
    """After .eval(), dropout=0.5 changes nothing."""
    x = torch.rand(2, 6, 4, generator=torch.Generator().manual_seed(6))
    check_dropout_off_in_eval(nb, NAME, init=_init(4, 6), x=x, seed=6, section="3.5.2")


def test_dropout_acts_in_training_mode(nb):
    """In training mode, dropout=0.5 drops attention weights."""
    x = torch.rand(2, 6, 4, generator=torch.Generator().manual_seed(7))
    check_dropout_on_in_training(nb, NAME, init=_init(4, 6), x=x, section="3.5.2")


def test_dropout_acts_on_the_attention_weights(nb):
    """In training mode, dropout acts on the attention weights (batch, tokens, tokens) only, at the given rate."""
    x = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(8))
    check_dropout_position(nb, NAME, init=_init(4, 6), x=x, section="3.5.2")


def test_dropout_keeps_or_drops_each_weight_scaled(nb):
    """In training mode, token 0's single attention weight is dropped (output 0) or kept and scaled by 1/(1-p)."""
    x = torch.rand(8, 5, 4, generator=torch.Generator().manual_seed(9))
    check_first_token_dropout(nb, NAME, init=_init(4, 6), x=x, head_width=6, section="3.5.2")


def test_qkv_bias_adds_the_projection_biases(nb):
    """qkv_bias=True gives the query, key and value projections a bias each; False gives none; all weights are used."""
    x = torch.rand(2, 5, 4, generator=torch.Generator().manual_seed(10))
    check_qkv_bias(nb, NAME, init=_init(4, 6), reference_class=CausalAttention, x=x, section=SECTION)


def test_moves_with_the_module_to_another_device(nb):
    """Moved with .to(device), it runs there: the causal mask is a buffer (register_buffer), not a plain attribute
    left on the CPU (tried on PyTorch's meta device, standing for a GPU)."""
    x = torch.rand(2, 5, 4, generator=torch.Generator().manual_seed(14))
    nb.expect_moves_with_the_module(NAME, init=_init(4, 6), inputs=[x], section="3.5.3")


def test_seeded_output_matches_the_book(nb):
    """With torch.manual_seed(123), CausalAttention(3, 2, 6, 0.0) prints the book's numbers on the toy batch."""
    init = {"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0}
    check_seeded_book_output(nb, NAME, init=init, seed=123, inputs=torch.stack([TOY_INPUTS, TOY_INPUTS]),
                             book=BOOK_SEED_123, reference_class=CausalAttention, section="3.5.3")
