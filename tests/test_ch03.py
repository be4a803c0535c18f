"""Chapter 3 reference (attention): the book's printed rows on the toy input, causality and equivalences.

Run: pytest tests/test_ch03.py
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from torch import nn

from reference.ch03 import (
    CausalAttention,
    GroupedQueryAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttention_v1,
    SelfAttention_v2,
    attention_scores,
    causal_mask,
    scaled_attention,
    simple_self_attention,
)
from strategies import AttentionSize, attention_sizes, seeds

BOOK_ATOL = 1e-4  # the book prints 4 decimals


def assert_book_close(actual, expected_rows):
    torch.testing.assert_close(actual.detach(), torch.tensor(expected_rows), atol=BOOK_ATOL, rtol=0)


def random_inputs(size, seed):
    return torch.randn(size.batch, size.num_tokens, size.d_in, generator=torch.Generator().manual_seed(seed))


def attention_weights(queries, keys, mask=None):
    """The weights scaled_attention applies, read out by attending over identity-matrix values."""
    values = torch.eye(keys.shape[-2]).expand(*keys.shape[:-1], keys.shape[-2])
    return scaled_attention(queries, keys, values, mask)


def copy_linear(target: nn.Linear, weight, bias=None):
    with torch.no_grad():
        target.weight.copy_(weight)
        if target.bias is not None:
            target.bias.copy_(bias if bias is not None else torch.zeros_like(target.bias))


def build(size, kind, *, dropout=0.0, qkv_bias=False):
    """One causal attention module of `kind` with the drawn sizes, in eval mode."""
    if kind == "causal":
        module = CausalAttention(size.d_in, size.d_out, size.num_tokens, dropout, qkv_bias)
    elif kind == "multi-head":
        module = MultiHeadAttention(size.d_in, size.d_out, size.num_tokens, dropout, size.num_heads, qkv_bias)
    else:
        module = GroupedQueryAttention(size.d_in, size.d_out, dropout, size.num_heads, size.num_kv_groups,
                                       qkv_bias=qkv_bias)
    return module.eval()


# ---- the book's printed rows ---------------------------------------------------------------


def test_book_scores_against_query_2(toy_inputs):
    """Book 3.3.1: dot products of every input with `journey` (inputs[1])."""
    assert_book_close(attention_scores(toy_inputs)[1], [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])


def test_book_weights_and_context_vector_2(toy_inputs):
    """Book 3.3.1: softmax of those scores, and the context vector of `journey`."""
    assert_book_close(torch.softmax(attention_scores(toy_inputs)[1], dim=0),
                      [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    assert_book_close(simple_self_attention(toy_inputs)[1], [0.4419, 0.6515, 0.5683])


def test_book_all_context_vectors(toy_inputs):
    """Book 3.3.2: rows 0 and 5 of all context vectors without trainable weights."""
    context = simple_self_attention(toy_inputs)
    assert_book_close(context[[0, 5]], [[0.4421, 0.5931, 0.5790], [0.4177, 0.6503, 0.5645]])


def test_book_self_attention_v1_seed_123(toy_inputs):
    """Book 3.4.1: torch.manual_seed(123); SelfAttention_v1(3, 2)(inputs)."""
    torch.manual_seed(123)
    assert_book_close(SelfAttention_v1(3, 2)(toy_inputs), [[0.2996, 0.8053], [0.3061, 0.8210], [0.3058, 0.8203],
                                                           [0.2948, 0.7939], [0.2927, 0.7891], [0.2990, 0.8040]])


def test_book_self_attention_v2_seed_789(toy_inputs):
    """Book 3.4.2: torch.manual_seed(789); SelfAttention_v2(3, 2)(inputs)."""
    torch.manual_seed(789)
    expected = [[-0.0739, 0.0713], [-0.0748, 0.0703], [-0.0749, 0.0702],
                [-0.0760, 0.0685], [-0.0763, 0.0679], [-0.0754, 0.0693]]
    assert_book_close(SelfAttention_v2(3, 2)(toy_inputs), expected)


def test_book_causal_attention_seed_123(toy_inputs):
    """Book 3.5.3: torch.manual_seed(123); CausalAttention(3, 2, 6, 0.0) on the input stacked twice."""
    torch.manual_seed(123)
    expected = [[-0.4519, 0.2216], [-0.5874, 0.0058], [-0.6300, -0.0632],
                [-0.5675, -0.0843], [-0.5526, -0.0981], [-0.5299, -0.1081]]
    assert_book_close(CausalAttention(3, 2, 6, 0.0)(torch.stack([toy_inputs, toy_inputs])), [expected, expected])


def test_book_multi_head_attention_seed_123(toy_inputs):
    """Book 3.6.2: torch.manual_seed(123); MultiHeadAttention(3, 2, 6, 0.0, num_heads=2) on the stacked input."""
    torch.manual_seed(123)
    expected = [[0.3190, 0.4858], [0.2943, 0.3897], [0.2856, 0.3593],
                [0.2693, 0.3873], [0.2639, 0.3928], [0.2575, 0.4028]]
    mha = MultiHeadAttention(3, 2, 6, 0.0, num_heads=2)
    assert_book_close(mha(torch.stack([toy_inputs, toy_inputs])), [expected, expected])


def test_book_gpt2_sized_multi_head_attention_has_2360064_parameters():
    """Book 3.6.2: MultiHeadAttention(768, 768, 1024, 0.0, 12) has 2,360,064 parameters (the mask is a buffer)."""
    mha = MultiHeadAttention(768, 768, 1024, 0.0, 12)
    assert sum(p.numel() for p in mha.parameters()) == 2_360_064


# ---- scaled_attention ---------------------------------------------------------------------------


@given(size=attention_sizes(), seed=seeds())
def test_attention_weight_rows_sum_to_one(size, seed):
    """Causal attention weights are a probability distribution over the visible positions."""
    queries, keys = random_inputs(size, seed), random_inputs(size, seed + 1)
    weights = attention_weights(queries, keys, causal_mask(size.num_tokens).bool())
    torch.testing.assert_close(weights.sum(-1), torch.ones(size.batch, size.num_tokens))
    assert (weights[:, causal_mask(size.num_tokens).bool()] == 0).all()


@given(size=attention_sizes(), seed=seeds())
def test_scaled_attention_matches_torch_sdpa(size, seed):
    """scaled_attention with the causal mask equals F.scaled_dot_product_attention(is_causal=True)."""
    q, k, v = (random_inputs(size, seed + i) for i in range(3))
    ours = scaled_attention(q, k, v, causal_mask(size.num_tokens).bool())
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_unmasked_scaled_attention_matches_torch_sdpa(toy_inputs):
    """Without a mask, scaled_attention equals F.scaled_dot_product_attention (scaling by sqrt(d_k))."""
    q, k, v = toy_inputs * 2, toy_inputs.flip(0), toy_inputs.roll(1, dims=1)
    torch.testing.assert_close(scaled_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


# ---- causal attention modules --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["causal", "multi-head", "grouped-query"])
@given(size=attention_sizes(), seed=seeds())
def test_future_tokens_never_change_past_outputs(kind, size, seed):
    """Replacing the tokens from position `cut` on leaves the outputs before `cut` unchanged."""
    torch.manual_seed(seed)
    module, x = build(size, kind), random_inputs(size, seed)
    for cut in range(1, size.num_tokens):
        changed = torch.cat([x[:, :cut], torch.randn_like(x[:, cut:])], dim=1)
        torch.testing.assert_close(module(changed)[:, :cut], module(x)[:, :cut])


@given(size=attention_sizes(), seed=seeds())
def test_multi_head_attention_equals_wrapper_with_arranged_weights(size, seed):
    """MHA whose projection block i holds head i's weights (identity out_proj) equals the wrapper of heads."""
    torch.manual_seed(seed)
    wrapper = MultiHeadAttentionWrapper(size.d_in, size.head_dim, size.num_tokens, 0.0, size.num_heads)
    mha = MultiHeadAttention(size.d_in, size.d_out, size.num_tokens, 0.0, size.num_heads)
    for name in ("W_query", "W_key", "W_value"):
        copy_linear(getattr(mha, name), torch.cat([getattr(head, name).weight for head in wrapper.heads]))
    copy_linear(mha.out_proj, torch.eye(size.d_out))
    x = random_inputs(size, seed)
    torch.testing.assert_close(mha(x), wrapper(x))


