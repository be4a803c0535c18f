"""Hostile notebooks get a clear report and win nothing: the project's own hostile cells, one per kind.

1. A `forward` that never returns: its component's first probe times out, the rest of its checks fail
   at once naming that hang, the other components are checked as usual.
2. A notebook that stubs torch's seeding, patches `torch.Generator`/`random.seed`, sets 64 threads and
   float64: the grader's preload kept torch as it came, so correct components still pass.
3. Patched comparisons (`torch.allclose`, `torch.equal`, `Tensor.__eq__`, `assert_close`, `torch.softmax`)
   next to a stub: the stub earns nothing, the correct components still pass.
4. Code that comes from the grader's `reference` package (a wrapper, an `exec(inspect.getsource(...))`
   copy): its checks are held for review with the evidence; a comment naming the book flags nothing.

Each kind is a cell appended to the correct a2 sample and graded once (two at a time); the kernel-level
tests share one small kernel.
"""

import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import torch

from grader.errors import ProbeTimeout
from grader.execute import KernelSession, SessionOptions
from grader.grade import GradeOptions, grade_isolated
from grader.load import discover
from grader.notebook import Notebook, foreign_imports, submission_imports
from grader.probe import Probe
from grader.render import write_gradebook
from grader.results import read_report
from notebooks import with_cell_appended, write_notebook
from tests.stubs.a2 import STUBS

SAMPLE = Path(__file__).resolve().parent.parent / "submissions" / "a2" / "ada-correct"
APPENDED_CELL = 32  # the sample has 31 cells; the hostile one comes last ("cell 32" in messages)

HANGS = '''
_Finished = MultiHeadAttention


class MultiHeadAttention(_Finished):
    """The same constructor and parameters; forward never returns."""

    def forward(self, x):
        while True:
            pass
'''

PATCHES_SEEDING = '''
import random

import numpy as np

torch.manual_seed = lambda *args, **kwargs: None
torch.random.manual_seed = torch.manual_seed
torch.Generator = lambda *args, **kwargs: None
random.seed = lambda *args, **kwargs: None
np.random.seed = lambda *args, **kwargs: None
torch.set_num_threads(64)
torch.set_default_dtype(torch.float64)
'''

PATCHES_COMPARISONS = '''
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.softmax = lambda x, dim=-1, **kwargs: torch.full_like(x, 1.0 / x.shape[dim])

''' + STUBS["MultiHeadAttention"]["zeros"]

IMPORTS_REFERENCE = '''
# Checked against the book's llms_from_scratch package (this comment imports nothing).
import inspect
import reference.ch03 as book

exec(inspect.getsource(book.MultiHeadAttention))


class CausalAttention(nn.Module):
    """A thin wrapper around someone else's CausalAttention."""

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.inner = book.CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)

    def forward(self, x):
        return self.inner(x)
'''

KINDS = {"hangs": HANGS, "patches-seeding": PATCHES_SEEDING, "patches-comparisons": PATCHES_COMPARISONS,
         "imports-reference": IMPORTS_REFERENCE}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """{kind: (report.json, gradebook row, files the submission folder held before and after)}, graded two at a
    time with the grader's scratch folders (TMPDIR) inside this test's own."""
    root = tmp_path_factory.mktemp("hostile")
    scratch = root / "tmp"
    scratch.mkdir()

    def grade(kind: str):
        folder = with_cell_appended(SAMPLE, KINDS[kind], root / kind / "ada")
        before = sorted(p.name for p in folder.rglob("*"))
        [submission] = discover([folder])
        out = grade_isolated(submission, root / "out" / kind, GradeOptions(cell_timeout=60, budget=300), timeout=600)
        report = json.loads((out / "report.json").read_text())
        write_gradebook([read_report(out / "report.json")], root / f"{kind}.csv")
        [row] = csv.DictReader((root / f"{kind}.csv").open())
        return report, row, (before, sorted(p.name for p in folder.rglob("*")))

    with pytest.MonkeyPatch.context() as env:
        env.setenv("TMPDIR", str(scratch))
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {kind: pool.submit(grade, kind) for kind in KINDS}
            results = {kind: future.result() for kind, future in futures.items()}
    results["scratch left"] = sorted(os.listdir(scratch))
    return results


def _checks(report: dict, component: str) -> list[dict]:
    return [c for c in report["checks"] if c["component"] == component]


def _others(report: dict, *components: str) -> list[dict]:
    return [c for c in report["checks"] if c["component"] not in components]


