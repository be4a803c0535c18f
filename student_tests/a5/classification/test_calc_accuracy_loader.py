"""calc_accuracy_loader (section 6.6): the share of examples whose last-token prediction is the label.

Your calc_accuracy_loader(data_loader, model, device, num_batches=None) runs on a small reference
GPT classifier with the grader's weights and a DataLoader over drawn batches (not shuffled); the
accuracy must equal the reference's, over all batches or only the first `num_batches`. Handed a
model in training mode (dropout acting), it measures in eval mode, as the book's does (model.eval()).

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch06 import calc_accuracy_loader
from student_tests.a5.classification.common import (
    DROPOUT,
    TINY_CFG,
    classifier_payload,
    predictions,
    reference_classifier,
    run_on_classifier,
    signature_problem,
)

pytestmark = pytest.mark.check(component="calc_accuracy_loader", section="6.6")
NAME, SECTION = "calc_accuracy_loader", "6.6"


def _run(nb, model, inputs, targets, *, batch_size, num_batches, cfg=TINY_CFG, train=False) -> dict:
    payload = {**classifier_payload(model, cfg, num_classes=2, device=nb.device), "inputs": inputs,
               "targets": targets, "batch_size": batch_size, "num_batches": num_batches, "train": train}
    return run_on_classifier(nb, "accuracy_loader", payload, what=f"calling {nb.require(NAME).display}",
                             section=SECTION)


def _accuracy(nb, model, inputs, targets, *, batch_size, num_batches) -> float:
    return _run(nb, model, inputs, targets, batch_size=batch_size, num_batches=num_batches)["accuracy"]


def _expected(model, inputs, targets, *, batch_size, num_batches) -> float:
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=batch_size)
    return calc_accuracy_loader(loader, model, "cpu", num_batches=num_batches)


def test_exists_with_the_book_signature(nb):
    """calc_accuracy_loader(data_loader, model, device, num_batches=None) exists."""
    problem = signature_problem(nb.require(NAME), ["data_loader", "model", "device", "num_batches"],
                                {"num_batches": None})
    expect(problem is None, f"{problem}; the book's signature is calc_accuracy_loader(data_loader, model, device, "
                            f"num_batches=None) (section {SECTION})")


def test_predicts_from_the_last_token(nb):
    """Labels equal to the reference's last-token predictions give accuracy 1.0."""
    model = reference_classifier(TINY_CFG, seed=11)
    inputs = torch.randint(0, TINY_CFG["vocab_size"], (16, 8), generator=torch.Generator().manual_seed(11))
    targets, first = predictions(model, inputs, -1), predictions(model, inputs, 0)
    accuracy = _accuracy(nb, model, inputs, targets, batch_size=4, num_batches=None)
    named = (f" That is the accuracy of the FIRST token's predictions ({float((first == targets).float().mean()):.4f}):"
             f" classify from logits[:, -1, :], the only position that sees the whole message.")
    expect(abs(accuracy - 1.0) < 1e-6,
           f"{nb.require(NAME).display} gave {accuracy:.4f} on 16 examples whose labels are the model's own "
           "last-token predictions, so the accuracy is 1.0."
           f"{named if abs(accuracy - float((first == targets).float().mean())) < 1e-6 else ''} "
           f"See section {SECTION}.")


@settings(max_examples=6)
@given(examples=st.integers(1, 12), batch_size=st.integers(1, 5), num_batches=st.none() | st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_matches_the_reference(nb, examples, batch_size, num_batches, seed):
    """The accuracy equals the reference's for drawn batches, over all batches or the first num_batches."""
    model = reference_classifier(TINY_CFG, seed=seed)
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, TINY_CFG["vocab_size"], (examples, 6), generator=g)
    targets = torch.randint(0, 2, (examples,), generator=g)
    accuracy = _accuracy(nb, model, inputs, targets, batch_size=batch_size, num_batches=num_batches)
    expected = _expected(model, inputs, targets, batch_size=batch_size, num_batches=num_batches)
    seen = len(targets) if num_batches is None else min(len(targets), batch_size * num_batches)
    first = float((predictions(model, inputs[:seen], 0) == targets[:seen]).float().mean())
    named = (" That is the accuracy of the FIRST token's predictions: use logits[:, -1, :]."
             if abs(accuracy - first) < 1e-6 else "")
    expect(abs(accuracy - expected) < 1e-6,
           f"{nb.require(NAME).display} gave {accuracy:.4f}; the reference gives {expected:.4f} for {examples} "
           f"examples in batches of {batch_size} with num_batches={num_batches} (labels {targets.tolist()}, "
           f"model seed {seed}). Count correct last-token predictions over the examples of the first num_batches "
           f"batches (all when None) and divide by the number of those examples.{named} See section {SECTION}.")


def test_measures_in_eval_mode(nb):
    """Handed a model in training mode (dropout 0.5), the accuracy is the eval-mode one: dropout does not act."""
    cfg = {**TINY_CFG, "drop_rate": DROPOUT}
    model = reference_classifier(cfg, seed=12)
    inputs = torch.randint(0, cfg["vocab_size"], (32, 8), generator=torch.Generator().manual_seed(12))
    targets = predictions(model, inputs, -1)
    result = _run(nb, model, inputs, targets, batch_size=8, num_batches=None, cfg=cfg, train=True)
    # a wrong accuracy although every forward call ran in eval mode is another check's business
    expect(result["forward_calls"] > 0, f"{nb.require(NAME).display} gave {result['accuracy']:.4f} without calling "
           f"the model it was given; measure the model's last-token predictions (section {SECTION}).")
    expect(abs(result["accuracy"] - 1.0) < 1e-6 or not result["train_mode_calls"],
           f"{nb.require(NAME).display} gave {result['accuracy']:.4f} on 32 examples whose labels are the model's own "
           f"eval-mode predictions (so 1.0), for a model handed over in training mode with dropout {DROPOUT}; "
           f"{result['train_mode_calls']} of its {result['forward_calls']} forward calls ran in training mode, where "
           f"dropout changes the predictions at random. Call model.eval() before measuring, as the book does "
           f"(section {SECTION}).")
