"""MultiHeadAttentionWrapper (section 3.6.1): several CausalAttention heads, outputs concatenated.

Checks the book's signature; the reference's outputs on the same weights for drawn head
counts; properties that need no weight mapping (output width num_heads * d_out, causality,
qkv_bias honoured, every weight used); and dropout: off in eval mode, in training mode on each
head's attention weights only and scaled by 1/(1-p).

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_working
from reference.ch03 import MultiHeadAttentionWrapper
from student_tests.a2.support import (
    attention_sizes,
    check_causal,
    check_dropout_off_in_eval,
    check_dropout_position,
    check_first_token_dropout,
    check_matches_reference,
    check_qkv_bias,
    forward_runs,
)

pytestmark = pytest.mark.check(component="MultiHeadAttentionWrapper", section="3.6.1")
NAME, SECTION, CONTEXT = "MultiHeadAttentionWrapper", "3.6.1", 8


def _init(d_in=4, d_out=3, num_heads=2, **extra):
    return {"d_in": d_in, "d_out": d_out, "context_length": CONTEXT, "dropout": 0.0, "num_heads": num_heads, **extra}


def test_exists_with_the_book_signature(nb):
    """MultiHeadAttentionWrapper(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False) exists."""
    component = nb.require(NAME)
    missing = {"d_in", "d_out", "context_length", "dropout", "num_heads", "qkv_bias"} - set(component.params)
    expect(not missing and component.defaults.get("qkv_bias") is False,
           f"{component.display} takes {list(component.params)} with defaults {component.defaults}; the book's "
           f"signature is MultiHeadAttentionWrapper(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False) "
           f"(section {SECTION})")


@settings(max_examples=4)
@given(sizes=attention_sizes(max_dim=6, max_tokens=CONTEXT), num_heads=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, sizes, num_heads, seed):
    """On the reference's weights, outputs equal the reference's for drawn head counts (float32, eval mode)."""
    d_in, d_out, tokens = sizes
    torch.manual_seed(seed)
    init = _init(d_in, d_out, num_heads)
    check_matches_reference(nb, NAME, init=init, reference=MultiHeadAttentionWrapper(**init),
                            x=torch.rand(2, tokens, d_in), what=f" with {init} on 2 x {tokens} tokens (seed {seed})",
                            section=SECTION)


@settings(max_examples=4)
@given(sizes=attention_sizes(max_dim=6, max_tokens=CONTEXT), num_heads=st.integers(1, 4))
def test_output_width_is_num_heads_times_d_out(nb, sizes, num_heads):
    """The heads' outputs are concatenated: the output is (batch, tokens, num_heads * d_out)."""
    d_in, d_out, tokens = sizes
    x = torch.rand(2, tokens, d_in, generator=torch.Generator().manual_seed(tokens))
    [output], _ = forward_runs(nb, NAME, [{"init": _init(d_in, d_out, num_heads), "inputs": [x]}], allow_nan=True)
    want = (2, tokens, num_heads * d_out)
    expect_working(torch.nan_to_num(output), what=f"{nb.require(NAME).display} with {_init(d_in, d_out, num_heads)}",
                   inputs=x)
    expect(tuple(output.shape) == want, f"{nb.require(NAME).display} with {_init(d_in, d_out, num_heads)}: output "
                                        f"shape {tuple(output.shape)} for inputs of shape {tuple(x.shape)}; expected "
                                        f"{want}, the {num_heads} heads' outputs side by side (section {SECTION})")


@settings(max_examples=4)
@given(sizes=attention_sizes(max_dim=6, min_tokens=2, max_tokens=CONTEXT), num_heads=st.integers(1, 3),
       data=st.data())
def test_is_causal(nb, sizes, num_heads, data):
    """Changing later tokens never changes the outputs of earlier ones."""
    d_in, d_out, tokens = sizes
    position, seed = data.draw(st.integers(0, tokens - 2), label="position"), data.draw(st.integers(0, 2**16))
    x = torch.rand(2, tokens, d_in, generator=torch.Generator().manual_seed(seed))
    check_causal(nb, NAME, init=_init(d_in, d_out, num_heads), x=x, position=position, seed=seed, section="3.5")


def test_qkv_bias_adds_the_projection_biases(nb):
    """qkv_bias=True gives every head's query, key and value projections a bias each; False gives none."""
    x = torch.rand(2, 5, 4, generator=torch.Generator().manual_seed(10))
    check_qkv_bias(nb, NAME, init=_init(), reference_class=MultiHeadAttentionWrapper, x=x, section=SECTION)


def test_dropout_is_off_in_eval_mode(nb):
    """After .eval(), dropout=0.5 changes nothing."""
    x = torch.rand(2, 6, 4, generator=torch.Generator().manual_seed(6))
    check_dropout_off_in_eval(nb, NAME, init=_init(), x=x, seed=6, section="3.5.2")


def test_dropout_acts_on_the_attention_weights(nb):
    """In training mode, dropout acts on each head's attention weights (batch, tokens, tokens) only."""
    x = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(8))
    check_dropout_position(nb, NAME, init=_init(), x=x, section="3.5.2 and 3.6.1")


def test_dropout_keeps_or_drops_each_weight_scaled(nb):
    """In training mode, token 0's weight in each head is dropped (that head's output 0) or kept and scaled."""
    x = torch.rand(8, 5, 4, generator=torch.Generator().manual_seed(9))
    check_first_token_dropout(nb, NAME, init=_init(), x=x, head_width=3, section="3.5.2 and 3.6.1")
