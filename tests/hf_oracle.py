"""Hugging Face GPT-2 as an independent oracle: random-weight models built offline from a book config.

Nothing here downloads: models are built from a `GPT2Config`, and every parameter
(biases and layer-norm gains included) is randomised so a loader that skips one shows up.
"""

import numpy as np
import torch
from hypothesis import strategies as st
from transformers import GPT2Config, GPT2LMHeadModel

from strategies import gpt_configs


def hf_config(cfg: dict) -> GPT2Config:
    """A GPT2Config with the shape of a book config dict, dropout off, GPT-2's tanh GELU."""
    config = GPT2Config(
        vocab_size=cfg["vocab_size"],
        n_positions=cfg["context_length"],
        n_embd=cfg["emb_dim"],
        n_layer=cfg["n_layers"],
        n_head=cfg["n_heads"],
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=None,  # the default 50256 lies outside tiny vocabularies
        eos_token_id=None,
    )
    config._attn_implementation = "eager"  # plain softmax attention, like the reference
    return config


def hf_gpt2(cfg: dict, *, seed: int = 0, std: float = 0.02) -> GPT2LMHeadModel:
    """A GPT2LMHeadModel shaped like `cfg`, in eval mode, every parameter random.

    Weights, embeddings and biases are N(0, std) (GPT-2's own init std), layer-norm gains
    1 + N(0, 0.1). Larger weights give larger logits and float32 rounding beyond 1e-5 at 124M.
    """
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(hf_config(cfg)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():  # lm_head is tied to wte and listed once
            is_gain = ".ln_" in name and name.endswith(".weight")
            param.copy_(1.0 + 0.1 * torch.randn_like(param) if is_gain else std * torch.randn_like(param))
    return model


def hf_logits(model: GPT2LMHeadModel, token_ids: torch.Tensor) -> torch.Tensor:
    """The HF model's logits (B, T, vocab_size) without gradients."""
    with torch.no_grad():
        return model(token_ids).logits


def openai_params(model: GPT2LMHeadModel) -> dict:
    """The book's OpenAI `params` dict read straight from the HF modules, as float32 numpy arrays."""
    arr = lambda t: t.detach().cpu().numpy().astype(np.float32)
    conv = lambda m: {"w": arr(m.weight), "b": arr(m.bias)}
    norm = lambda m: {"g": arr(m.weight), "b": arr(m.bias)}
    blocks = [
        {"attn": {"c_attn": conv(h.attn.c_attn), "c_proj": conv(h.attn.c_proj)},
         "mlp": {"c_fc": conv(h.mlp.c_fc), "c_proj": conv(h.mlp.c_proj)},
         "ln_1": norm(h.ln_1), "ln_2": norm(h.ln_2)}
        for h in model.transformer.h
    ]
    tf = model.transformer
    return {"wte": arr(tf.wte.weight), "wpe": arr(tf.wpe.weight), "blocks": blocks, **norm(tf.ln_f)}


def hf_gpt_configs():
    """Tiny book configs with qkv_bias=True, as GPT-2 has query/key/value biases."""
    return gpt_configs().map(lambda cfg: {**cfg, "qkv_bias": True})


@st.composite
def gpt_cases(draw, *, max_batch: int = 2):
    """A tiny GPT-2-shaped config and a (B, T) batch of token ids that fits its context."""
    cfg = draw(hf_gpt_configs())
    batch = draw(st.integers(1, max_batch))
    num_tokens = draw(st.integers(1, cfg["context_length"]))
    ids = draw(st.lists(st.integers(0, cfg["vocab_size"] - 1),
                        min_size=batch * num_tokens, max_size=batch * num_tokens))
    return cfg, torch.tensor(ids).view(batch, num_tokens)
