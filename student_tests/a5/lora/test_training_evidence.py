"""The training run (appendix E.4): the notebook as submitted shows that training ran.

The grader does not repeat your LoRA fine-tuning run (its own run of the notebook is cut short by
LLM_GRADER=1 and a per-cell time limit). It reads the outputs saved in the notebook you handed
in: printed losses or accuracies (the book prints "Train loss ..., Val loss ..." and "Training
accuracy: ...%") or a plot of them.

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a5.evidence import training_evidence

pytestmark = pytest.mark.check(component="training run", section="E.4")


def test_saved_outputs_show_training(nb):
    """The saved outputs show losses or accuracies printed during training, or a plot of them."""
    evidence = training_evidence(nb.original)
    expect(evidence.shows_training,
           f"the notebook as submitted shows no training run: {evidence.describe()}. Run the notebook top to bottom "
           f"before you hand it in, so that its saved outputs show the training and validation losses and "
           f"accuracies (printed, or plotted with matplotlib) of your LoRA fine-tuning run (appendix E.4).")
