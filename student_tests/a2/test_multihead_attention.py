"""MultiHeadAttention (section 3.6.2): causal attention with one projection split into heads.

Checks the book's signature and parameter count; the reference's outputs on the same
weights for drawn head layouts, with and without biases, and with one head (CausalAttention
plus the output projection); properties that need no weight mapping (output shape for any
head layout, causality, identical tokens, softmax over each query's row, dropout only while
training, qkv_bias honoured, every weight used); in training mode, dropout on the attention
weights only, scaled by 1/(1-p) (on the reference's weights, token 0's output is one of the
reference's: each head kept and scaled, or dropped); and the book's seeded output.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_working
from reference.ch03 import CausalAttention, MultiHeadAttention
from student_tests.a2.support import (
    TOY_INPUTS,
    check_causal,
    check_dropout_off_in_eval,
    check_dropout_on_in_training,
    check_dropout_position,
    check_first_token_dropout_bound,
    check_identical_tokens,
    check_matches_reference,
    check_qkv_bias,
    check_seeded_book_output,
    check_softmax_rows,
    expect_parameters_used,
    forward_runs,
    multihead_inits,
    parameter_count,
)

pytestmark = pytest.mark.check(component="MultiHeadAttention", section="3.6.2")
NAME, SECTION = "MultiHeadAttention", "3.6.2"
BOOK_SEED_123 = torch.tensor([[0.3190, 0.4858], [0.2943, 0.3897], [0.2856, 0.3593],
                              [0.2693, 0.3873], [0.2639, 0.3928], [0.2575, 0.4028]]).repeat(2, 1, 1)


def _init(d_in=6, d_out=8, num_heads=2, **extra):
    return {"d_in": d_in, "d_out": d_out, "context_length": 8, "dropout": 0.0, "num_heads": num_heads, **extra}


def test_exists_with_the_book_signature(nb):
    """MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out", "context_length", "dropout", "num_heads", "qkv_bias"} - set(component.params)
    expect(not missing and component.defaults.get("qkv_bias") is False,
           f"{component.display} takes {list(component.params)} with defaults {component.defaults}; the book's "
           f"signature is MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False) "
           f"(section {SECTION})")


@settings(max_examples=6)
@given(config=multihead_inits(), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, config, seed):
    """On the reference's weights, outputs equal the reference's for drawn head layouts (float32, eval mode)."""
    init, tokens = config
    torch.manual_seed(seed)
    check_matches_reference(nb, NAME, init=init, reference=MultiHeadAttention(**init),
                            x=torch.rand(2, tokens, init["d_in"]),
                            what=f" with {init} on 2 x {tokens} tokens (seed {seed})", section=SECTION)


@settings(max_examples=3)
@given(config=multihead_inits(min_heads=2), seed=st.integers(0, 2**16))
def test_matches_the_reference_with_qkv_bias(nb, config, seed):
    """With qkv_bias=True, on the reference's weights and biases, outputs equal the reference's."""
    init, tokens = config
    torch.manual_seed(seed)
    init = {**init, "qkv_bias": True}
    check_matches_reference(nb, NAME, init=init, reference=MultiHeadAttention(**init),
                            x=torch.rand(2, tokens, init["d_in"]),
                            what=f" with {init} on 2 x {tokens} tokens (seed {seed})", section=SECTION)


@settings(max_examples=3)
@given(config=multihead_inits(max_heads=1, max_head_dim=6), seed=st.integers(0, 2**16))
def test_one_head_is_causal_attention_with_an_output_projection(nb, config, seed):
    """With num_heads=1 the output is CausalAttention's followed by out_proj (same weights)."""
    init, tokens = config
    torch.manual_seed(seed)
    reference, x = MultiHeadAttention(**init).eval(), torch.rand(2, tokens, init["d_in"])
    single = CausalAttention(*(init[k] for k in ("d_in", "d_out", "context_length", "dropout"))).eval()
    single.load_state_dict({k: v for k, v in reference.state_dict().items() if k.startswith("W_") or k == "mask"})
    with torch.no_grad():
        expected = reference.out_proj(single(x))
    check_matches_reference(nb, NAME, init=init, reference=reference, x=x, expected=expected, section=SECTION,
                            what=f" with one head, {init}, on 2 x {tokens} tokens (seed {seed})",
                            hint="One head is CausalAttention (section 3.5.3) followed by out_proj (section 3.6.2)")


def test_has_the_books_parameter_count(nb):
    """MultiHeadAttention(768, 768, 1024, 0.0, 12) has the book's 2,360,064 parameters, and each shapes the output."""
    init = {"d_in": 768, "d_out": 768, "context_length": 1024, "dropout": 0.0, "num_heads": 12}
    count = parameter_count(nb.state_shapes(NAME, init))
    expect(count == 2_360_064, f"{nb.require(NAME).display}(768, 768, 1024, 0.0, 12) has {count:,} parameters, the "
                               "book's has 2,360,064: query, key and value projections without bias (3 x 768 x 768) "
                               "and the out_proj Linear with bias (768 x 768 + 768) (section 3.6.2)")
    x = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(10))
    expect_parameters_used(nb, NAME, init=_init(), x=x, section=SECTION)