@given(size=attention_sizes(), seed=seeds())
def test_grouped_query_attention_with_one_group_per_head_equals_mha(size, seed):
    """GroupedQueryAttention with num_kv_groups == num_heads is MultiHeadAttention with the same weights."""
    torch.manual_seed(seed)
    gqa = GroupedQueryAttention(size.d_in, size.d_out, 0.0, size.num_heads, size.num_heads, qkv_bias=True)
    mha = MultiHeadAttention(size.d_in, size.d_out, size.num_tokens, 0.0, size.num_heads, qkv_bias=True)
    for name in ("W_query", "W_key", "W_value", "out_proj"):
        copy_linear(getattr(mha, name), getattr(gqa, name).weight, getattr(gqa, name).bias)
    x = random_inputs(size, seed)
    torch.testing.assert_close(gqa(x), mha(x))


@given(size=attention_sizes(grouped=True), seed=seeds())
def test_grouped_query_attention_equals_mha_with_repeated_key_value_weights(size, seed):
    """Query heads h share group h // group_size: MHA whose key/value blocks repeat each group's is the same."""
    torch.manual_seed(seed)
    gqa = build(size, "grouped-query", qkv_bias=True)
    mha = build(size, "multi-head", qkv_bias=True)
    group_size = size.num_heads // size.num_kv_groups
    for name in ("W_key", "W_value"):
        source = getattr(gqa, name)
        weight = source.weight.view(size.num_kv_groups, size.head_dim, size.d_in).repeat_interleave(group_size, 0)
        bias = source.bias.view(size.num_kv_groups, size.head_dim).repeat_interleave(group_size, 0)
        copy_linear(getattr(mha, name), weight.reshape(size.d_out, size.d_in), bias.reshape(size.d_out))
    for name in ("W_query", "out_proj"):
        copy_linear(getattr(mha, name), getattr(gqa, name).weight, getattr(gqa, name).bias)
    x = random_inputs(size, seed)
    torch.testing.assert_close(gqa(x), mha(x))


