"""Shared pieces of the a3 checks: Hypothesis strategies (tiny GPT configs, token batches), message helpers, and
the training-mode dropout comparison."""

import copy
from collections import Counter

import pytest
import torch
from hypothesis import strategies as st
from torch import nn

from grader.bind import squeezed_shape
from grader.checks import expect, expect_working
from grader.compare import compare_tensors

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


def with_random_norms(module: nn.Module) -> nn.Module:
    """The reference with every LayerNorm's scale and shift drawn at random (torch's current seed), so that a
    norm used in the wrong place (or twice) changes the output; fresh norms are all the identity."""
    with torch.no_grad():
        for norm in [m for m in module.modules() if type(m).__name__ == "LayerNorm"]:
            norm.scale.uniform_(0.5, 1.5)
            norm.shift.uniform_(-0.5, 0.5)
    return module


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
    """What the student's parameters have and lack compared with the reference's, by shape (leading size-1
    dimensions aside: a position table kept as (1, context_length, emb_dim) is the book's (context_length, emb_dim))."""
    mine, book = Counter(map(squeezed_shape, student_shapes)), Counter(map(squeezed_shape, reference_shapes))
    extra, lacking = mine - book, book - mine
    parts = []
    if lacking:
        parts.append("the book's model has parameters of shape " + shape_summary(sorted(lacking.elements()))
                     + " that yours lacks")
    if extra:
        parts.append("yours has parameters of shape " + shape_summary(sorted(extra.elements()))
                     + " that the book's lacks")
    return "; ".join(parts)


# ---------------------------------------------------------------- dropout in training mode (sections 4.5-4.6)

DROPOUT_SEED = 5  # the seed both the student's module and the reference run under in training mode


def reference_dropout(module: nn.Module, inputs, seed: int = DROPOUT_SEED):
    """(output, dropout calls) of a reference module in training mode under `seed`, traced the way the kernel
    traces the student's (grader.kernel_side), so the two lists compare entry by entry."""
    from grader.kernel_side import _dropout_recorder

    calls = []
    module.train()
    torch.manual_seed(seed)
    with torch.no_grad(), _dropout_recorder(torch, calls):
        output = module(*inputs)
    module.eval()
    return output, calls


def with_feed_forward_dropout(module: nn.Module, rate: float) -> nn.Module:
    """A copy of a reference block or model whose FeedForward ends in dropout, as in the book's early chapter 4
    notebook (a second dropout on the feed-forward output; GPT-2 has one)."""
    variant = copy.deepcopy(module)
    for block in [m for m in variant.modules() if hasattr(m, "ff")]:
        block.ff.layers.append(nn.Dropout(rate))
    return variant


BLOCK_DROPOUTS = ("attention weights", "attention output", "feed-forward output")


def dropout_labels(n_layers: int | None = None) -> list[str]:
    """Names of the book's dropout calls in order: a block's three, or a model's (embeddings, then each block's)."""
    if n_layers is None:
        return [f"the {what}" for what in BLOCK_DROPOUTS]
    return ["the embeddings"] + [f"block {i + 1}'s {what}" for i in range(n_layers) for what in BLOCK_DROPOUTS]


def untraced_dropout(actual, calls, eval_output) -> bool:
    """True when no dropout call was seen, yet the training-mode output differs from the eval-mode one: dropout
    written by hand (a random mask), whose places the grader cannot see."""
    return not calls and not compare_tensors(actual, eval_output).ok


def shapes_of(calls) -> list[tuple[int, ...]]:
    return [tuple(c["shape"]) for c in calls]


def dropout_problem(actual, calls, variants: dict, *, labels: list[str], rate: float) -> str | None:
    """Why the student's training-mode run differs from every allowed reference variant, or None.

    `variants`: {description: (reference output, reference calls)}; `labels` names the book's calls in order.
    Same calls (shapes, p) as a variant and the same output under the same seed: dropout acts where the
    book's does. A fused attention dropout (scaled_dot_product_attention) draws other masks, so there the
    places are compared without the output."""
    wrong_p = sorted({c["p"] for c in calls if abs(c["p"] - rate) > 1e-9})
    if wrong_p:
        return f"dropout with p = {', '.join(f'{p:g}' for p in wrong_p)} where cfg['drop_rate'] = {rate:g}"
    fused = any(c.get("fused") for c in calls)
    for expected, expected_calls in variants.values():
        if shapes_of(calls) == shapes_of(expected_calls) and (fused or compare_tensors(actual, expected).ok):
            return None
    book_shapes = shapes_of(next(iter(variants.values()))[1])
    places = "; ".join(f"{label} {shape}" for label, shape in zip(labels, book_shapes))
    mine = ", ".join(str(s) for s in shapes_of(calls)) or "none"
    if any(shapes_of(calls) == shapes_of(c) for _, c in variants.values()):
        return (f"dropout acts on tensors of the book's shapes ({mine}), but with the same seed (the same masks) "
                f"the output differs from the book's: the masks land on other values, e.g. dropout on the sum "
                f"x + shortcut or on a sub-layer's input rather than on the sub-layer's output before the "
                f"shortcut addition. The book's places: {places}")
    return f"dropout acted {len(calls)} time(s), on tensors of shapes {mine}; the book's acts on: {places}"


def check_dropout_places(nb, name: str, *, cfg: dict, reference: nn.Module, inputs: torch.Tensor,
                         labels: list[str], described: str, compare_check: str, sections: str) -> None:
    """The student's module on the book's weights (bound in eval mode), in training mode under the book's seed:
    its dropout calls and output equal the book's (or its early notebook's). Informational when the module
    already differs in eval mode, or drops out by hand where the grader cannot see it."""
    nb.forward(name, init={"cfg": cfg}, reference=reference, inputs=[inputs])  # may tie the reference's head
    display, state = nb.require(name).display, nb.bound_state(name)
    if state is None:
        pytest.skip(f"informational: {display} differs from the book's in eval mode already (see the check "
                    f"{compare_check}), so its dropout cannot be compared")
    actual, calls = nb.forward_with(name, init={"cfg": cfg}, state_dict=state, inputs=[inputs], seed=DROPOUT_SEED,
                                    eval=False, trace_dropout=True)
    expect_working(actual, what=f"{display} in training mode", inputs=inputs)
    with torch.no_grad():
        if untraced_dropout(actual, calls, reference(inputs)):
            pytest.skip(f"informational: {display} uses no nn.Dropout / F.dropout, so where it drops out is not seen")
    rate = cfg["drop_rate"]
    variants = {"the book's": reference_dropout(reference, [inputs]),
                "the book's early notebook": reference_dropout(with_feed_forward_dropout(reference, rate), [inputs])}
    problem = dropout_problem(actual, calls, variants, labels=labels, rate=rate)
    expect(problem is None, f"{display} in training mode (drop_rate={rate:g}, {described}): {problem}. "
                            f"See sections {sections}.")