def _problems(checks: list[dict]) -> list[tuple]:
    return [(c["id"], c["status"], c["message"][:300]) for c in checks if c["status"] in ("fail", "error")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_notebook_leaves_nothing_behind(graded, kind):
    report, _, (before, after) = graded[kind]
    assert not report["problems"], report["problems"]
    assert before == after, "the submission's folder holds what it held before grading"
    assert graded["scratch left"] == [], "every scratch folder of the grader is removed"


def test_a_hanging_forward_times_out_once_and_its_other_checks_fail_fast(graded):
    report, _, _ = graded["hangs"]
    hangs = [w for w in report["warnings"] if " hung in " in w]
    assert len(hangs) == 1, report["warnings"]  # one probe timeout, not one per check
    assert "`MultiHeadAttention`" in hangs[0] and "in `MultiHeadAttention.forward`" in hangs[0]
    ran = [c for c in _checks(report, "MultiHeadAttention") if "::test_exists_" not in c["id"]]  # it needs no run
    assert len(ran) > 3 and all(c["status"] == "fail" for c in ran), [(c["id"], c["status"]) for c in ran]
    later = [c for c in ran if "not run, because `MultiHeadAttention` hung in an earlier check" in c["message"]]
    [first] = [c for c in ran if c not in later]
    assert "did not finish within 30 s and was interrupted in `MultiHeadAttention.forward`" in first["message"]
    assert len(later) == len(ran) - 1
    others = _others(report, "MultiHeadAttention")
    assert _problems(others) == [] and any(c["status"] == "pass" for c in _checks(report, "CausalAttention"))


def test_patched_seeding_threads_and_dtype_change_nothing(graded):
    report, row, _ = graded["patches-seeding"]
    assert _problems(report["checks"]) == []
    correctness = next(c for c in report["categories"] if c["name"] == "Correctness")
    assert correctness["score"] == correctness["max_score"] and row["status"] != "review"
    [note] = [w for w in report["warnings"] if "The grader put back its own" in w]
    for patched in ("`torch.manual_seed`", "`torch.random.manual_seed`", "`torch.Generator`", "`random.seed`",
                    "`numpy.random.seed`", "the thread count (set to 64", "the default dtype (set to torch.float64"):
        assert patched in note, note


def test_patched_comparisons_do_not_pass_a_stub(graded):
    report, _, _ = graded["patches-comparisons"]
    stub = _checks(report, "MultiHeadAttention")
    assert [c["id"] for c in stub if c["points"] > 0 and c["category"] == "Correctness"] == []
    assert any(c["status"] == "fail" for c in stub)
    assert _problems(_others(report, "MultiHeadAttention")) == [], "the correct components still pass"
    [note] = [w for w in report["warnings"] if "The grader put back its own" in w]
    assert all(f"`{name}`" in note for name in ("torch.allclose", "torch.equal", "torch.Tensor.__eq__",
                                                 "torch.testing.assert_close", "torch.softmax"))


def test_code_from_the_reference_package_is_held_for_review_with_the_evidence(graded):
    report, row, _ = graded["imports-reference"]
    imported = f"cell {APPENDED_CELL}: `import reference.ch03 as book`"
    copied, wrapper = _checks(report, "MultiHeadAttention"), _checks(report, "CausalAttention")
    assert copied and all(c["status"] == "review" for c in copied), _problems(copied)
    assert all("compiled from a string (`<string>`)" in c["message"] and imported in c["message"] for c in copied)
    assert wrapper and all(c["status"] == "review" for c in wrapper), _problems(wrapper)
    assert all("`CausalAttention.__init__` uses `reference.ch03.CausalAttention`" in c["message"] for c in wrapper)
    stacked = _checks(report, "MultiHeadAttentionWrapper")  # its heads are the wrapper: flagged through it
    assert stacked and all(c["status"] == "review" for c in stacked)
    own = _checks(report, "SelfAttention_v1") + _checks(report, "SelfAttention_v2")
    assert own and all(c["status"] == "pass" for c in own), "the book named in a comment flags nothing"
    assert any("the submission imports `reference`" in w and imported in w for w in report["warnings"])
    assert row["status"] == "review"


# ---------------------------------------------------------------- one kernel, no grading

def test_imports_are_found_and_mentions_are_not():
    source = ("# after the book's llms_from_scratch\nfrom reference.ch03 import CausalAttention as C\n"
              "%matplotlib inline\nimport importlib\nm = importlib.import_module('llms_from_scratch.ch04')\n"
              "text = 'import reference'\nimport torch, grader.checks\n")
    found = [(i.module, i.line) for i in foreign_imports(source, "cell 2")]
    assert found == [("reference.ch03", "from reference.ch03 import CausalAttention as C"),
                     ("llms_from_scratch.ch04", "m = importlib.import_module('llms_from_scratch.ch04')"),
                     ("grader.checks", "import torch, grader.checks")]
    assert foreign_imports("!pip install llms-from-scratch\n# import reference\nx = 1", "cell 1") == []
    assert [i.module for i in foreign_imports("x = !ls\nimport reference", "cell 3")] == ["reference"]


def test_a_submission_module_named_like_a_foreign_package_is_its_own(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import reference\nimport grader")])
    (tmp_path / "reference.py").write_text("from llms_from_scratch.ch03 import MultiHeadAttention\n")
    found = [(i.module, i.where) for i in submission_imports(notebook, tmp_path)]
    assert found == [("grader", "cell 1"), ("llms_from_scratch.ch03", "reference.py")]


KERNEL_CELLS = ('''
import inspect
import random
import torch
from torch import nn
import reference.ch03 as book
from reference.ch03 import SelfAttention_v2


class Own(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out)

    def forward(self, x):
        return self.W_query(x)


class Wrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.inner = book.CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)


class Stack(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.att = Wrapper(4, 4, 8, 0.0)


exec(inspect.getsource(book.MultiHeadAttention))


def draw():
    return torch.rand(3), torch.get_num_threads()


def spin(x=None):
    while True:
        pass
''', '''
GRADER_NAMES = {"SelfAttention_v1": "Own", "CausalAttention": "Wrapper", "TransformerBlock": "Stack",
                "generate_text_simple": "spin"}
''')
KERNEL_PATCHES = '''
torch.manual_seed = lambda *args, **kwargs: None
random.seed = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.clone = lambda self: torch.zeros(1)
torch.set_num_threads(3)
torch.set_default_dtype(torch.float64)
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile-kernel")
    notebook = write_notebook(workdir / "assignment2.ipynb", *KERNEL_CELLS, KERNEL_PATCHES)
    with KernelSession(notebook, workdir, options=SessionOptions(cell_timeout=30, grace=2, max_restarts=0)) as session:
        assert all(c.status == "ok" for c in session.run_all().cells)
        yield session


def test_probes_run_on_torch_as_it_was_before_the_notebook(kernel):
    assert kernel.run_code(KERNEL_PATCHES, timeout=10).status == "ok"  # again: an earlier probe put back the originals
    result = Probe(kernel).call("call_function", {"name": "draw", "seed": 5})
    values, threads = result.decoded()["result"]
    torch.manual_seed(5)
    assert torch.equal(values, torch.rand(3)) and values.dtype == torch.float32
    assert threads == int(os.environ["OMP_NUM_THREADS"])  # the grader's setting (tests/conftest.py), not 3
    assert {"torch.manual_seed", "random.seed", "torch.Tensor.__eq__", "torch.Tensor.clone"} <= set(result.restored)
    assert any(r.startswith("the thread count (set to 3") for r in result.restored)


def test_origins_name_the_foreign_code_a_component_uses(kernel):
    probe = Probe(kernel)

    def origin(name):
        return probe.call("describe", {"name": name}).data["origin"]

    wrapped = [{"by": "Wrapper.__init__", "uses": "reference.ch03.CausalAttention"}]
    assert origin("CausalAttention")["uses"] == origin("TransformerBlock")["uses"] == wrapped  # Stack holds a Wrapper
    assert origin("MultiHeadAttention")["from_string"] == "<string>"
    assert (origin("SelfAttention_v1")["uses"], origin("SelfAttention_v1")["from_string"]) == ([], None)
    assert probe.call("notebook_modules").data["packages"]["reference"] == ["reference", "reference.ch03"]


def test_a_hung_component_fails_at_once_after_its_first_timeout(kernel):
    nb = Notebook(kernel, None)
    with pytest.raises(pytest.fail.Exception, match="did not finish within 2 s and was interrupted in `spin`"):
        nb.run("call_function", {"name": "generate_text_simple"}, timeout=2)
    with pytest.raises(pytest.fail.Exception, match="not run, because `generate_text_simple` hung in an earlier"):
        nb.run("call_function", {"name": "generate_text_simple"}, timeout=600)
    assert len([n for n in nb.notes if " hung in " in n]) == 1
    assert nb.run("call_function", {"name": "draw"})["result"][1] == int(os.environ["OMP_NUM_THREADS"])


def test_an_imported_component_is_held_for_review_naming_the_cell_that_imported_it(kernel):
    nb = Notebook(kernel, None, original=nbformat.read(kernel.workdir / "assignment2.ipynb", as_version=4))
    with pytest.raises(pytest.skip.Exception) as held:
        nb.require("SelfAttention_v2")
    assert str(held.value).startswith("needs review: `SelfAttention_v2` is not all your own code: it is imported "
                                      "from `reference.ch03` (imported in cell 1: `import reference.ch03 as book`; "
                                      "cell 1: `from reference.ch03 import SelfAttention_v2`)")
    assert ("the submission imports `reference` (the grader's reference implementation): cell 1: `import "
            "reference.ch03 as book`; cell 1: `from reference.ch03 import SelfAttention_v2`. Checks of components "
            "whose code comes from it are held for review") in nb.notes


def test_an_interrupted_probe_says_where_it_was(kernel):
    with pytest.raises(ProbeTimeout) as timeout:
        Probe(kernel).call("call_function", {"name": "generate_text_simple"}, timeout=1)
    assert (timeout.value.where, timeout.value.components) == ("spin", ("generate_text_simple",))
