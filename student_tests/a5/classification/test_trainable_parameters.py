"""Freezing (section 6.5): which parameters of the notebook's `model` are trainable, and the optimizer's.

Inspects the notebook's global `model` after it ran. The book freezes everything, then makes the
last transformer block, the final LayerNorm and the new `out_head` trainable; training more (the
last k blocks, or full fine-tuning) or only the head is also accepted. What must hold: the new
head trains, and the trainable parts are the model's last parts (a frozen block before a
trainable embedding, say, is not a strategy). The global `optimizer`, when there is one, must
hold every trainable parameter (one built before the head was replaced holds the old head's).

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a5.classification.common import require_model

pytestmark = pytest.mark.check(component="freezing", section="6.5")
SECTION = "6.5"


def _state(part: dict | None) -> str:
    if part is None or part["params"] == 0:
        return "none"
    return "trainable" if part["trainable"] == part["params"] else "frozen" if part["trainable"] == 0 else "partly"


def _parts(info: dict) -> list[tuple[str, str]]:
    """(name, state) of the model's parts in order: embeddings, blocks, final norm, head."""
    roles, names = info["roles"], info["names"]
    parts = [(name, _state(part)) for name, part in zip(names["embeddings"], roles["embeddings"])]
    parts += [(f"{names['blocks']}[{i}]", _state(part)) for i, part in enumerate(roles["blocks"])]
    if roles["norm"] is not None:
        parts.append((names["norm"], _state(roles["norm"])))
    parts += [(name, _state(part)) for name, part in zip(names["other"], roles["other"])]
    parts.append((names["head"] or "head", _state(roles["head"])))
    return [(n, s) for n, s in parts if s != "none"]


def _strategy(info: dict) -> str | None:
    """'full fine-tuning', "the book's (...)", 'the last k blocks ...', 'only the head', or None (no suffix)."""
    states = [s for _, s in _parts(info)]
    first = next((i for i, s in enumerate(states) if s != "frozen"), len(states))
    if any(s != "trainable" for s in states[first:]) or first == len(states):
        return None
    blocks = sum(1 for name, s in _parts(info)[first:] if "[" in name)
    if first == 0:
        return "full fine-tuning (every parameter trainable)"
    if blocks == 0:
        return "only the output head trainable" + (" (and the final norm)" if len(states) - first > 1 else "")
    if blocks == 1:
        return "the book's strategy: the last transformer block, the final norm and the head trainable, the rest frozen"
    return f"partial fine-tuning: the last {blocks} transformer blocks, the final norm and the head trainable"


def _summary(info: dict) -> str:
    return ", ".join(f"{name} {state}" for name, state in _parts(info))


def test_the_new_head_is_trainable(notebook_model):
    """Every parameter of the new `out_head` has requires_grad=True."""
    info = require_model(notebook_model)
    head = info["roles"]["head"]
    expect(head is not None and head["params"] > 0 and head["trainable"] == head["params"],
           f"the notebook's `{info['used_name']}.{info['names']['head']}` has {head and head['trainable']} of "
           f"{head and head['params']} parameters trainable: the new classification head is frozen, so it never "
           f"learns. Freeze the model first, then replace out_head (a new nn.Linear is trainable) or set "
           f"requires_grad=True on its parameters (section {SECTION}). Parts: {_summary(info)}.")


def test_trainable_parts_are_the_last_ones(notebook_model):
    """The trainable parts are a tail of the model: the book's last block + final norm + head, or more, or all."""
    info = require_model(notebook_model)
    expect(_strategy(info) is not None,
           f"the notebook's `{info['used_name']}` has these parts trainable or frozen: {_summary(info)}. The book "
           f"freezes everything, then unfreezes the last transformer block, the final norm and out_head; full "
           f"fine-tuning trains everything. Either way, a part is trainable only when every part after it is "
           f"(section {SECTION}).")


def test_reports_the_freezing_strategy(notebook_model):
    """Which freezing strategy the notebook's model uses (informational)."""
    info = require_model(notebook_model)
    strategy = _strategy(info)
    if strategy is None:
        pytest.skip("informational: no known freezing strategy found (see the check of the trainable parts)")
    trainable = sum(p["trainable"] for p in [*info["roles"]["embeddings"], *info["roles"]["blocks"],
                                               info["roles"]["norm"] or {"trainable": 0}, info["roles"]["head"],
                                               *info["roles"]["other"]])
    pytest.skip(f"informational: your `{info['used_name']}` uses {strategy}; {trainable:,} trainable parameters")


def test_optimizer_holds_every_trainable_parameter(notebook_model):
    """The global `optimizer` updates every trainable parameter of `model` (built after the head was replaced)."""
    info = require_model(notebook_model)
    if info["optimizer"] is None:
        pytest.skip("the notebook has no global `optimizer` (a torch.optim.Optimizer) to inspect")
    missing = info["optimizer"]
    expect(missing["missing_count"] == 0,
           f"the notebook's `optimizer` does not hold {missing['missing_count']} trainable parameter(s) of "
           f"`{info['used_name']}`, e.g. {missing['missing'][:5]}: they never change. Create the optimizer after "
           f"replacing the head, from model.parameters() (section 6.7).")
