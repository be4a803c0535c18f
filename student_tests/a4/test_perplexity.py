"""Perplexity (section 5.1.2): exp(loss), checked when the notebook defines a function for it.

The grader looks for `perplexity` (or GRADER_NAMES["perplexity"]), then for a function of
yours whose name mentions perplexity, and grades the first it finds: a function of a loss
(called with floats and with 0-d tensors; either kind may be refused) must return exp(loss);
a function of a loader and a model must return exp of the average loss. A notebook that
computes torch.exp(loss) inline skips this check.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import math

import pytest
import torch

from grader.checks import expect
from reference.ch05 import calc_loss_loader
from student_tests.a4.common import loader, loader_spec, model_spec, reference_model, token_data

pytestmark = pytest.mark.check(component="perplexity", section="5.1.2")
LOSSES = [0.0, 1.0, 2.5, 10.794]  # 10.794 is the book's untrained loss: perplexity about 48,726


def _close(value, expected) -> bool:
    return value is not None and abs(value - expected) <= 1e-6 + 1e-4 * abs(expected)


def _perplexity(nb, spec, model):
    result = nb.run("a4.perplexity", {"losses": LOSSES, "model": model_spec(model), "loader": spec},
                    what="calling your perplexity function")
    if result["graded"] is None:
        pytest.skip("no perplexity function in the notebook (a function whose name mentions perplexity); "
                    "computing torch.exp(loss) inline is fine")
    return result


def _expect_loader_perplexity(result, spec, model, graded):
    with torch.no_grad():
        expected = math.exp(calc_loss_loader(loader(spec), model, "cpu"))
    expect(_close(result["value"], expected),
           f"{graded} on a loader of 5 sequences returned {result['value']}; exp of the average loss "
           f"(calc_loss_loader) is {expected:.6f}. See section 5.1.2")


def test_perplexity_is_the_exponential_of_the_loss(nb):
    """Your perplexity function returns exp(loss) (of a loss, or of a loader's average loss)."""
    spec = loader_spec(*token_data(5, 4, seed=3), 2)
    model = reference_model(seed=2)
    result = _perplexity(nb, spec, model)
    graded = f"`{result['graded']}` (the function graded as perplexity)"
    if result["kind"] == "of a loader":
        _expect_loader_perplexity(result, spec, model, graded)
        return
    wrong = [f"{v['form']} {v['loss']} -> {v['value']}" for v in result["values"]
             if "error" not in v and not _close(v["value"], math.exp(v["loss"]))]
    unusable = [loss for loss in LOSSES if all(v["loss"] != loss or "error" in v for v in result["values"])]
    expect(not wrong and not unusable,
           f"{graded}: " + ("; ".join(wrong) + " where exp(loss) was expected" if wrong else
                            f"raised an error for losses {unusable} both as a float and as a tensor")
           + f" (exp(10.794) = {math.exp(10.794):,.1f}). Perplexity is exp(cross-entropy loss). See section 5.1.2")


def test_which_perplexity_function_was_graded(nb):
    """Which function the grader graded as perplexity (informational)."""
    result = _perplexity(nb, loader_spec(*token_data(2, 4, seed=3), 2), reference_model(seed=2))
    others = f"; also found {', '.join(result['others'])}" if result["others"] else ""
    pytest.skip(f"informational: graded `{result['name']}` as perplexity ({result['kind']}){others}")
