"""Shared pieces of the a3 checks: Hypothesis strategies (tiny GPT configs, token batches) and message helpers."""

from collections import Counter

import torch
from hypothesis import strategies as st

# The checks' fixed tiny model (vocab ~100, context 16, emb 32, 2 layers, 4 heads).
TINY_CFG = {"vocab_size": 100, "context_length": 16, "emb_dim": 32, "n_heads": 4,
            "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}


def fix_parts_first(*parts: str) -> str:
    """The hint for a component built from others: 'If the checks of A, B or C fail too, fix those first.'"""
    listed = ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else parts[0]
    return f"If the checks of {listed} fail too, fix those first: this component is built from them."


@st.composite
def gpt_configs(draw, *, max_heads: int = 4, min_head_dim: int = 4, max_head_dim: int = 8, max_layers: int = 2,
                min_vocab: int = 20, max_vocab: int = 100, min_context: int = 4, max_context: int = 16):
    """A tiny GPT config dict with the book's keys; emb_dim is n_heads * head_dim."""
    n_heads = draw(st.integers(1, max_heads))
    head_dim = draw(st.integers(min_head_dim, max_head_dim))
    return {"vocab_size": draw(st.integers(min_vocab, max_vocab)),
            "context_length": draw(st.integers(min_context, max_context)),
            "emb_dim": n_heads * head_dim, "n_heads": n_heads,
            "n_layers": draw(st.integers(1, max_layers)), "drop_rate": 0.0, "qkv_bias": draw(st.booleans())}


@st.composite
def token_batches(draw, cfg: dict, *, max_batch: int = 3, min_tokens: int = 1):
    """Token ids of shape (batch, tokens) that fit `cfg`'s vocabulary and context."""
    batch = draw(st.integers(1, max_batch))
    tokens = draw(st.integers(min_tokens, cfg["context_length"]))
    seed = draw(st.integers(0, 2**16))
    return torch.randint(0, cfg["vocab_size"], (batch, tokens), generator=torch.Generator().manual_seed(seed))


@st.composite
def activations(draw, *, max_batch: int = 3, max_tokens: int = 6, min_dim: int = 2, max_dim: int = 40,
                min_scale: float = 1e-3):
    """A float32 tensor (batch, tokens, dim) at a drawn scale and offset (small scales test eps)."""
    shape = (draw(st.integers(1, max_batch)), draw(st.integers(1, max_tokens)), draw(st.integers(min_dim, max_dim)))
    scale = draw(st.sampled_from([s for s in (1e-3, 0.1, 1.0, 10.0) if s >= min_scale]))
    offset = draw(st.floats(-3, 3)) * scale  # relative, so float32 keeps the spread exact enough
    seed = draw(st.integers(0, 2**16))
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale + offset


def config_text(cfg: dict) -> str:
    """The drawn config in a failure message."""
    return ", ".join(f"{k}={v}" for k, v in cfg.items())


def shape_summary(shapes) -> str:
    """'(32, 32) x3, (32,) x2' from a list of shapes (order kept, runs collapsed)."""
    runs = []
    for shape in shapes:
        if runs and runs[-1][0] == shape:
            runs[-1][1] += 1
        else:
            runs.append([shape, 1])
    return ", ".join(f"{tuple(s)}" + (f" x{n}" if n > 1 else "") for s, n in runs)


def parameter_difference(student_shapes, reference_shapes) -> str:
    """What the student's parameters have and lack compared with the reference's, by shape."""
    mine, book = Counter(map(tuple, student_shapes)), Counter(map(tuple, reference_shapes))
    extra, lacking = mine - book, book - mine
    parts = []
    if lacking:
        parts.append("the book's model has parameters of shape " + shape_summary(sorted(lacking.elements()))
                     + " that yours lacks")
    if extra:
        parts.append("yours has parameters of shape " + shape_summary(sorted(extra.elements()))
                     + " that the book's lacks")
    return "; ".join(parts)
