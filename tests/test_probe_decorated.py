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
