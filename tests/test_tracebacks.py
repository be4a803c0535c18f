"""A student's exception in a check's message names where it happened as the student can find it: the notebook's
cell (counted as the report counts cells, markdown included) and the submission's own files by their names,
never the kernel's temporary cell files or the grading machine's folders; also after a kernel restart, whose
replay gives the cells new numbers."""

import pytest
from nbformat.v4 import new_markdown_cell

from grader.execute import KernelSession, SessionOptions
from grader.notebook import Notebook
from notebooks import write_notebook

MODULE = "def divide(n):\n    return 1 / (n - n)\n"


def _message(nb: Notebook, name: str) -> str:
    with pytest.raises(pytest.fail.Exception) as failed:
        nb.call(name, 3)
    return str(failed.value.msg)


@pytest.mark.parametrize("restarts", [0, 1], ids=["one-kernel", "after-a-restart"])
def test_a_failing_call_names_the_notebook_cell_and_the_students_file(tmp_path, restarts):
    (tmp_path / "helpers.py").write_text(MODULE, encoding="utf-8")
    died = ["import os\nos._exit(1)"] if restarts else []
    notebook = write_notebook(tmp_path / "assignment1.ipynb", new_markdown_cell("# My assignment"),
                              "from helpers import divide",
                              "1 / 0  # fails, so a replay skips it and the cells after it get other numbers",
                              "def crash(n):\n    raise ValueError('my own bug')",
                              *died,
                              "def later(n):\n    total = n + 1\n    raise KeyError(total)")
    options = SessionOptions(cell_timeout=20, grace=1, max_restarts=restarts)
    with KernelSession(notebook, tmp_path, options=options) as session:
        nb = Notebook(session, session.run_all())
        assert session.restarts == restarts
        messages = [_message(nb, name) for name in ("crash", "later", "divide")]
    crash, later, divide = messages
    assert "cell 4, line 2, in crash\n    raise ValueError('my own bug')" in crash, crash
    assert f"cell {5 + restarts}, line 3, in later\n    raise KeyError(total)" in later, later
    assert 'File "helpers.py", line 2, in divide\n    return 1 / (n - n)' in divide, divide
    for message in messages:
        assert "ipykernel_" not in message and str(tmp_path) not in message and "Cell In[" not in message
