"""TransformerBlock (section 4.5): pre-norm attention and feed-forward, each wrapped in a shortcut with dropout.

    x = x + drop_shortcut(att(norm1(x)));  x = x + drop_shortcut(ff(norm2(x)))

In training mode dropout acts on the attention weights (inside att) and on each sub-layer's output
before the shortcut addition; with the book's weights and the same seed your block must give the
book's output.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_working
from grader.compare import compare_tensors
from reference.ch04 import TransformerBlock
from student_tests.a3.common import (
    TINY_CFG,
    check_dropout_places,
    config_text,
    dropout_labels,
    fix_parts_first,
    gpt_configs,
    parameter_difference,
    with_random_norms,
)

pytestmark = pytest.mark.check(component="TransformerBlock", section="4.5")
NAME = "TransformerBlock"
PARTS = fix_parts_first("LayerNorm", "GELU", "FeedForward", "MultiHeadAttention (a2)")


def _post_norm(block: TransformerBlock, x: torch.Tensor) -> torch.Tensor:
    """The same weights arranged post-norm (the original transformer): norm(x + sublayer(x))."""
    x = block.norm1(x + block.att(x))
    return block.norm2(x + block.ff(x))


def _parameter_shapes(nb, cfg):
    return [shape for _, shape, is_buffer in nb.state_shapes(NAME, {"cfg": cfg}) if not is_buffer]


def test_exists_with_the_book_signature(nb):
    """TransformerBlock(cfg) exists."""
    component = nb.require(NAME)
    expect("cfg" in component.params,
           f"{component.display} takes no argument `cfg`; the book's signature is TransformerBlock(cfg) (section 4.5)")


@settings(max_examples=6)
@given(cfg=gpt_configs(), seed=st.integers(0, 2**16), data=st.data())
def test_matches_the_reference_on_the_same_weights(nb, cfg, seed, data):
    """On the reference's weights (norms with random scale and shift), outputs equal the pre-norm reference's."""
    torch.manual_seed(seed)
    reference = with_random_norms(TransformerBlock(cfg)).eval()
    x = torch.randn(2, data.draw(st.integers(1, cfg["context_length"]), label="tokens"), cfg["emb_dim"])
    actual = nb.forward(NAME, init={"cfg": cfg}, reference=reference, inputs=[x])
    with torch.no_grad():
        result, post_norm = compare_tensors(actual, reference(x)), compare_tensors(actual, _post_norm(reference, x))
    display = nb.require(NAME).display
    expect(result.ok or not post_norm.ok,
           f"{display}: post-norm detected: your block computes norm1(x + att(x)) and norm2(x + ff(x)), "
           f"but GPT-2 normalises before each sub-layer (pre-norm): x + drop_shortcut(att(norm1(x))), then "
           f"x + drop_shortcut(ff(norm2(x))). Config: {config_text(cfg)}. See section 4.5.")
    expect(result.ok, f"{result.describe(f'{display} on input {tuple(x.shape)} ({config_text(cfg)})')}. "
                      f"Expected x + drop_shortcut(att(norm1(x))), then x + drop_shortcut(ff(norm2(x))). "
                      f"{PARTS} See section 4.5.")


@settings(max_examples=4)
@given(cfg=gpt_configs())
def test_has_the_parameters_of_the_reference(nb, cfg):
    """It has as many parameters as the book's block (attention, feed-forward, two LayerNorms), each of them used."""
    shapes = _parameter_shapes(nb, cfg)
    reference = [tuple(p.shape) for p in TransformerBlock(cfg).parameters()]
    count, expected = sum(torch.Size(s).numel() for s in shapes), sum(torch.Size(s).numel() for s in reference)
    display = nb.require(NAME).display
    expect(count == expected, f"{display} has {count:,} parameters where the book's has {expected:,} "
                              f"({config_text(cfg)}): {parameter_difference(shapes, reference)}. See section 4.5.")
    unused = nb.unused_parameters(NAME, init={"cfg": cfg},
                                  inputs=[torch.randn(1, cfg["context_length"], cfg["emb_dim"])])
    expect(not unused, f"{display}: the parameters {unused} do not change its output ({config_text(cfg)}); every "
                       f"weight of attention, feed-forward and both LayerNorms takes part. See section 4.5.")


@settings(max_examples=4)
@given(cfg=gpt_configs(min_context=2), seed=st.integers(0, 2**16))
def test_keeps_the_shape_and_is_causal(nb, cfg, seed):
    """Its output has the input's shape, and changing the last token leaves earlier outputs unchanged."""
    x = torch.randn(1, cfg["context_length"], cfg["emb_dim"], generator=torch.Generator().manual_seed(seed))
    changed = x.clone()
    changed[0, -1] += 1.0
    inputs = torch.cat([x, changed])
    out = nb.forward_with(NAME, init={"cfg": cfg}, state_dict=None, inputs=[inputs])
    display = nb.require(NAME).display
    expect_working(out, what=f"{display} on an input of shape {tuple(inputs.shape)}", inputs=inputs)
    expect(tuple(out.shape) == (2, *x.shape[1:]),
           f"{display} turned an input of shape {(2, *x.shape[1:])} into {tuple(out.shape)}; a block keeps the shape. "
           f"See section 4.5.")
    leak = compare_tensors(out[1, :-1], out[0, :-1])
    expect(leak.ok, f"{display} is not causal: changing the last of {x.shape[1]} tokens changed the outputs at "
                    f"earlier positions (by up to {leak.max_abs:.3g}). See sections 3.5 and 4.5.")


def test_dropout_acts_where_the_book_puts_it(nb):
    """In training mode, dropout (p = drop_rate) acts on the attention weights and on each sub-layer's output before
    its shortcut addition: with the book's weights and the same seed, the output equals the book's."""
    cfg = {**TINY_CFG, "drop_rate": 0.5}
    torch.manual_seed(11)
    reference = with_random_norms(TransformerBlock(cfg)).eval()
    x = torch.randn(2, 6, cfg["emb_dim"])
    check_dropout_places(nb, NAME, cfg=cfg, reference=reference, inputs=x, labels=dropout_labels(),
                         described=f"input {tuple(x.shape)}, {cfg['n_heads']} heads",
                         compare_check="test_matches_the_reference_on_the_same_weights", sections="3.5.2 and 4.5")
