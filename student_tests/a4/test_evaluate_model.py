"""evaluate_model(model, train_loader, val_loader, device, eval_iter) (section 5.2).

Not a name the assignment requires: checked when the notebook defines it (or maps it with
GRADER_NAMES), informational otherwise. Your function gets a reference GPTModel with dropout
(drop_rate 0.1, in train mode) wrapped so that every forward pass records whether the model
was in eval mode and whether gradients were on; the book's calc_loss_loader stands in for
yours. Checks: the returned (train_loss, val_loss) over eval_iter batches (dropout must be
off for them to match), eval mode and no gradients while evaluating, and train mode again
afterwards.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch05 import evaluate_model
from student_tests.a4.common import DROPOUT, TINY_CFG, loader, loader_spec, model_spec, reference_model, token_data

pytestmark = pytest.mark.check(component="evaluate_model", section="5.2")
NAME = "evaluate_model"


def _evaluate(nb, *, seed=0, eval_iter=2, sequences=(5, 3)):
    component = nb.optional(NAME)
    cfg = {**TINY_CFG, "drop_rate": DROPOUT}
    model = reference_model(cfg, seed=seed)
    train = loader_spec(*token_data(sequences[0], 6, seed=seed), 2)
    val = loader_spec(*token_data(sequences[1], 6, seed=seed + 1), 2)
    result = nb.run("a4.evaluate", {"model": model_spec(model, cfg), "train": train, "val": val, "eval_iter": eval_iter,
                                    "device": nb.device}, what=f"calling {component.display}")
    with torch.no_grad():
        expected = evaluate_model(model.train(), loader(train), loader(val), "cpu", eval_iter)
    return component, result, expected


def test_exists_with_the_book_signature(nb):
    """evaluate_model(model, train_loader, val_loader, device, eval_iter) exists."""
    component = nb.optional(NAME)
    expected = ["model", "train_loader", "val_loader", "device", "eval_iter"]
    expect(list(component.params[:5]) == expected,
           f"{component.display} takes {list(component.params)}; the book's signature is "
           f"evaluate_model(model, train_loader, val_loader, device, eval_iter) (section 5.2)")


@settings(max_examples=3)
@given(eval_iter=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_returns_train_and_val_loss_over_eval_iter_batches(nb, eval_iter, seed):
    """It returns (train_loss, val_loss), each averaged over the first eval_iter batches of its loader."""
    component, result, expected = _evaluate(nb, seed=seed, eval_iter=eval_iter)
    got = result["returned"]
    ok = got is not None and len(got) >= 2 and all(
        g is not None and abs(g - e) <= 1e-5 + 1e-4 * abs(e) for g, e in zip(got[:2], expected))
    expect(ok, f"{component.display} with eval_iter={eval_iter} (train loader of 3 batches, val loader of 2; seed "
               f"{seed}) returned {got}; expected (train_loss, val_loss) = ({expected[0]:.6f}, {expected[1]:.6f}): "
               f"calc_loss_loader(train_loader, model, device, num_batches=eval_iter), then the same for "
               f"val_loader. See section 5.2")


def test_evaluates_in_eval_mode_without_gradients(nb):
    """While it computes the losses the model is in eval mode (no dropout) and gradients are off (torch.no_grad())."""
    component, result, _ = _evaluate(nb)
    calls = result["calls"]
    training = sum(c["training"] for c in calls)
    grad = sum(c["grad"] for c in calls)
    expect(calls and not training and not grad,
           f"{component.display} ran the model {len(calls)} times: {training} in train mode, {grad} with gradients "
           f"enabled; evaluate with model.eval() and inside `with torch.no_grad():`, so dropout is off and no "
           f"computation graph is kept. See section 5.2")


def test_leaves_the_model_in_train_mode(nb):
    """It runs the model, and afterwards the model is back in train mode (model.train()), so training goes on with
    dropout."""
    component, result, _ = _evaluate(nb)
    expect(result["calls"], f"{component.display} never ran the model, so it cannot have evaluated it. See section 5.2")
    expect(result["training_after"],
           f"{component.display} left the model in eval mode (model.training is False after the call); the "
           f"training loop calls it between optimizer steps, so call model.train() before returning. "
           f"See section 5.2")
