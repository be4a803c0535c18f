"""Code-quality and documentation evidence, each on a good and a flawed notebook."""

from types import SimpleNamespace

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader import evidence


def _nb(*cells):
    return new_notebook(cells=[new_code_cell(c) if isinstance(c, str) else c for c in cells])


def _ran(source: str, count, outputs=()):
    return new_code_cell(source, execution_count=count, outputs=list(outputs))


def _execution(*statuses):
    cells = tuple(SimpleNamespace(index=i, status=s, error_name="ValueError" if s == "error" else None)
                  for i, s in enumerate(statuses))
    return SimpleNamespace(cells=cells)


def test_runs_clean_counts_failed_cells():
    assert evidence.runs_clean(_execution("ok", "ok", "timeout")).value == 1.0
    flawed = evidence.runs_clean(_execution("ok", "error", "ok", "kernel_died"))
    assert flawed.value == 0.5 and "cell 2 (ValueError)" in flawed.evidence


def test_execution_order_accepts_a_clean_top_to_bottom_run():
    assert evidence.execution_order(_nb(_ran("a = 1", 1), new_markdown_cell("x"), _ran("b = 2", 2))).value == 1.0


def test_execution_order_names_stale_and_unrun_cells():
    signal = evidence.execution_order(_nb(_ran("a = 1", 5), _ran("b = 2", 3), _ran("c = 3", None)))
    assert (signal.value < 1 and "cell(s) 3 were never run" in signal.evidence
            and "cell(s) 2 ran before" in signal.evidence)


def test_lint_finds_real_problems_only(tmp_path):
    clean, flawed = tmp_path / "clean.ipynb", tmp_path / "flawed.ipynb"
    nbformat.write(_nb("import os\n%matplotlib inline\nx = [1, 2]", "print(x); l = x\nif l: print(l)"), clean)
    nbformat.write(_nb("y = undefined_name + 1", "def f(a=[]):\n    return a"), flawed)
    assert evidence.lint(clean).value == 1.0
    signal = evidence.lint(flawed)
    assert signal.value == 0.8 and "F821" in signal.evidence and "B006" in signal.evidence


def test_docstrings_follow_grader_names():
    nb = _nb('GRADER_NAMES = {"GELU": "MyGelu"}', 'class MyGelu:\n    """tanh GELU."""', "def GPTModel(cfg):\n    pass")
    signal = evidence.docstrings(nb, ["GELU", "GPTModel", "LayerNorm"], evidence.grader_names(nb))
    assert signal.value == 0.5 and "missing on GPTModel" in signal.evidence


def test_giant_cells_and_functions_are_named():
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    signal = evidence.cell_size(_nb("a = 1", f"def long():\n{body}"))
    assert signal.value == 0.75 and "`long` in cell 2" in signal.evidence
    assert evidence.cell_size(_nb("a = 1")).value == 1.0


def test_plots_are_found_in_saved_outputs():
    image = new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    assert evidence.plots(_nb(_ran("plot()", 1, [image])), minimum=2).value == 0.5
    assert evidence.plots(_nb(_ran("print(1)", 1))).value == 0.0


def test_training_evidence_wants_printed_losses():
    printed = new_output("stream", name="stdout", text="Ep 1 (Step 000000): Train loss 9.812, Val loss 9.930\n")
    assert evidence.training_evidence(_nb(_ran("train()", 1, [printed]))).value == 1.0
    assert evidence.training_evidence(_nb(_ran("train()", 1))).value == 0.0


def test_readme_terms_with_spellings():
    terms = ("byte-pair|bpe", "subword", "merge")
    assert evidence.readme_answers("BPE merges frequent pairs into subword units.", terms, 3).value == 1.0
    partial = evidence.readme_answers("We used BPE.", terms, 2)
    assert partial.value == 0.5 and "not found: subword, merge" in partial.evidence
    assert evidence.readme_answers(None, terms, 1).evidence == "no README.md in the submission"