def test_qkv_bias_adds_the_projection_biases(nb):
    """qkv_bias=True gives the query, key and value projections a bias each; False gives none."""
    x = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(10))
    check_qkv_bias(nb, NAME, init=_init(), reference_class=MultiHeadAttention, x=x, section=SECTION)


@settings(max_examples=5)
@given(config=multihead_inits(max_heads=8))
def test_output_shape_for_any_head_layout(nb, config):
    """The output is (batch, tokens, d_out) for any num_heads and head_dim with d_out = num_heads * head_dim."""
    init, tokens = config
    x = torch.rand(3, tokens, init["d_in"], generator=torch.Generator().manual_seed(tokens))
    [output], _ = forward_runs(nb, NAME, [{"init": init, "inputs": [x]}], allow_nan=True)
    expect_working(torch.nan_to_num(output), what=f"{nb.require(NAME).display} with {init}", inputs=x)
    expect(tuple(output.shape) == (3, tokens, init["d_out"]),
           f"{nb.require(NAME).display} with {init}: output shape {tuple(output.shape)} for inputs of shape "
           f"{tuple(x.shape)}; expected {(3, tokens, init['d_out'])} (section {SECTION})")


@settings(max_examples=5)
@given(config=multihead_inits(max_heads=4, min_tokens=2), data=st.data())
def test_is_causal(nb, config, data):
    """Changing later tokens never changes the outputs of earlier ones, for any head layout."""
    init, tokens = config
    position, seed = data.draw(st.integers(0, tokens - 2), label="position"), data.draw(st.integers(0, 2**16))
    x = torch.rand(2, tokens, init["d_in"], generator=torch.Generator().manual_seed(seed))
    check_causal(nb, NAME, init=init, x=x, position=position, seed=seed, section="3.5.1 and 3.6.2")


@settings(max_examples=3)
@given(config=multihead_inits(min_tokens=2), seed=st.integers(0, 2**16))
def test_identical_tokens_give_the_single_token_output(nb, config, seed):
    """A run of identical tokens gives each of them the one-token output (masked weights still sum to 1)."""
    init, tokens = config
    token = torch.rand(2, 1, init["d_in"], generator=torch.Generator().manual_seed(seed))
    check_identical_tokens(nb, NAME, init=init, token=token, tokens=tokens, width=init["d_out"], section="3.5.2",
                           seed=seed)


def test_softmax_normalises_each_querys_row(nb):
    """The attention weights (the softmax's result) sum to 1 over the keys of each query, in every head."""
    x = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(5)) * 4
    check_softmax_rows(nb, NAME, init=_init(), x=x, section=SECTION)


def test_dropout_is_off_in_eval_mode(nb):
    """After .eval(), dropout=0.5 changes nothing."""
    x = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(6))
    check_dropout_off_in_eval(nb, NAME, init=_init(), x=x, seed=6, section="3.5.2")


def test_dropout_acts_in_training_mode(nb):
    """In training mode, dropout=0.5 drops attention weights."""
    x = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(7))
    check_dropout_on_in_training(nb, NAME, init=_init(), x=x, section="3.5.2")


def test_dropout_acts_on_the_attention_weights(nb):
    """In training mode, dropout acts on the attention weights (batch, heads, tokens, tokens) only."""
    x = torch.rand(3, 5, 6, generator=torch.Generator().manual_seed(8))
    check_dropout_position(nb, NAME, init=_init(), x=x, section="3.5.2 and 3.6.2")


def test_dropout_keeps_or_drops_each_weight_scaled(nb):
    """On the reference's weights in training mode, token 0's weight in each head is dropped or kept and scaled."""
    torch.manual_seed(12)
    init = {**_init(), "dropout": 0.5}
    x = torch.rand(8, 5, 6, generator=torch.Generator().manual_seed(9))
    check_first_token_dropout_bound(nb, NAME, init=init, reference=MultiHeadAttention(**init), x=x,
                                    section="3.5.2 and 3.6.2")


def test_moves_with_the_module_to_another_device(nb):
    """Moved with .to(device), it runs there: the causal mask is a buffer (register_buffer), not a plain attribute
    left on the CPU (tried on PyTorch's meta device, standing for a GPU)."""
    x = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(14))
    nb.expect_moves_with_the_module(NAME, init=_init(), inputs=[x], section="3.5.3")


def test_seeded_output_matches_the_book(nb):
    """With torch.manual_seed(123), MultiHeadAttention(3, 2, 6, 0.0, num_heads=2) prints the book's numbers."""
    init = {"d_in": 3, "d_out": 2, "context_length": 6, "dropout": 0.0, "num_heads": 2}
    check_seeded_book_output(nb, NAME, init=init, seed=123, inputs=torch.stack([TOY_INPUTS, TOY_INPUTS]),
                             book=BOOK_SEED_123, reference_class=MultiHeadAttention, section=SECTION)
