"""A decorated function (e.g. `@torch.no_grad()`) in a module of the submission is the student's own.

The decorator's wrapper lives in torch's files; where the function comes from is decided by the
function it wraps (grader/kernel_side.py `_origin` unwraps it).
"""

import pytest

from grader.execute import KernelSession, SessionOptions
from grader.probe import Probe
from notebooks import write_notebook

OPTIONS = SessionOptions(cell_timeout=20, grace=1, max_restarts=0)
MODULE = '''
import torch


@torch.no_grad()
def sample(model, idx, max_new_tokens, context_size):
    return idx
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("decorated")
    (workdir / "helpers.py").write_text(MODULE, encoding="utf-8")
    notebook = write_notebook(workdir / "assignment4.ipynb", "from helpers import sample",
                              'GRADER_NAMES = {"generate": "sample"}')
    with KernelSession(notebook, workdir, options=OPTIONS) as session:
        assert all(c.status == "ok" for c in session.run_all().cells)
        yield Probe(session)


def test_decorated_function_in_a_submission_module_is_the_students(probe):
    data = probe.call("describe", {"name": "generate"}).data
    assert data["params"] == ["model", "idx", "max_new_tokens", "context_size"]
    assert data["origin"]["in_submission"] and data["origin"]["module"] == "helpers"


def test_a_probe_that_runs_out_of_memory_is_held_for_review_not_failed(tmp_path):
    """The kernel's memory cap is shared with the notebook's own objects (models, checkpoints): a check whose probe
    hits it is held for the course staff; any other exception of the student's code still fails the check."""
    from grader.checks import REVIEW
    from grader.notebook import Notebook

    notebook = write_notebook(tmp_path / "assignment1.ipynb",
                              "def fill(n):\n    raise MemoryError('no room for the grader')",
                              "def grow(n):\n    raise RuntimeError(\"DefaultCPUAllocator: can't allocate memory\")",
                              "def crash(n):\n    raise ValueError('my own bug')")
    with KernelSession(notebook, tmp_path, options=OPTIONS) as session:
        nb = Notebook(session, session.run_all())
        for name in ("fill", "grow"):
            with pytest.raises(pytest.skip.Exception) as held:
                nb.call(name, 3)
            assert str(held.value.msg).startswith(REVIEW) and "ran out of memory" in held.value.msg
        with pytest.raises(pytest.fail.Exception, match="raised ValueError: my own bug"):
            nb.call("crash", 3)
