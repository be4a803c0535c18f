"""A parent with the grader's heavy imports done once, which forks one grading child per submission.

Starting `python -m grader.grade` for every submission costs about two seconds before any grading
(torch, pytest, Hypothesis, the grader). `ForkServer` starts this module once per batch
(`python -P -m grader.forkserver`): it imports those modules, starts no thread and runs no torch
code, then reads one JSON request per line on stdin and answers {"pid": N} after forking a child
that grades like `python -m grader.grade` (grader.grade._main) with its own session, log, TMPDIR and
thread count. The child writes its exit status to `<scratch>/exit-status` before it exits;
the server ignores SIGCHLD, so the kernel reaps its children and no zombies pile up. The batch
waits for a child through a pidfd and kills it with grader.grade.kill_tree, as it would a Popen.

The check suites themselves are not imported here: pytest imports them in each child, so their
assertions are rewritten as they are in a plain run.

A request may name a grading slot (grader/zygote.py): the server then keeps that slot's kernel zygote
running (started on first use, again when it died or the weights or suites changed) and hands the child
its socket; the child's first act is the zygote's reset.
"""

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.zygote_side import become_child

SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ()  # the working folder never shadows the grader
STATUS_FILE = "exit-status"


class ForkServer:
    """The batch's handle on one running server; `spawn` is safe to call from several threads."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, *SAFE_PATH, "-m", "grader.forkserver"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
                                        text=True)
        self.lock = threading.Lock()

    def spawn(self, argv: list[str], log: Path, scratch: Path, env: dict[str, str],
              zygote: dict | None = None) -> int:
        """Fork a child that runs grader.grade._main(*argv); its pid. RuntimeError if the server is gone.
        `zygote` ({"slot": folder, "weights": path or None}): the child's kernels come from that slot's kernel
        zygote (grader/zygote.py), which the server starts when the slot has none (or a dead one)."""
        request = {"argv": argv, "log": str(Path(log).resolve()), "scratch": str(Path(scratch).resolve()),
                   "env": env, "zygote": zygote}
        with self.lock:
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                answer = self.process.stdout.readline()
            except (BrokenPipeError, OSError) as err:
                raise RuntimeError(f"the fork server stopped ({err})") from None
        if not answer:
            raise RuntimeError(f"the fork server stopped (exit {self.process.poll()})")
        return int(json.loads(answer)["pid"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wait_for(pid: int, scratch: Path, timeout: float) -> int | str:
    """A forked child's exit status (from its status file; 1 when it died without writing one), or "timeout"."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        handle = None  # it already ended
    try:
        deadline = time.monotonic() + timeout
        while handle is not None and not select.select([handle], [], [], 1.0)[0]:
            if time.monotonic() > deadline:
                return "timeout"
    finally:
        if handle is not None:
            os.close(handle)
    try:
        return int((Path(scratch) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return 1


def _preload() -> None:
    """The imports every grading child needs, done once, and the sandbox's trial run; nothing here leaves a
    thread running or runs torch code."""
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401

    import grader.grade  # noqa: F401
    import grader.plugin  # noqa: F401
    from grader.sandbox import bwrap_problem

    bwrap_problem()  # tried once here (a short subprocess), cached for every child


def _zygote_for(zygotes: dict, request: dict):
    """The request's slot's zygote, started (again) where it has none, a dead one, or one whose sandbox shows
    other weights or other assignments' probe files (LLM_GRADER_SUITES)."""
    from grader import zygote
    from grader.assignments import SUITES_ENV
    from grader.execute import KEEP_ENV

    wanted = request.get("zygote")
    if not wanted or not zygote.enabled():
        return None
    folder, key = wanted["slot"], (wanted.get("weights"), request["env"].get(SUITES_ENV, ""))
    running = zygotes.get(folder)
    if running is not None and (not running.alive() or running.key != key):
        running.stop()
        running = None
    if running is None:
        merged = {**os.environ, **request["env"]}
        env = {k: v for k, v in merged.items() if k in KEEP_ENV or k.startswith("LC_")}
        os.environ[SUITES_ENV] = key[1]  # the sandbox binds the probe files of these suites
        try:
            running = zygotes[folder] = zygote.Zygote(Path(folder), key[0], {**env, "HOME": folder})
            running.key = key
        except OSError as err:
            print(f"fork server: no kernel zygote for {folder}: {err}", file=sys.stderr, flush=True)
            return None
    return running


def _reset(slot, scratch: Path) -> None:
    """In the grading child, before anything else: the slot's zygote kills what the slot's earlier submissions
    left running and empties the slot's folders but for this child's scratch folder; or it is not used."""
    from grader import zygote

    zygote.attach(slot)
    try:
        slot.reset(scratch)
    except (zygote.ZygoteError, OSError) as err:
        zygote.detach_broken(str(err))


def _child(request: dict, slot=None) -> None:
    """In the forked child: become a grading child (session, log, environment), grade, write the status."""
    status, scratch = 1, Path(request["scratch"])
    try:
        become_child(request["log"])
        os.environ.update(request["env"])
        if slot is not None:
            _reset(slot, scratch)
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the child's own scratch folder
        threads = request["env"].get("OMP_NUM_THREADS")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        from grader.grade import _main

        status = _main(*request["argv"])
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            (scratch / STATUS_FILE).write_text(str(status))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def serve() -> None:
    _preload()
    zygotes: dict = {}  # slot folder -> grader.zygote.Zygote
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            running = _zygote_for(zygotes, request)
            pid = os.fork()
            if pid == 0:
                _child(request, running.handle() if running is not None else None)
            sys.stdout.write(json.dumps({"pid": pid}) + "\n")
            sys.stdout.flush()
    finally:
        for running in zygotes.values():
            running.stop()


if __name__ == "__main__":
    serve()
