"""Chapter 4 reference (GPT model): the book's printed rows, torch oracles, causality and the KV cache.

Run: pytest tests/test_ch04.py   (the full-size 124M checks are marked `slow` and still run)
"""

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reference.assets import gpt2_encoding
from reference.ch04 import (
    GELU,
    GPT2_SIZES,
    GPT_CONFIG_124M,
    FeedForward,
    GPTModel,
    LayerNorm,
    TransformerBlock,
    count_parameters,
    count_parameters_tied,
    generate_text_simple,
    generate_text_simple_cached,
    gpt2_config,
    gpt_parameter_count,
    model_size_mb,
)
from strategies import gpt_configs, seeds


def meta_model(cfg: dict) -> GPTModel:
    """GPTModel built on the meta device: shapes and parameter counts without allocating memory."""
    with torch.device("meta"):
        return GPTModel(cfg)


def tiny_model(cfg: dict, seed: int = 0) -> GPTModel:
    """A seeded GPTModel in eval mode, in float64 so greedy argmax never hinges on rounding."""
    torch.manual_seed(seed)
    return GPTModel(cfg).double().eval()


# ---- the book's printed rows ---------------------------------------------------------------


def test_book_token_ids_of_the_two_example_prompts():
    """Book 4.1: GPT-2 token ids of `Every effort moves you` and `Every day holds a`."""
    encoding = gpt2_encoding()
    assert encoding.encode("Every effort moves you") == [6109, 3626, 6100, 345]
    assert encoding.encode("Every day holds a") == [6109, 1110, 6622, 257]


def test_book_gpt2_124m_parameter_counts_and_size():
    """Book 4.6: 163,009,536 parameters, 124,412,160 with weight tying, 621.83 MB in float32."""
    model = meta_model(GPT_CONFIG_124M)
    assert count_parameters(model) == 163_009_536
    assert count_parameters_tied(model) == 124_412_160
    assert round(model_size_mb(model), 2) == 621.83


@pytest.mark.parametrize(
    ("size", "expected"),
    [("gpt2-medium (355M)", 406_212_608), ("gpt2-large (774M)", 838_220_800), ("gpt2-xl (1558M)", 1_637_792_000)],
)
def test_book_larger_gpt2_parameter_counts(size, expected):
    """Exercise 4.2: the larger GPT-2 sizes built with the same recipe (on the meta device, no memory)."""
    assert count_parameters(meta_model(gpt2_config(size))) == expected


@settings(max_examples=25, deadline=None)
@given(cfg=gpt_configs(), qkv_bias=st.booleans(), layers=st.integers(0, 4))
def test_parameter_count_formula_equals_the_built_model(cfg, qkv_bias, layers):
    """gpt_parameter_count(cfg) equals the count of GPTModel(cfg) built on the meta device."""
    cfg = {**cfg, "qkv_bias": qkv_bias, "n_layers": layers}
    assert gpt_parameter_count(cfg) == count_parameters(meta_model(cfg))


@pytest.mark.parametrize("size", list(GPT2_SIZES))
def test_parameter_count_formula_on_the_gpt2_sizes(size):
    assert gpt_parameter_count(gpt2_config(size)) == count_parameters(meta_model(gpt2_config(size)))


def test_gpt2_config_rejects_unknown_sizes():
    """gpt2_config raises ValueError naming the unknown size."""
    with pytest.raises(ValueError, match="gpt2-huge"):
        gpt2_config("gpt2-huge")


def test_gpt2_config_small_is_the_book_config():
    """gpt2_config of the small size is GPT_CONFIG_124M; overrides such as context_length apply."""
    assert gpt2_config("gpt2-small (124M)") == GPT_CONFIG_124M
    assert gpt2_config("gpt2-small (124M)", context_length=256)["context_length"] == 256
    assert set(GPT2_SIZES) == {"gpt2-small (124M)", "gpt2-medium (355M)", "gpt2-large (774M)", "gpt2-xl (1558M)"}


@pytest.mark.slow
def test_book_untrained_generation_from_hello_i_am():
    """Book 4.7: seed 123, GPTModel(GPT_CONFIG_124M), eval, 10 greedy tokens after `Hello, I am`."""
    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M).eval()
    out = generate_text_simple(model, torch.tensor([[15496, 11, 314, 716]]), max_new_tokens=10, context_size=1024)
    assert out.tolist() == [[15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267, 49706, 43231, 47062, 34657]]


@pytest.mark.parametrize("make", [TransformerBlock, FeedForward], ids=["TransformerBlock", "FeedForward"])
def test_book_block_and_feed_forward_keep_the_shape(make):
    """Book 4.3/4.5: at GPT-2 124M width, input (2, 4, 768) gives output (2, 4, 768)."""
    assert make(GPT_CONFIG_124M)(torch.rand(2, 4, 768)).shape == (2, 4, 768)


# ---- LayerNorm, GELU, FeedForward ------------------------------------------------------------------

layer_norm_inputs = st.tuples(
    st.lists(st.integers(1, 3), max_size=2), st.integers(2, 40), st.floats(0.5, 5.0), st.floats(-5.0, 5.0), seeds()
)  # leading dims, emb_dim, scale, offset, seed


def random_rows(leading, emb_dim, scale, offset, seed):
    return torch.randn(*leading, emb_dim, generator=torch.Generator().manual_seed(seed)) * scale + offset


