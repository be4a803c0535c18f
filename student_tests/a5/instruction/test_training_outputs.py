"""The training run and its responses (sections 7.6-7.7): the notebook as submitted shows both.

The grader does not repeat your fine-tuning run (its own run of the notebook is shortened by
LLM_GRADER=1 and a per-cell time limit). It reads the outputs saved in the notebook you handed
in: losses printed during training (the book prints "Ep 1 (Step 000000): Train loss ..., Val
loss ...") or a plot of them, and responses generated for instructions after fine-tuning (the
book prints "Model response:" under each test instruction).

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a5.evidence import training_evidence
from student_tests.a5.instruction.common import response_cells

pytestmark = pytest.mark.check(component="training run", section="7.6")


def test_saved_outputs_show_the_training_losses(nb):
    """The saved outputs show losses printed during training, or a plot of them."""
    found = training_evidence(nb.original)
    expect(found.loss_values > 0 or found.plots > 0,
           f"the notebook as submitted shows no training run: no printed line with \"loss\" and a number, and no "
           f"plot ({found.code_cells} code cells, {found.cells_with_output} with saved outputs). Run the notebook top "
           f"to bottom before you hand it in, so that its saved outputs show the training and validation losses of "
           f"your fine-tuning run (printed, or plotted with matplotlib). See section 7.6.")


@pytest.mark.check(component="training run", section="7.7")
def test_saved_outputs_show_generated_responses(nb):
    """The saved outputs show responses your fine-tuned model generated for instructions."""
    found = training_evidence(nb.original)
    expect(bool(response_cells(nb.original)),
           f"the notebook as submitted shows no generated responses: no cell that calls a generate function shows a "
           f"response in its saved output, and no output is labelled like \"Model response:\" ({found.code_cells} code "
           f"cells, {found.cells_with_output} with saved outputs). Generate responses for a few test instructions "
           f"after fine-tuning and keep the outputs in the notebook. See section 7.7.")
