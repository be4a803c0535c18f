"""GELU (section 4.3): GPT-2's tanh approximation of the GELU activation, element by element.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from grader.checks import expect
from grader.compare import compare_tensors
from student_tests.a3.common import activations

pytestmark = pytest.mark.check(component="GELU", section="4.3")
NAME = "GELU"
GRID = torch.linspace(-6, 6, 241)  # where tanh and erf GELU differ by up to ~5e-4


def test_exists_with_the_book_signature(nb):
    """GELU() exists and is built without arguments."""
    component = nb.require(NAME)
    required = [p for p in component.params if p not in component.defaults and p not in ("args", "kwargs")]
    expect(not required,
           f"{component.display} needs the argument(s) {required}; the book builds it as GELU() (section 4.3)")


def test_is_the_tanh_approximation(nb):
    """On inputs from -6 to 6 it equals torch's GELU with approximate="tanh" (GPT-2's form)."""
    display = nb.require(NAME).display
    actual = nb.forward_with(NAME, init={}, state_dict=None, inputs=[GRID])
    result = compare_tensors(actual, F.gelu(GRID, approximate="tanh"))
    if not result.ok and compare_tensors(actual, F.gelu(GRID), atol=1e-6).ok:
        pytest.fail(f"{display} computes the exact GELU, 0.5 * x * (1 + erf(x / sqrt(2))), not GPT-2's tanh "
                    f"approximation 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))); they differ by up "
                    f"to {result.max_abs:.2g} (at x = {GRID[result.worst_index].item():.2f}). See section 4.3.",
                    pytrace=False)
    expect(result.ok, f"{result.describe(display + ' on inputs from -6 to 6')}. "
                      f"Expected GELU's tanh approximation; see section 4.3.")


@settings(max_examples=4)
@given(x=activations(max_dim=12))
def test_works_elementwise_on_any_shape(nb, x):
    """On a (batch, tokens, emb_dim) input it returns the same shape, GELU applied to every element."""
    display = nb.require(NAME).display
    actual = nb.forward_with(NAME, init={}, state_dict=None, inputs=[x])
    result = compare_tensors(actual, F.gelu(x, approximate="tanh"))
    expect(result.ok or compare_tensors(actual, F.gelu(x), atol=1e-6).ok,  # erf is reported by the check above
           f"{result.describe(f'{display} on an input of shape {tuple(x.shape)}')}. See section 4.3.")
