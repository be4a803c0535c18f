"""Kernel zygotes (grader/zygote.py): a kernel forked from a slot's zygote behaves like a freshly started one, and
nothing one submission leaves in the slot (a process, a file, a stopped or traced zygote) reaches the next.

The zygote is used directly here, as the fork server's grading child would (attach, reset, KernelSession);
test_sandbox and test_hostile grade batches through it. Skipped where bwrap cannot run.
"""

import ast
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from grader import sandbox, zygote
from grader.execute import KernelSession, SessionOptions, prepare_workdir
from grader.zygote import ForkedKernelManager
from notebooks import processes_with, write_notebook

pytestmark = pytest.mark.skipif(sandbox.bwrap_problem() is not None or not zygote.enabled(),
                                reason=f"bubblewrap cannot run here: {sandbox.bwrap_problem()}")
MARKER = "31337.75"  # a process the first notebook leaves running, found by its argument
OPTIONS = SessionOptions(cell_timeout=20, grace=1, budget=300, sandbox="bwrap")


@pytest.fixture
def slot():
    """One slot's zygote, attached as in a grading child; yields (slot handle, a function giving a fresh scratch
    folder reset by the zygote, as each submission's is)."""
    folder = Path(tempfile.mkdtemp(prefix="zy-", dir="/tmp"))
    started = zygote.Zygote(folder / "0", None, {"PATH": os.environ["PATH"], "OMP_NUM_THREADS": "1"})
    handle = started.handle()
    zygote.attach(handle)

    def next_submission() -> Path:
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=started.folder))
        handle.reset(scratch)
        return scratch
    try:
        yield handle, next_submission
    finally:
        zygote.attach(None)
        started.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _session(tmp_path: Path, scratch: Path, name: str, *cells: str) -> KernelSession:
    write_notebook(tmp_path / name / "assignment1.ipynb", *cells)
    (tmp_path / name / "helpers.py").write_text("ANSWER = 42\n")
    workdir = prepare_workdir(tmp_path / name, scratch)
    return KernelSession(workdir / "assignment1.ipynb", workdir, options=OPTIONS)


