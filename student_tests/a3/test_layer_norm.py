"""LayerNorm (section 4.2): normalise the last dimension with the biased variance and eps 1e-5, then scale and shift.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_close
from reference.ch04 import LayerNorm
from student_tests.a3.common import activations

pytestmark = pytest.mark.check(component="LayerNorm", section="4.2")
NAME = "LayerNorm"
EPS = 1e-5


def _with_random_affine(emb_dim: int, seed: int) -> LayerNorm:
    """The reference LayerNorm with non-trivial scale and shift, so the transplant is visible."""
    torch.manual_seed(seed)
    reference = LayerNorm(emb_dim)
    with torch.no_grad():
        reference.scale.uniform_(0.5, 1.5)
        reference.shift.uniform_(-1, 1)
    return reference


def _known_mistake(actual: torch.Tensor, x: torch.Tensor, scale=1.0, shift=0.0) -> str:
    """A hint when the output equals a common wrong variant, else ''."""
    centred = x - x.mean(dim=-1, keepdim=True)
    variants = {
        "the unbiased variance (dividing by n - 1); LayerNorm uses the biased one, x.var(dim=-1, unbiased=False)":
            centred / torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=True) + EPS),
        "eps added outside the square root; it belongs inside, torch.sqrt(var + eps)":
            centred / (x.var(dim=-1, keepdim=True, unbiased=False).sqrt() + EPS),
    }
    for mistake, normed in variants.items():
        if actual.shape == x.shape and torch.allclose(actual, scale * normed + shift, atol=1e-5, rtol=1e-4):
            return f"Your output matches {mistake}."
    return ""


def test_exists_with_the_book_signature(nb):
    """LayerNorm(emb_dim) exists."""
    component = nb.require(NAME)
    expect("emb_dim" in component.params,
           f"{component.display} takes no argument `emb_dim`; the book's signature is LayerNorm(emb_dim) (section 4.2)")


@settings(max_examples=6)
@given(x=activations(), seed=st.integers(0, 2**16))
def test_matches_the_reference_on_the_same_weights(nb, x, seed):
    """On the reference's scale and shift, outputs equal the reference's."""
    reference = _with_random_affine(x.shape[-1], seed)
    actual = nb.forward(NAME, init={"emb_dim": x.shape[-1]}, reference=reference, inputs=[x])
    scale, shift = reference.scale.detach(), reference.shift.detach()
    expect_close(actual, reference(x).detach(),
                 what=f"{nb.require(NAME).display} on an input of shape {tuple(x.shape)} (spread {x.std():.3g})",
                 hint=f"{_known_mistake(actual, x, scale, shift)} See section 4.2.".lstrip())


@settings(max_examples=6)
@given(x=activations())
def test_equals_torch_layer_norm(nb, x):
    """Freshly built (scale 1, shift 0), it equals torch.nn.LayerNorm(emb_dim, eps=1e-5)."""
    actual = nb.forward_with(NAME, init={"emb_dim": x.shape[-1]}, state_dict=None, inputs=[x])
    expected = torch.nn.LayerNorm(x.shape[-1], eps=EPS)(x).detach()
    expect_close(actual, expected,
                 what=f"{nb.require(NAME).display} against torch.nn.LayerNorm on an input of shape {tuple(x.shape)} "
                      f"(spread {x.std():.3g})",
                 hint=f"{_known_mistake(actual, x)} See section 4.2.".lstrip())


@settings(max_examples=5)
@given(x=activations(min_dim=4, min_scale=0.1))  # variance 1 up to eps
def test_output_has_mean_0_and_variance_1(nb, x):
    """Freshly built, each output vector has mean 0 and (biased) variance 1 over the last dimension."""
    out = nb.forward_with(NAME, init={"emb_dim": x.shape[-1]}, state_dict=None, inputs=[x])
    mean, var = out.mean(dim=-1), out.var(dim=-1, unbiased=False)
    x_var = x.var(dim=-1, unbiased=False)
    target = x_var / (x_var + EPS)  # 1, just under it because of eps
    expect(mean.abs().max() < 1e-4 and (var - target).abs().max() < 1e-3,
           f"{nb.require(NAME).display} on an input of shape {tuple(x.shape)}: output means range over "
           f"[{mean.min():.4g}, {mean.max():.4g}] and variances over [{var.min():.5f}, {var.max():.5f}]; "
           f"expected means 0 and variances var / (var + eps) in [{target.min():.5f}, {target.max():.5f}] "
           f"(biased variance, eps inside the square root). {_known_mistake(out, x)} See section 4.2.")
