"""The execute stage: a sandboxed kernel runs a notebook cell by cell and survives its faults."""

import json
import os

import pytest

from grader.execute import GRADER_DIR, KernelSession, Limits, SessionOptions, kernel_env, prepare_workdir
from notebooks import markdown, write_notebook

FAST = SessionOptions(cell_timeout=5, grace=1, budget=120)

CELLS = {
    "defines": "x = 41\nprint('hello', x)",
    "errors": "1 / 0",
    "after_error": "x += 1\nprint(x)",
    "loops": "while True:\n    pass",
    "after_loop": "print('still', x)",
    "ignores_sigint": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    "after_kill": "print('replayed', x)",
    "exits": "import os\nos._exit(1)",
    "after_exit": "print('revived', x)",
    "chatters": "for i in range(50_000):\n    print(i, 'x' * 100)",
    "floods": "for _ in range(100):\n    print('y' * 1_000_000)",
    "environment": "import json, os\nprint(json.dumps(dict(os.environ)))",
    "data_files": "import json\nprint(open('the-verdict.txt').read(), len(json.load(open('instruction-data.json'))))",
    "tiktoken": "import tiktoken\nprint(tiktoken.get_encoding('gpt2').encode('Hello, world'))",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One notebook holding every fault, run once for the whole module (as testbook does)."""
    root = tmp_path_factory.mktemp("execute")
    submission = root / "student"
    write_notebook(submission / "assignment1.ipynb", markdown("# Assignment 1"), *CELLS.values())
    (submission / "the-verdict.txt").write_text("my own verdict")
    workdir = prepare_workdir(submission, root / "scratch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MY_SECRET", "hunter2")
        mp.setenv("GITHUB_TOKEN", "ghp_secret")
        with KernelSession(workdir / "assignment1.ipynb", workdir, options=FAST) as session:
            yield workdir, session.run_all()


def cell(executed, name):
    """The result of the cell named in CELLS (index + 1 skips the markdown cell)."""
    index = list(CELLS).index(name) + 1
    return next(c for c in executed[1].cells if c.index == index)


def test_ok_cell_records_its_output(executed):
    assert cell(executed, "defines").status == "ok"
    assert cell(executed, "defines").output == "hello 41\n"


def test_markdown_cells_have_no_result(executed):
    assert [c.index for c in executed[1].cells] == list(range(1, len(CELLS) + 1))


def test_error_is_recorded_and_later_cells_run(executed):
    error = cell(executed, "errors")
    assert (error.status, error.error_name, error.error_message) == ("error", "ZeroDivisionError", "division by zero")
    assert cell(executed, "after_error").output == "42\n"


def test_endless_loop_is_interrupted_and_state_is_kept(executed):
    loop = cell(executed, "loops")
    assert loop.status == "timeout" and "interrupted" in loop.reason
    assert cell(executed, "after_loop").output == "still 42\n"


def test_cell_ignoring_interrupt_is_killed_and_earlier_cells_replayed(executed):
    stubborn = cell(executed, "ignores_sigint")
    assert stubborn.status == "timeout" and "replayed" in stubborn.reason
    assert cell(executed, "after_kill").output == "replayed 42\n"


def test_kernel_exit_is_recorded_and_kernel_revived(executed):
    result = executed[1]
    assert cell(executed, "exits").status == "kernel_died"
    assert result.died_in_cell == cell(executed, "exits").index
    assert cell(executed, "after_exit").output == "revived 42\n"
    assert result.restarts == 2 and result.kernel_alive


def test_long_output_keeps_head_and_tail(executed):
    chatter = cell(executed, "chatters").output
    assert chatter.startswith("0 xxx") and chatter.endswith("49999 " + "x" * 100 + "\n")
    assert len(chatter) < 21_000 and "bytes cut]" in chatter


def test_flood_of_output_is_capped(executed):
    flood = cell(executed, "floods")
    assert flood.status == "ok" and len(flood.output) < 21_000
    assert "bytes cut]" in flood.output or "output lost" in flood.output
    assert cell(executed, "environment").status == "ok"


def test_kernel_environment_is_scrubbed(executed):
    workdir, env = executed[0], json.loads(cell(executed, "environment").output)
    assert "MY_SECRET" not in env and "GITHUB_TOKEN" not in env
    assert env["LLM_GRADER"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    assert env["HOME"].startswith(str(workdir))


def test_data_files_beside_notebook_and_own_file_kept(executed):
    assert cell(executed, "data_files").output == "my own verdict 1100\n"


def test_tiktoken_gpt2_works_offline(executed):
    assert cell(executed, "tiktoken").output == "[15496, 11, 995]\n"


def test_budget_exhaustion_skips_remaining_cells(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "import time\ntime.sleep(5)", "print(1)", "print(2)")
    options = SessionOptions(cell_timeout=10, grace=1, budget=1)
    with KernelSession(notebook, tmp_path, options=options) as session:
        result = session.run_all()
    assert [c.status for c in result.cells] == ["timeout", "skipped", "skipped"]
    assert result.budget_exhausted and "budget" in result.cells[1].reason


def test_memory_and_file_size_limits_fail_inside_the_kernel(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "big = bytearray(3 * 2**30)",
                              "open('big.bin', 'wb').write(b'x' * 2**21)", "print('alive')")
    limits = Limits(memory_bytes=2 * 2**30, file_bytes=2**20)
    with KernelSession(notebook, tmp_path, options=SessionOptions(cell_timeout=10, limits=limits)) as session:
        result = session.run_all()
    assert [c.error_name for c in result.cells] == ["MemoryError", "OSError", None]
    assert "File too large" in result.cells[1].error_message and result.cells[2].output == "alive\n"


def test_run_code_after_run_all_sees_notebook_globals(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "x = 6 * 7")
    with KernelSession(notebook, tmp_path, options=FAST) as session:
        session.run_all()
        reply = session.run_code("print(x)", timeout=3)
    assert (reply.status, reply.output) == ("ok", "42\n")


def test_prepare_workdir_skips_huge_files_and_outside_links(tmp_path):
    submission = tmp_path / "student"
    write_notebook(submission / "nb.ipynb", "x = 1")
    with open(submission / "checkpoint.pth", "wb") as big:
        big.truncate(60 * 2**20)
    (tmp_path / "secret.txt").write_text("grader's file")
    (submission / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (submission / "helpers.py").write_text("def f():\n    return 1\n")
    workdir = prepare_workdir(submission, tmp_path / "scratch", {"spam/SMS.tsv": tmp_path / "secret.txt"})
    names = {p.relative_to(workdir).as_posix() for p in workdir.rglob("*") if GRADER_DIR not in p.parts}
    assert {"nb.ipynb", "helpers.py", "the-verdict.txt", "instruction-data.json", "spam/SMS.tsv"} <= names
    assert "checkpoint.pth" not in names and "leak.txt" not in names


def test_prepare_workdir_refuses_data_paths_outside(tmp_path):
    (tmp_path / "student").mkdir()
    with pytest.raises(ValueError, match="relative path"):
        prepare_workdir(tmp_path / "student", tmp_path / "scratch", {"../evil.txt": tmp_path / "x"})


def test_kernel_env_keeps_only_allowed_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    env = kernel_env(tmp_path)
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["OMP_NUM_THREADS"] == "2"
    assert env["TMPDIR"].startswith(str(tmp_path)) and os.path.isdir(env["TIKTOKEN_CACHE_DIR"])


def test_a_weights_cache_is_linked_where_the_books_loaders_look(tmp_path):
    cache = tmp_path / "weights"
    (cache / "gpt2" / "124M").mkdir(parents=True)
    (cache / "gpt2" / "124M" / "hparams.json").write_text('{"n_embd": 768}')
    (cache / "gpt2-small-124M.pth").write_bytes(b"weights")
    (cache / "huggingface" / "hub").mkdir(parents=True)
    submission = tmp_path / "student"
    submission.mkdir()
    (submission / "gpt2-small-124M.pth").write_bytes(b"the student's own")
    workdir = prepare_workdir(submission, tmp_path / "scratch", weights=cache)
    assert json.loads((workdir / "gpt2" / "124M" / "hparams.json").read_text()) == {"n_embd": 768}
    assert (workdir / "gpt2-small-124M.pth").read_bytes() == b"the student's own"  # the student's file wins
    assert not (workdir / "huggingface").exists()
    assert kernel_env(workdir, str(cache))["HF_HOME"] == str((cache / "huggingface").resolve())
    assert "HF_HOME" not in kernel_env(workdir)