@given(case=layer_norm_inputs)
def test_layer_norm_output_has_mean_0_and_biased_variance_1(case):
    """Each row comes out with mean 0 and biased variance v / (v + 1e-5), i.e. ~1 (v = the row's own variance)."""
    x = random_rows(*case)
    out = LayerNorm(x.shape[-1])(x).detach()
    variance = x.var(dim=-1, unbiased=False)
    torch.testing.assert_close(out.mean(dim=-1), torch.zeros(x.shape[:-1]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.var(dim=-1, unbiased=False), variance / (variance + 1e-5), atol=1e-4, rtol=0)


@given(case=layer_norm_inputs)
def test_layer_norm_equals_torch_layer_norm(case):
    """With the same scale and shift, LayerNorm equals torch.nn.LayerNorm(eps=1e-5)."""
    x = random_rows(*case)
    ours, theirs = LayerNorm(x.shape[-1]), nn.LayerNorm(x.shape[-1], eps=1e-5)
    with torch.no_grad():
        ours.scale.copy_(torch.randn(x.shape[-1]))
        ours.shift.copy_(torch.randn(x.shape[-1]))
        theirs.weight.copy_(ours.scale)
        theirs.bias.copy_(ours.shift)
    torch.testing.assert_close(ours(x), theirs(x))


def test_gelu_equals_torch_tanh_approximation():
    """GELU equals F.gelu(approximate="tanh") to float precision on [-8, 8]."""
    x = torch.linspace(-8, 8, 4001)
    torch.testing.assert_close(GELU()(x), F.gelu(x, approximate="tanh"), atol=1e-6, rtol=0)


def test_gelu_is_not_the_exact_erf_form():
    """GPT-2 uses the tanh approximation: it differs from the erf GELU by more than 1e-4, so 1e-6 tells them apart."""
    x = torch.linspace(-8, 8, 4001)
    assert (GELU()(x) - F.gelu(x)).abs().max() > 1e-4


def test_feed_forward_hidden_width_is_four_times_emb_dim(tiny_cfg):
    """The two linear layers go emb_dim -> 4 * emb_dim -> emb_dim."""
    linears = [m for m in FeedForward(tiny_cfg).modules() if isinstance(m, nn.Linear)]
    emb_dim = tiny_cfg["emb_dim"]
    assert [(m.in_features, m.out_features) for m in linears] == [(emb_dim, 4 * emb_dim), (4 * emb_dim, emb_dim)]


# ---- TransformerBlock and GPTModel -----------------------------------------------------------------


def test_transformer_block_is_pre_norm_with_shortcuts(tiny_cfg):
    """Block(x) = h + ff(norm2(h)) with h = x + att(norm1(x)), computed from the block's own submodules."""
    block = TransformerBlock(tiny_cfg).eval()
    x = torch.randn(2, 5, tiny_cfg["emb_dim"])
    h = x + block.att(block.norm1(x))
    torch.testing.assert_close(block(x), h + block.ff(block.norm2(h)))


def test_gpt_model_logits_shape(tiny_cfg):
    """Logits have shape (batch, num_tokens, vocab_size)."""
    model = GPTModel(tiny_cfg).eval()
    assert model(torch.randint(0, tiny_cfg["vocab_size"], (3, 7))).shape == (3, 7, tiny_cfg["vocab_size"])


@given(cfg=gpt_configs(), seed=seeds())
def test_gpt_model_future_tokens_never_change_past_logits(cfg, seed):
    """Replacing tokens from position `cut` on leaves the logits before `cut` unchanged."""
    model = tiny_model(cfg, seed)
    ids = torch.randint(0, cfg["vocab_size"], (2, cfg["context_length"]))
    for cut in range(1, cfg["context_length"]):
        changed = torch.cat([ids[:, :cut], torch.randint(0, cfg["vocab_size"], ids[:, cut:].shape)], dim=1)
        torch.testing.assert_close(model(changed)[:, :cut], model(ids)[:, :cut])


# ---- KV cache (exercise 4.3) ----------------------------------------------------------------------------


@given(cfg=gpt_configs(), seed=seeds(), data=st.data())
def test_cached_generation_equals_uncached_token_for_token(cfg, seed, data):
    """generate_text_simple_cached gives generate_text_simple's ids, also once the text outgrows the context."""
    model = tiny_model(cfg, seed)
    context_size = data.draw(st.integers(1, cfg["context_length"]), label="context_size")
    prompt_length = data.draw(st.integers(1, cfg["context_length"] + 3), label="prompt_length")
    max_new_tokens = data.draw(st.integers(0, 2 * cfg["context_length"]), label="max_new_tokens")
    prompt = torch.randint(0, cfg["vocab_size"], (2, prompt_length))
    expected = generate_text_simple(model, prompt, max_new_tokens, context_size)
    assert generate_text_simple_cached(model, prompt, max_new_tokens, context_size).tolist() == expected.tolist()


@given(cfg=gpt_configs(), seed=seeds(), data=st.data())
def test_cached_forward_in_pieces_equals_full_forward(cfg, seed, data):
    """Feeding a sequence to the cache in pieces gives the same logits as one full forward pass."""
    model = tiny_model(cfg, seed)
    ids = torch.randint(0, cfg["vocab_size"], (2, cfg["context_length"]))
    cuts = sorted(data.draw(st.sets(st.integers(1, cfg["context_length"] - 1)), label="cuts"))
    bounds = [0, *cuts, cfg["context_length"]]
    model.reset_kv_cache()
    with torch.no_grad():
        pieces = [model(ids[:, a:b], use_cache=True) for a, b in itertools.pairwise(bounds)]
        torch.testing.assert_close(torch.cat(pieces, dim=1), model(ids))
