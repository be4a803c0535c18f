"""calc_loss_loader (section 6.6): the mean of calc_loss_batch over the first num_batches batches of a loader.

Your calc_loss_loader(data_loader, model, device, num_batches=None) runs on a small reference GPT classifier with
the grader's weights and a DataLoader over drawn batches (not shuffled), with the book's calc_loss_batch standing
in for yours (so a bug there is charged once, in its own checks); the loss must equal the reference's, over
all batches, over the first `num_batches`, and over all of them when `num_batches` exceeds the loader's length. The
losses the notebook prints while training come from it. Informational when the notebook has no calc_loss_loader.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import math

import pytest
import torch

from grader.checks import expect
from reference.ch06 import calc_loss_loader
from student_tests.a5.classification.common import TINY_CFG, classifier_payload, reference_classifier, run_on_classifier

pytestmark = pytest.mark.check(component="calc_loss_loader", section="6.6")
NAME, SECTION = "calc_loss_loader", "6.6"


@pytest.mark.parametrize("num_batches", [None, 2, 9], ids=["all-batches", "first-2-of-3", "more-than-there-are"])
def test_is_the_mean_batch_loss_over_num_batches(nb, num_batches):
    """The mean of the last-token cross-entropy over the first num_batches batches (all of them when None or when
    num_batches exceeds the loader's length), as the reference computes it."""
    component = nb.optional(NAME, "it is the helper that computes the losses the training loop prints")
    model = reference_classifier(TINY_CFG, seed=13)
    generator = torch.Generator().manual_seed(13)
    inputs = torch.randint(0, TINY_CFG["vocab_size"], (12, 8), generator=generator)
    targets = torch.randint(0, 2, (12,), generator=generator)
    payload = {**classifier_payload(model, TINY_CFG, num_classes=2, device=nb.device), "inputs": inputs,
               "targets": targets, "batch_size": 4, "num_batches": num_batches}
    result = run_on_classifier(nb, "loss_loader", payload, what=f"calling {component.display}", section=SECTION)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=4)
    expected = calc_loss_loader(loader, model.eval(), "cpu", num_batches=num_batches)
    shown = "not passed" if num_batches is None else num_batches
    expect(math.isclose(result["loss"], expected, rel_tol=1e-4, abs_tol=1e-5),
           f"{component.display} over a loader of 3 batches of 4 (num_batches {shown}) gave {result['loss']:.5f}; "
           f"the reference gives {expected:.5f}: the sum of the batch losses divided by the number of batches it "
           f"read (min(num_batches, len(data_loader))). See section {SECTION}.")
