"""Exercise 3.3: GroupedQueryAttention, causal attention whose query heads share key/value groups.

`GroupedQueryAttention(d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None,
qkv_bias=False)`, with the causal mask sized from the input (no context_length). Checks the
reference's outputs on the same weights for drawn head and group counts, that with
`num_kv_groups == num_heads` it is MultiHeadAttention, causality for long inputs, and, when it
applies dropout, that it drops attention weights scaled by 1/(1-p) like the reference (the book's
own grouped-query attention has none: then informational).
Skipped when the notebook has no GroupedQueryAttention (an exercise is never failed for
not being attempted).

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_close
from reference.ch03 import GroupedQueryAttention, MultiHeadAttention
from student_tests.a2.support import (
    check_causal,
    check_dropout_position,
    check_first_token_dropout_bound,
    check_matches_reference,
    kv_layouts,
)

pytestmark = pytest.mark.check(component="GroupedQueryAttention", section="3.6.2 (exercise 3.3)")
NAME, SECTION = "GroupedQueryAttention", "3.6.2 and exercise 3.3"


def _init(num_heads, num_kv_groups, head_dim, d_in=5):
    return {"d_in": d_in, "d_out": num_heads * head_dim, "dropout": 0.0, "num_heads": num_heads,
            "num_kv_groups": num_kv_groups}


def test_exists_with_the_exercise_signature(nb):
    """GroupedQueryAttention(d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False) exists."""
    component = nb.exercise(NAME)
    missing = {"d_in", "d_out", "dropout", "num_heads", "num_kv_groups"} - set(component.params)
    expect(not missing, f"{component.display} takes {list(component.params)}; the exercise's signature is "
                        "GroupedQueryAttention(d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, "
                        "qkv_bias=False)")


def test_groups_serve_consecutive_query_heads(nb):
    """With 4 heads in 2 groups, heads 0-1 share the first key/value head and heads 2-3 the second."""
    nb.exercise(NAME)
    torch.manual_seed(1)
    init = _init(4, 2, 2)
    check_matches_reference(nb, NAME, init=init, reference=GroupedQueryAttention(**init),
                            x=torch.rand(2, 5, init["d_in"]), what=f" with {init} on 2 x 5 tokens",
                            section=SECTION)


@settings(max_examples=5)
@given(layout=kv_layouts(), tokens=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, layout, tokens, seed):
    """On the reference's weights, outputs equal the reference's for drawn head and group counts."""
    nb.exercise(NAME)
    torch.manual_seed(seed)
    init = _init(*layout)
    check_matches_reference(nb, NAME, init=init, reference=GroupedQueryAttention(**init),
                            x=torch.rand(2, tokens, init["d_in"]),
                            what=f" with {init} on 2 x {tokens} tokens (seed {seed})",
                            section=SECTION)


@settings(max_examples=3)
@given(num_heads=st.sampled_from([1, 2, 4]), head_dim=st.integers(1, 3), tokens=st.integers(1, 8),
       seed=st.integers(0, 2**16))
def test_equals_multihead_attention_with_one_group_per_head(nb, num_heads, head_dim, tokens, seed):
    """With num_kv_groups == num_heads it gives MultiHeadAttention's outputs on the same weights."""
    component = nb.exercise(NAME)
    torch.manual_seed(seed)
    init = _init(num_heads, num_heads, head_dim)
    mha = MultiHeadAttention(init["d_in"], init["d_out"], tokens, 0.0, num_heads).eval()
    x = torch.rand(2, tokens, init["d_in"])
    with torch.no_grad():
        expected = mha(x)
    expect_close(nb.forward(NAME, init=init, reference=mha, inputs=[x]), expected,
                 what=f"{component.display} with {init} against MultiHeadAttention on 2 x {tokens} tokens")


@settings(max_examples=4)
@given(layout=kv_layouts(max_heads=4), tokens=st.integers(2, 40), data=st.data())
def test_is_causal_for_any_length(nb, layout, tokens, data):
    """Changing later tokens never changes earlier outputs, for sequences of any length (mask sized from the input)."""
    nb.exercise(NAME)
    position, seed = data.draw(st.integers(0, tokens - 2), label="position"), data.draw(st.integers(0, 2**16))
    init = _init(*layout)
    x = torch.rand(2, tokens, init["d_in"], generator=torch.Generator().manual_seed(seed))
    check_causal(nb, NAME, init=init, x=x, position=position, seed=seed, section=SECTION)


def test_dropout_acts_on_the_attention_weights(nb):
    """In training mode, any dropout acts on the attention weights (batch, heads, tokens, tokens) only."""
    nb.exercise(NAME)
    x = torch.rand(3, 5, 5, generator=torch.Generator().manual_seed(8))
    check_dropout_position(nb, NAME, init=_init(4, 2, 2), x=x, section=SECTION, optional=True)


def test_dropout_keeps_or_drops_each_weight_scaled(nb):
    """On the reference's weights in training mode, token 0's weight in each query head is dropped or kept, scaled."""
    nb.exercise(NAME)
    torch.manual_seed(12)
    init = {**_init(4, 2, 2), "dropout": 0.5}
    x = torch.rand(8, 5, 5, generator=torch.Generator().manual_seed(9))
    check_first_token_dropout_bound(nb, NAME, init=init, reference=GroupedQueryAttention(**init), x=x,
                                    section=SECTION, optional=True)
