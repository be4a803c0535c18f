"""Heavy work in a notebook's cells (grader/probes_kernel/governor.py): loops over DataLoaders end once a
cell has run `heavy_after` seconds, a cell still running `heavy_grace` seconds later is interrupted, the
cells that need what it would have set are skipped, and code the grader sends is never shortened."""

import pytest

from grader.execute import KernelSession, SessionOptions, kernel_side_code
from notebooks import write_notebook

HEAVY = SessionOptions(cell_timeout=30, grace=1, budget=120, heavy_after=1.0, heavy_grace=3.0)

SETUP = """
import time
import torch
from torch.utils.data import DataLoader, Dataset

class Slow(Dataset):  # 0.02 s per item: 0.4 s per pass over the loader
    def __len__(self):
        return 20
    def __getitem__(self, i):
        time.sleep(0.02)
        return torch.tensor([i])

loader = DataLoader(Slow(), batch_size=1)
"""
CELLS = {
    "setup": SETUP,
    "first_batch": "first = next(iter(loader))\nprint(first.tolist())",
    "trains": "steps = 0\nfor epoch in range(100):\n    for batch in loader:\n        steps += 1\nlosses = [steps]",
    "uses_losses": "print('losses', len(losses))",
    "asserts_on_the_full_run": ("seen = 0\nfor batch in loader:\n    time.sleep(0.2)\n    seen += 1\n"
                                "assert seen == 20\nafter_assert = 1"),
    "samples_each_epoch": ("def train():\n    seen = 0\n    for epoch in range(100):\n"
                           "        for batch in loader:\n            seen += 1\n        time.sleep(0.5)\n"
                           "    return seen\nhistory = train()\nfinal = history * 2\n"
                           "def classify(text):\n    return 'spam' if 'win' in text else 'ham'\n"),
    "needs_history": "print(history)\nplot_data = [history]",
    "needs_plot_data": "print(plot_data)",
    "own_mistake": "print(undefined_name_of_mine)",
    "slow_without_loaders": "time.sleep(1.5)\nslept = True",
}


def index_of(name):
    return list(CELLS).index(name)


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heavy")
    notebook = write_notebook(folder / "assignment4.ipynb", *CELLS.values())
    with KernelSession(notebook, folder, options=HEAVY) as session:
        result = session.run_all()
        grader_pass = session.run_code(kernel_side_code("governed('none')") + "\nprint(sum(1 for _ in loader))",
                                       timeout=20)
        yield result, grader_pass, session.run_code("print(repr(classify('win now')))", timeout=10)


def cell(governed, name):
    return governed[0].cells[index_of(name)]


def test_a_loop_over_loaders_ends_after_heavy_after_and_the_cell_completes(governed):
    trains = cell(governed, "trains")
    assert (trains.status, trains.heavy) == ("ok", True)
    assert trains.seconds < 5, "100 epochs of 0.4 s each were not cut short"
    assert "heavy work" in trains.reason and "saved outputs" in trains.reason
    assert cell(governed, "uses_losses").output == "losses 1\n"


def test_a_cell_failing_on_what_its_shortened_loops_computed_is_not_an_error(governed):
    asserts = cell(governed, "asserts_on_the_full_run")
    assert (asserts.status, asserts.heavy, asserts.error_name) == ("timeout", True, "AssertionError")
    assert "not counted" in asserts.reason


def test_quick_cells_are_not_touched(governed):
    first = cell(governed, "first_batch")
    assert (first.status, first.heavy, first.reason, first.output) == ("ok", False, "", "[[0]]\n")


def test_a_cell_still_running_after_its_loaders_ended_is_interrupted(governed):
    samples = cell(governed, "samples_each_epoch")
    assert (samples.status, samples.heavy) == ("timeout", True)
    assert samples.seconds < HEAVY.heavy_after + HEAVY.heavy_grace + 2
    assert "interrupted" in samples.reason


def test_definitions_after_the_point_a_cut_cell_stopped_are_made_again(governed):
    reply = governed[2]
    assert (reply.status, reply.output) == ("ok", "'spam'\n")


def test_cells_needing_what_the_cut_cell_would_have_set_are_skipped_not_failed(governed):
    needs = cell(governed, "needs_history")
    assert needs.status == "skipped"
    assert "`history`" in needs.reason and f"cell {index_of('samples_each_epoch') + 1}" in needs.reason
    chained = cell(governed, "needs_plot_data")
    assert chained.status == "skipped" and "`plot_data`" in chained.reason


def test_the_students_own_name_errors_still_fail(governed):
    mistake = cell(governed, "own_mistake")
    assert (mistake.status, mistake.error_name) == ("error", "NameError")


def test_slow_cells_without_loaders_run_in_full(governed):
    slow = cell(governed, "slow_without_loaders")
    assert (slow.status, slow.heavy) == ("ok", False) and slow.seconds >= 1.5


def test_code_the_grader_sends_is_never_shortened(governed):
    reply = governed[1]
    assert reply.status == "ok" and reply.output.strip().endswith("20")


def test_heavy_after_zero_runs_every_cell_in_full(tmp_path):
    two_passes = "n = sum(1 for epoch in range(2) for _ in loader)\nprint(n)"
    notebook = write_notebook(tmp_path / "nb.ipynb", SETUP, two_passes)
    options = SessionOptions(cell_timeout=30, grace=1, budget=60, heavy_after=0)
    with KernelSession(notebook, tmp_path, options=options) as session:
        result = session.run_all()
    assert result.cells[1].output == "40\n" and not result.cells[1].heavy
