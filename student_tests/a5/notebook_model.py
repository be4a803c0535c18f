"""The notebook's global `model` for the a5 checks that inspect it, also when the grader could not load it.

The a5 notebooks build `model` from pretrained GPT-2 weights that the grading machine does not have
(instructors may provide them: `grade --weights DIR`). When the cell that builds it failed here, the
grader rebuilds it small with the notebook's own class and replays the statements that adapt it (head,
freezing, LoRA layers, optimizer: `Notebook.stand_in_model`, grader/probes_kernel/standin.py), and the
checks inspect that stand-in. When not even that was possible, the checks that need the model are held
for review: the grading machine's missing weights must never cost a student points.

Not a check module; the a5 suites' conftest.py files use it.
"""

from grader.checks import hold_for_review


def inspect_notebook_model(nb, probe: str, *, section: str) -> dict | None:
    """What `probe` says of the notebook's global `model` (its own, or the stand-in); None when the notebook has
    none (and never builds one); held for review when its model could not be built here, not even small."""
    standin = nb.stand_in_model()
    if standin["status"] == "failed":
        hold_for_review(
            f"the notebook's `model` could not be built on the grading machine (cell {standin.get('cell', 0) + 1}: "
            f"`{str(standin.get('creation', ''))[:120]}`; pretrained weights are not available offline), and the "
            f"grader could not rebuild it small with your code to inspect it: {standin['why']}. The checks of your "
            f"model are held for the course staff (their points are neither given nor lost). To have them graded "
            f"automatically, build the model as the book does, from a config (e.g. `model = GPTModel(BASE_CONFIG)`, "
            f"then load the weights into it), so the grader can rebuild it small (section {section}).")
    if nb.find("model") is None:
        return None
    return nb.run(probe, {}, what="inspecting the notebook's global `model`")
