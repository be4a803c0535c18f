"""FeedForward (section 4.3): Linear(emb_dim, 4 * emb_dim), GELU, Linear(4 * emb_dim, emb_dim) on every position.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_close
from reference.ch04 import FeedForward
from student_tests.a3.common import gpt_configs, shape_summary

pytestmark = pytest.mark.check(component="FeedForward", section="4.3")
NAME = "FeedForward"


def _known_mistake(actual: torch.Tensor, x: torch.Tensor, reference: FeedForward) -> str:
    """A hint when the output equals FeedForward with another activation (or none), else ''."""
    first, last = reference.layers[0], reference.layers[2]
    variants = {"no activation between the two linear layers": lambda h: h, "ReLU instead of GELU": F.relu,
                "the exact (erf) GELU instead of GPT-2's tanh approximation": F.gelu}
    for mistake, act in variants.items():
        if actual.shape == x.shape and torch.allclose(actual, last(act(first(x))).detach(), atol=1e-5, rtol=1e-4):
            return f"Your output matches {mistake}."
    return ""


def test_exists_with_the_book_signature(nb):
    """FeedForward(cfg) exists."""
    component = nb.require(NAME)
    expect("cfg" in component.params,
           f"{component.display} takes no argument `cfg`; the book's signature is FeedForward(cfg) (section 4.3)")


@settings(max_examples=6)
@given(cfg=gpt_configs(), tokens=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, cfg, tokens, seed):
    """On the reference's weights, outputs equal the reference's (float32, eval mode)."""
    torch.manual_seed(seed)
    reference = FeedForward(cfg).eval()
    x = torch.randn(2, tokens, cfg["emb_dim"])
    actual = nb.forward(NAME, init={"cfg": cfg}, reference=reference, inputs=[x])
    expect_close(actual, reference(x).detach(),
                 what=f"{nb.require(NAME).display} with emb_dim={cfg['emb_dim']} on {tokens} tokens",
                 hint=f"{_known_mistake(actual, x, reference)} See section 4.3.".lstrip())


@settings(max_examples=4)
@given(cfg=gpt_configs())
def test_expands_to_four_times_emb_dim(nb, cfg):
    """Its parameters are those of Linear(emb_dim, 4 * emb_dim) and Linear(4 * emb_dim, emb_dim), each of them used."""
    emb, display = cfg["emb_dim"], nb.require(NAME).display
    shapes = [shape for _, shape, is_buffer in nb.state_shapes(NAME, {"cfg": cfg}) if not is_buffer]
    expected = sorted([(4 * emb, emb), (4 * emb,), (emb, 4 * emb), (emb,)])  # raw (in, out) matrices: the same
    expect(sorted(shapes) == expected,
           f"{display} with emb_dim={emb} has parameters of shapes {shape_summary(shapes)}; "
           f"expected {shape_summary(expected)}: a hidden layer of 4 * emb_dim = {4 * emb} units. See section 4.3.")
    unused = nb.unused_parameters(NAME, init={"cfg": cfg}, inputs=[torch.randn(2, 3, emb)])
    expect(not unused, f"{display}: the parameters {unused} do not change its output (emb_dim={emb}); both linear "
                       f"layers take part. See section 4.3.")
