"""The classification head (section 6.5): the notebook's `model` ends in nn.Linear(emb_dim, num_classes).

Inspects the notebook's global `model` after the notebook ran: its output head (`out_head`, or
the last top-level Linear layer when you named it otherwise) must map the embedding width to
`num_classes` outputs (the notebook's global `num_classes`, else 2 for spam / not spam), and the
model must give one logit per class for every token.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a5.classification.common import require_model

pytestmark = pytest.mark.check(component="out_head", section="6.5")
SECTION = "6.5"


def _num_classes(info: dict) -> int:
    return info["num_classes"] or 2


def test_head_maps_emb_dim_to_num_classes(notebook_model):
    """`model.out_head` is a Linear layer from emb_dim inputs to num_classes outputs (2: not spam / spam)."""
    info = require_model(notebook_model)
    head, want = info["head"], _num_classes(info)
    expect(head is not None, f"the notebook's `{info['used_name']}` has no output head: no `out_head` attribute and no "
                             f"top-level Linear layer. Replace the vocabulary head with "
                             f"torch.nn.Linear(emb_dim, num_classes) (section {SECTION}).")
    vocab = " (the vocabulary size: the language-model head was not replaced)" if head["out"] > 1000 else ""
    expect(head["out"] == want and (info["emb_dim"] is None or head["in"] == info["emb_dim"]),
           f"the notebook's `{info['used_name']}.{head['name']}` maps {head['in']} inputs to {head['out']} outputs"
           f"{vocab}; expected Linear({info['emb_dim'] or head['in']}, {want}): one output per class "
           f"(num_classes={want}). Set model.out_head = torch.nn.Linear(in_features=emb_dim, "
           f"out_features=num_classes) after loading the pretrained weights (section {SECTION}).")


def test_model_gives_one_logit_per_class_for_each_token(notebook_model):
    """The model's output for ids of shape (1, 4) has shape (1, 4, num_classes)."""
    info = require_model(notebook_model)
    want, shape = [1, 4, _num_classes(info)], info.get("output_shape")
    expect(shape == want,
           f"the notebook's `{info['used_name']}` gives an output of shape {tuple(shape) if shape else shape} "
           "for token ids of "
           f"shape (1, 4); expected {tuple(want)}: one logit per class at every position, of which the last "
           f"position's are used (section {SECTION}).")
