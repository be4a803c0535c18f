"""GPT-2 weight loading (section 5.5) against Hugging Face transformers as an independent oracle.

Random-weight `GPT2LMHeadModel`s are built offline (tests/hf_oracle.py); their weights are
loaded into the reference GPTModel and both must give the same logits (atol 1e-5).
Run: pytest tests/test_hf_oracle.py   (the 124M check is marked `slow` and still runs)
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from safetensors.torch import save_file

from hf_oracle import gpt_cases, hf_gpt2, hf_logits, openai_params
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from reference.ch05 import (
    generate,
    gpt2_params_from_hf_state_dict,
    load_hf_gpt2_safetensors,
    load_hf_gpt2_state_dict,
    load_weights_into_gpt,
)


def reference_logits(model: GPTModel, token_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(token_ids)


@given(gpt_cases())
def test_hf_state_dict_gives_hf_logits(case):
    """load_hf_gpt2_state_dict makes GPTModel compute HF GPT-2's logits."""
    cfg, ids = case
    hf = hf_gpt2(cfg)
    gpt = load_hf_gpt2_state_dict(GPTModel(cfg), hf.state_dict())
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)


@given(gpt_cases())
def test_openai_params_give_hf_logits(case):
    """load_weights_into_gpt on the book's OpenAI params layout gives HF GPT-2's logits."""
    cfg, ids = case
    hf = hf_gpt2(cfg)
    gpt = load_weights_into_gpt(GPTModel(cfg), openai_params(hf))
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)


def _flatten(params, prefix=""):
    if isinstance(params, dict):
        return {k: v for key, sub in params.items() for k, v in _flatten(sub, f"{prefix}{key}.").items()}
    if isinstance(params, list):
        return {k: v for i, sub in enumerate(params) for k, v in _flatten(sub, f"{prefix}{i}.").items()}
    return {prefix: params}


def test_params_from_hf_state_dict_match_openai_layout(tiny_cfg):
    """gpt2_params_from_hf_state_dict builds the same params dict as reading HF's modules."""
    hf = hf_gpt2({**tiny_cfg, "qkv_bias": True})
    expected = _flatten(openai_params(hf))
    actual = _flatten(gpt2_params_from_hf_state_dict(hf.state_dict()))
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


def test_state_dict_without_transformer_prefix(tiny_cfg):
    """A GPT2Model state dict (keys `h.0...`, no lm_head) loads as well as GPT2LMHeadModel's."""
    cfg = {**tiny_cfg, "qkv_bias": True}
    hf, ids = hf_gpt2(cfg), torch.tensor([[1, 5, 7, 99]])
    gpt = load_hf_gpt2_state_dict(GPTModel(cfg), hf.transformer.state_dict())
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)


def test_safetensors_from_save_pretrained(tiny_cfg, tmp_path):
    """load_hf_gpt2_safetensors reads the model.safetensors that save_pretrained writes."""
    cfg = {**tiny_cfg, "qkv_bias": True}
    hf, ids = hf_gpt2(cfg), torch.tensor([[3, 1, 4, 1, 5]])
    hf.save_pretrained(tmp_path)
    gpt = load_hf_gpt2_safetensors(GPTModel(cfg), tmp_path / "model.safetensors")
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)


def test_safetensors_hub_layout(tiny_cfg, tmp_path):
    """A hub-style safetensors file (GPT2Model keys, no prefix) loads too."""
    cfg = {**tiny_cfg, "qkv_bias": True}
    hf, ids = hf_gpt2(cfg), torch.tensor([[2, 7, 1, 8]])
    save_file({k: v.contiguous() for k, v in hf.transformer.state_dict().items()}, tmp_path / "gpt2.safetensors")
    gpt = load_hf_gpt2_safetensors(GPTModel(cfg), tmp_path / "gpt2.safetensors")
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)


def test_output_head_copies_token_embedding(tiny_cfg):
    """GPT-2 ties its output head to wte: out_head.weight equals tok_emb.weight after loading."""
    cfg = {**tiny_cfg, "qkv_bias": True}
    gpt = load_hf_gpt2_state_dict(GPTModel(cfg), hf_gpt2(cfg).state_dict())
    assert torch.equal(gpt.out_head.weight, gpt.tok_emb.weight)


def test_shape_mismatch_names_the_parameter(tiny_cfg):
    """Weights of another width raise ValueError naming the first mismatched parameter."""
    hf = hf_gpt2({**tiny_cfg, "qkv_bias": True, "emb_dim": 16})
    with pytest.raises(ValueError, match=r"tok_emb\.weight.*\(100, 32\).*\(100, 16\)"):
        load_hf_gpt2_state_dict(GPTModel({**tiny_cfg, "qkv_bias": True}), hf.state_dict())


def test_layer_count_mismatch_raises(tiny_cfg):
    """Weights with more transformer blocks than the model raise ValueError naming trf_blocks."""
    hf = hf_gpt2({**tiny_cfg, "qkv_bias": True, "n_layers": 3})
    with pytest.raises(ValueError, match="trf_blocks"):
        load_hf_gpt2_state_dict(GPTModel({**tiny_cfg, "qkv_bias": True}), hf.state_dict())


def test_model_without_qkv_bias_is_refused(tiny_cfg):
    """GPT-2 weights need qkv_bias=True; without it the error names W_query.bias and the fix."""
    hf = hf_gpt2({**tiny_cfg, "qkv_bias": True})
    with pytest.raises(ValueError, match=r"trf_blocks\.0\.att\.W_query\.bias.*qkv_bias=True"):
        load_hf_gpt2_state_dict(GPTModel(tiny_cfg), hf.state_dict())


def test_missing_key_is_named(tiny_cfg):
    """A state dict without a required key raises ValueError naming that key."""
    state = hf_gpt2({**tiny_cfg, "qkv_bias": True}).state_dict()
    del state["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(ValueError, match=r"h\.1\.mlp\.c_fc\.bias"):
        gpt2_params_from_hf_state_dict(state)


def test_greedy_generate_matches_hf_generate(tiny_cfg):
    """generate(temperature=0) with loaded weights gives HF's greedy `generate` ids."""
    cfg = {**tiny_cfg, "qkv_bias": True}
    hf, ids = hf_gpt2(cfg), torch.tensor([[4, 8, 15, 16]])
    gpt = load_hf_gpt2_state_dict(GPTModel(cfg), hf.state_dict()).eval()
    with torch.no_grad():
        expected = hf.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(generate(gpt, ids, max_new_tokens=8, context_size=cfg["context_length"]), expected)


@pytest.mark.slow
def test_full_size_124m_matches_hf():
    """At GPT-2 124M's shape (random weights), the loaded GPTModel gives HF's logits within 1e-5."""
    cfg = {**GPT_CONFIG_124M, "qkv_bias": True, "drop_rate": 0.0}
    hf, ids = hf_gpt2(cfg), torch.tensor([[15496, 11, 314, 716, 50256, 0]])
    gpt = load_hf_gpt2_state_dict(GPTModel(cfg), hf.state_dict())
    torch.testing.assert_close(reference_logits(gpt, ids), hf_logits(hf, ids), atol=1e-5, rtol=0)
