"""Kernel zygotes: in a batch, each grading slot's kernels are forked from one sandboxed process that has
already imported torch and ipykernel, instead of each paying about two seconds to import them.

A slot is one of the batch's parallel workers (grader.grade takes one for each submission it grades). Its
zygote (grader/zygote_side.py) runs in a bubblewrap sandbox of its own as PID 1, built like a kernel's
(grader.sandbox.Bubblewrap) around the slot's folder, under which every scratch folder of that slot lies.
The fork server (grader/forkserver.py) starts it and hands the grading child its socket; the child first
asks for a reset (every process of the sandbox killed, /tmp, /dev/shm and the slot folder emptied but for
its own empty scratch folder), so nothing a previous submission left, running or written, reaches this one.
grader.kernel.Kernel then asks for its kernels here (`Slot.kernel`), each again after a sweep, and knows a
kernel by the host pid the kernel's first message carries in its credentials (SO_PASSCRED): a pidfd says
whether it lives and kills it. Anything unexpected stops the slot's use (the sandbox is killed and the fork
server starts a fresh one for the next submission); that kernel then starts the usual way.

LLM_GRADER_NO_ZYGOTE=1 turns zygotes off (every kernel starts fresh, as with `--sandbox none`).
"""

import json
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from grader.sandbox import PYTHON, Bubblewrap

SIDE = Path(__file__).with_name("zygote_side.py")
READY_TIMEOUT = 120.0  # the zygote's imports, on a loaded machine
REPLY_TIMEOUT = 30.0  # a sweep, a reset (emptying a slot folder), a fork
MAX_REPLY = 1 << 16
CREDENTIALS = struct.calcsize("3i")
ZYGOTE_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "LLM_GRADER": "1"}


class ZygoteError(RuntimeError):
    """The zygote did not answer as expected; the slot is not used again."""


def enabled() -> bool:
    return not os.environ.get("LLM_GRADER_NO_ZYGOTE") and hasattr(os, "pidfd_open")


def slot_root() -> Path:
    """A fresh short folder for a batch's slot folders (kernel sockets live under them: paths stay short)."""
    base = tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="llm-grader-slots-", dir=base if len(base) < 40 else "/tmp"))


class Zygote:
    """The fork server's handle on one slot's sandboxed zygote."""

    def __init__(self, folder: Path, weights: str | None, env: dict[str, str]):
        self.folder, self.weights, self.key = Path(folder).resolve(), weights, None
        self.folder.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        readable = (Path(weights).resolve(),) if weights else ()
        argv = Bubblewrap(self.folder, self.folder, readable).argv([PYTHON, str(SIDE), str(theirs.fileno())])
        argv.insert(argv.index("--unshare-all") + 1, "--as-pid-1")
        try:
            self.process = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env={**env, **ZYGOTE_ENV},
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        finally:
            theirs.close()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.socket = ours
        try:  # the sandbox is killed through a pidfd: its pid may be reused once it has ended (SIGCHLD ignored)
            self.pidfd = os.pidfd_open(self.process.pid)
        except ProcessLookupError:
            self.pidfd = None

    def alive(self) -> bool:
        return _running(self.pidfd)

    def stop(self) -> None:
        _kill(self.pidfd)  # bwrap --die-with-parent: the whole sandbox goes with it
        self.process.wait()
        self.socket.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def handle(self) -> "Slot":
        return Slot(self.socket, self.folder, self.weights, self.pidfd)


def _running(pidfd: int | None) -> bool:
    """Whether the process behind a pidfd still runs (a pidfd turns readable when its process ends)."""
    return pidfd is not None and not select.select([pidfd], [], [], 0)[0]


def _kill(pidfd: int | None) -> None:
    if pidfd is not None:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass


class Slot:
    """A grading child's use of its slot's zygote (set by the fork server with `attach`)."""

    def __init__(self, sock: socket.socket, folder: Path, weights: str | None, sandbox_pidfd: int | None):
        self.socket, self.folder, self.weights, self.sandbox_pidfd = sock, Path(folder), weights, sandbox_pidfd

    def covers(self, *paths: Path) -> bool:
        return all(Path(p).resolve().is_relative_to(self.folder) for p in paths)

    def _exchange(self, request: dict, timeout: float) -> tuple[dict, int | None]:
        """Send a request and wait for its answer (a message with its id; a slot's earlier child, killed while it
        waited, may have left another) and the host pid of the answer's sender."""
        request = {**request, "id": secrets.token_hex(8)}
        try:
            self.socket.send(json.dumps(request).encode())
        except OSError as err:
            raise ZygoteError(f"the kernel zygote stopped ({err})") from None
        deadline = time.monotonic() + timeout
        while select.select([self.socket], [], [], max(deadline - time.monotonic(), 0))[0]:
            data, ancillary, _flags, _address = self.socket.recvmsg(MAX_REPLY, socket.CMSG_SPACE(CREDENTIALS))
            if not data:
                raise ZygoteError("the kernel zygote stopped")
            answer = json.loads(data)
            if answer.get("id") == request["id"]:
                pid = next((struct.unpack("3i", payload[:CREDENTIALS])[0] for level, kind, payload in ancillary
                            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), None)
                return answer, pid
        raise ZygoteError(f"the kernel zygote did not answer in {timeout:.0f} s")

    def request(self, op: str, timeout: float = REPLY_TIMEOUT, **fields) -> None:
        """A sweep or a reset, answered once done; ZygoteError otherwise."""
        answer, _pid = self._exchange({"op": op, **fields}, timeout)
        if answer.get("ok") is not True:
            raise ZygoteError(f"the kernel zygote could not {op}: {answer.get('error', answer)}")

    def reset(self, keep: Path) -> None:
        """Before a submission: nothing of the slot's earlier ones is left, and `keep` is an empty folder (the
        first answer of a new zygote comes after its imports)."""
        self.request("reset", READY_TIMEOUT, slot=str(self.folder), keep=str(Path(keep).resolve()))

    def kernel(self, request: dict) -> int:
        """Fork a kernel (grader.zygote_side._kernel's request); its host pid."""
        answer, pid = self._exchange({"op": "kernel", **request}, REPLY_TIMEOUT)
        if "pid" not in answer or not pid:
            raise ZygoteError(f"the kernel zygote could not start a kernel: {answer.get('error', answer)}")
        return pid

    def abandon(self) -> None:
        """Kill this slot's sandbox; the fork server starts a new zygote for the slot's next submission."""
        _kill(self.sandbox_pidfd)
        self.socket.close()


_current: list[Slot] = []  # the grading child's slot, if its fork server gave it one


def attach(slot: Slot | None) -> None:
    _current[:] = [slot] if slot is not None else []


def current() -> Slot | None:
    return _current[0] if _current else None


def detach_broken(why: str) -> None:
    """Stop using the slot (and kill its sandbox) after `why`; later kernels start fresh."""
    slot = current()
    if slot is not None:
        print(f"kernel zygote abandoned: {why}; kernels start fresh", file=sys.stderr, flush=True)
        slot.abandon()
        attach(None)


class ForkedKernelManager:
    """What grader.kernel.Kernel uses of a jupyter_client KernelManager, for a kernel forked by a zygote
    (its channels are Unix sockets; it is interrupted by message, as a bwrap kernel is)."""

    def __init__(self, slot: Slot, connection_file: Path, sockets: Path):
        self.slot, self.connection_file, self.client_ = slot, Path(connection_file), None
        write_connection_file(str(connection_file), transport="ipc", ip=str(Path(sockets) / "k"),
                              key=secrets.token_hex(16).encode())
        self.pid, self.pidfd = None, None

    def start_kernel(self, *, cwd: str, env: dict[str, str], log: Path, rlimits: list[tuple[int, int]]) -> None:
        self.pid = self.slot.kernel({"cwd": cwd, "env": env, "log": str(log), "rlimits": rlimits,
                                     "connection_file": str(self.connection_file)})
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            self.pidfd = None  # it already died; is_alive says so

    @property
    def has_kernel(self) -> bool:
        return self.pid is not None

    def is_alive(self) -> bool:
        return _running(self.pidfd)

    def client(self, context=None) -> BlockingKernelClient:
        client = BlockingKernelClient(connection_file=str(self.connection_file), context=context)
        client.load_connection_file()

        async def alive() -> bool:  # what wait_for_ready asks (it would ask a heartbeat the kernel lacks)
            return self.is_alive()
        client._async_is_alive = alive
        self.client_ = client
        return client

    def interrupt_kernel(self) -> None:
        if self.client_ is not None:
            self.client_.control_channel.send(self.client_.session.msg("interrupt_request", {}))

    def shutdown_kernel(self, now: bool = True) -> None:
        """Kill the kernel and everything it started (a sweep); at least the kernel if the zygote fails."""
        try:
            if self.slot is current():
                self.slot.request("sweep")
        except (ZygoteError, OSError) as err:
            detach_broken(str(err))
        if self.pidfd is not None:
            _kill(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None