@given(size=attention_sizes(max_heads=1), seed=seeds())
def test_single_head_mha_equals_causal_attention_then_out_proj(size, seed):
    """With one head, MultiHeadAttention is CausalAttention with the same weights followed by out_proj."""
    torch.manual_seed(seed)
    mha = build(size, "multi-head", qkv_bias=True)
    single = build(size, "causal", qkv_bias=True)
    for name in ("W_query", "W_key", "W_value"):
        copy_linear(getattr(single, name), getattr(mha, name).weight, getattr(mha, name).bias)
    x = random_inputs(size, seed)
    torch.testing.assert_close(mha(x), mha.out_proj(single(x)))


@pytest.mark.parametrize("kind", ["causal", "multi-head", "grouped-query"])
def test_dropout_is_inactive_in_eval_mode(kind):
    """In eval mode dropout=0.5 gives the output of dropout=0.0 with the same weights; in train mode it differs."""
    size = AttentionSize(batch=2, num_tokens=6, d_in=4, num_heads=2, head_dim=3, num_kv_groups=1)
    with_dropout, without = build(size, kind, dropout=0.5), build(size, kind, dropout=0.0)
    without.load_state_dict(with_dropout.state_dict())
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(with_dropout(x), without(x))
    assert not torch.allclose(with_dropout.train()(x), without(x))


@pytest.mark.parametrize("module", [CausalAttention(3, 2, 5, 0.0), MultiHeadAttention(3, 4, 5, 0.0, num_heads=2)],
                         ids=["causal", "multi-head"])
def test_causal_mask_is_a_buffer_named_mask(module):
    """The mask is saved in state_dict as `mask` (1 above the diagonal) and is not a trained parameter."""
    torch.testing.assert_close(module.state_dict()["mask"], torch.triu(torch.ones(5, 5), diagonal=1))
    assert "mask" not in dict(module.named_parameters())


@pytest.mark.parametrize(
    "make",
    [lambda: MultiHeadAttention(4, 6, 5, 0.0, num_heads=4), lambda: GroupedQueryAttention(4, 6, 0.0, 4, 2),
     lambda: GroupedQueryAttention(8, 8, 0.0, 4, 3)],
    ids=["mha d_out 6 / 4 heads", "gqa d_out 6 / 4 heads", "gqa 4 heads / 3 groups"],
)
def test_indivisible_sizes_raise_value_error(make):
    """d_out must split evenly into heads (and heads into key/value groups), else ValueError."""
    with pytest.raises(ValueError, match="divisible"):
        make()