def _waited(condition, seconds: float = 5.0) -> bool:
    """Whether `condition()` holds within `seconds` (a killed kernel's threads take a moment to end)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_forked_kernel_runs_interrupts_dies_and_restarts_like_a_fresh_one(tmp_path, slot):
    _handle, next_submission = slot
    cells = ["import torch, helpers, os, sys\nprint(torch.ones(3).sum().item(), helpers.ANSWER, os.getcwd() == "
             "sys.path[0] or os.getcwd() in sys.path)",
             "import time\ntime.sleep(60)",  # interrupted at the cell timeout, by message
             "print('after the interrupt', os.environ['HOME'].endswith('home'), 'LLM_GRADER' in os.environ)",
             "import os\nos._exit(3)",  # the kernel dies: the next cell runs in a new one, forked again
             "print('replayed', helpers.ANSWER)"]
    with _session(tmp_path, next_submission(), "student", *cells) as session:
        assert isinstance(session._kernel.km, ForkedKernelManager)
        results = session.run_all().cells
        assert isinstance(session._kernel.km, ForkedKernelManager)
    assert [r.status for r in results] == ["ok", "timeout", "ok", "kernel_died", "ok"]
    assert results[0].output.strip() == "3.0 42 True"
    assert results[2].output.strip() == "after the interrupt True True"
    assert results[4].output.strip() == "replayed 42"


def test_nothing_one_submission_leaves_reaches_the_next(tmp_path, slot):
    handle, next_submission = slot
    first = next_submission()
    leave = [
        f"import subprocess\nsubprocess.Popen(['sleep', {MARKER!r}], start_new_session=True)\nprint('left')",
        "open('/tmp/left-by-a', 'w').write('a'); open('/dev/shm/left-by-a', 'w').write('a')\n"
        "import os\nopen(os.path.expanduser('~/left-by-a'), 'w').write('a')\n"
        f"open({str(first.parent)!r} + '/left-by-a', 'w').write('a')\n"
        f"os.makedirs({str(first)!r} + '/locked/inner'); os.chmod({str(first)!r} + '/locked', 0)\n"
        "import ctypes\nassert ctypes.CDLL(None).shmget(31337, 4096, 0o1600) >= 0",  # IPC_CREAT | 0600
        # the zygote is PID 1 of the sandbox, not dumpable: no signal from inside reaches it, nothing reads it
        "import os, signal\nfor sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM):\n    os.kill(1, sig)\n"
        "for path in ('/proc/1/environ', '/proc/1/mem', '/proc/1/fd/0'):\n"
        "    try:\n        open(path, 'rb').read(1); print('READ', path)\n    except OSError:\n        pass\n"
        "for fd in (os.listdir('/proc/1/fd') if os.access('/proc/1/fd', os.R_OK) else []):\n"
        "    try:\n        print('READ', os.readlink(f'/proc/1/fd/{fd}'))\n    except OSError:\n        pass",
        "print('still here')"]
    first_session = _session(tmp_path, first, "a", *leave)
    first_session.start()
    results = first_session.run_all().cells
    assert [r.status for r in results] == ["ok"] * 4, [r.output[-300:] for r in results]
    assert "READ" not in results[2].output
    assert processes_with(MARKER), "the notebook's process runs as long as its kernel"

    second = next_submission()  # as if the first grading child had been killed with its kernel still running
    assert processes_with(MARKER) == []
    assert _waited(lambda: not first_session.alive), "the first kernel outlived the reset"
    first_session.close()
    assert sorted(os.listdir(first.parent)) == [second.name] and os.listdir(second) == []
    look = ("import glob, os\nprint(sorted(glob.glob('/tmp/*') + glob.glob('/dev/shm/*') + "
            f"glob.glob({str(first.parent)!r} + '/*')))\n"
            f"print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])\n"
            "import ctypes\nprint('shared memory', ctypes.CDLL(None).shmget(31337, 0, 0))")
    with _session(tmp_path, second, "b", look) as session:
        [result] = session.run_all().cells
        assert isinstance(session._kernel.km, ForkedKernelManager)
    assert result.status == "ok"
    seen, capabilities, shared = result.output.split("\n")[:3]
    assert shared == "shared memory -1"
    assert [p for p in ast.literal_eval(seen) if "left-by-a" in p or first.name in p] == []
    assert str(second) in seen and capabilities == "0000000000000000"


def test_a_zygote_that_stops_answering_is_abandoned_and_kernels_start_fresh(tmp_path, slot):
    handle, next_submission = slot
    scratch = next_submission()
    signal.pidfd_send_signal(handle.sandbox_pidfd, signal.SIGKILL)  # as if it had died
    with _session(tmp_path, scratch, "student", "print('fresh')") as session:
        [result] = session.run_all().cells
        assert not isinstance(session._kernel.km, ForkedKernelManager)
    assert zygote.current() is None
    assert result.output == "fresh\n"


def test_the_fork_server_starts_a_slots_zygote_again_when_it_died_or_the_weights_changed(tmp_path, monkeypatch):
    from grader.assignments import SUITES_ENV
    from grader.forkserver import _zygote_for

    monkeypatch.setenv(SUITES_ENV, "")  # _zygote_for sets it to the request's, for the sandbox's probe files
    folder = Path(tempfile.mkdtemp(prefix="zy-", dir="/tmp"))
    request = {"env": {"PATH": os.environ["PATH"]}, "zygote": {"slot": str(folder / "0"), "weights": None}}
    zygotes: dict = {}
    try:
        first = _zygote_for(zygotes, request)
        assert _zygote_for(zygotes, request) is first and first.alive()
        first.process.kill()
        first.process.wait()
        second = _zygote_for(zygotes, request)
        assert second is not first and second.alive()
        (tmp_path / "weights").mkdir()
        third = _zygote_for(zygotes, {**request, "zygote": {**request["zygote"], "weights": str(tmp_path / "weights")}})
        assert third is not second and third.alive() and not second.alive()
        assert _zygote_for(zygotes, {**request, "zygote": None}) is None
    finally:
        for running in zygotes.values():
            running.stop()
        shutil.rmtree(folder, ignore_errors=True)
