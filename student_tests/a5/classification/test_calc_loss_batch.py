"""calc_loss_batch (section 6.6): cross-entropy of the last token's logits against the class labels.

Your calc_loss_batch(input_batch, target_batch, model, device) runs on a small reference GPT
classifier with the grader's weights (so only your function is under test) and drawn batches;
the loss must equal the reference's. Only the last token attends to the whole message (causal
mask), which is why the book classifies from logits[:, -1, :]; a loss on the first token's
logits is named when it is what came out.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from reference.ch06 import calc_loss_batch
from student_tests.a5.classification.common import (
    TINY_CFG,
    classifier_payload,
    first_token_loss,
    id_batches,
    reference_classifier,
    run_on_classifier,
    signature_problem,
)

pytestmark = pytest.mark.check(component="calc_loss_batch", section="6.6")
NAME, SECTION = "calc_loss_batch", "6.6"


def _loss(nb, model, num_classes, inputs, targets) -> dict:
    payload = {**classifier_payload(model, TINY_CFG, num_classes=num_classes, device=nb.device),
               "inputs": inputs, "targets": targets}
    return run_on_classifier(nb, "loss_batch", payload, what=f"calling {nb.require(NAME).display}", section=SECTION)


def test_exists_with_the_book_signature(nb):
    """calc_loss_batch(input_batch, target_batch, model, device) exists."""
    problem = signature_problem(nb.require(NAME), ["input_batch", "target_batch", "model", "device"], {})
    expect(problem is None, f"{problem}; the book's signature is calc_loss_batch(input_batch, target_batch, model, "
                            f"device) (section {SECTION})")


@settings(max_examples=6)
@given(num_classes=st.integers(2, 3), seed=st.integers(0, 2**16), data=st.data())
def test_is_the_cross_entropy_of_the_last_tokens_logits(nb, num_classes, seed, data):
    """The loss equals the reference's: cross-entropy of logits[:, -1, :] against the labels."""
    model = reference_classifier(TINY_CFG, num_classes=num_classes, seed=seed)
    inputs, targets = data.draw(id_batches(TINY_CFG, num_classes=num_classes), label="batch")
    loss = _loss(nb, model, num_classes, inputs, targets)["loss"]
    with torch.no_grad():
        expected = calc_loss_batch(inputs, targets, model, "cpu")
    result = compare_tensors(loss.reshape(()), expected, atol=1e-5, rtol=1e-4)
    first = abs(float(loss) - first_token_loss(model, inputs, targets)) < 1e-5
    hint = (" That is the loss of the FIRST token's logits (logits[:, 0, :]); the first token sees only itself "
            "under the causal mask, the last one sees the whole message: use logits[:, -1, :].") if first else ""
    expect(result.ok, f"{nb.require(NAME).display} gave loss {float(loss):.6f} for inputs {inputs.tolist()} and labels "
                      f"{targets.tolist()} ({num_classes} classes, model seed {seed}); the reference gives "
                      f"{float(expected):.6f}.{hint} See section {SECTION}.")


def test_returns_a_loss_that_backpropagates(nb):
    """The loss is a scalar tensor whose backward() reaches the model's weights, the new head's among them."""
    model = reference_classifier(TINY_CFG, seed=3)
    inputs, targets = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]), torch.tensor([0, 1])
    result = _loss(nb, model, 2, inputs, targets)
    expect(result["requires_grad"] and result["loss"].numel() == 1 and result["head_reached"],
           f"{nb.require(NAME).display} returned a tensor of shape {tuple(result['loss'].shape)} with "
           f"requires_grad={result['requires_grad']} whose backward() reached {result['weights_reached']} of the "
           f"model's weight tensors (the head's: {result['head_reached']}); expected one number computed from the "
           f"model's output without torch.no_grad() or .item(), so that loss.backward() reaches the weights "
           f"(section {SECTION}).")
