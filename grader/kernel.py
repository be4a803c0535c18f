"""One sandboxed ipykernel process: started with resource limits, fed code, interrupted, killed.

In a bubblewrap batch the kernel is forked by the grading slot's zygote (grader/zygote.py), with the same
folder, environment and limits, and known by its pid; elsewhere jupyter_client starts a fresh one.

The loop talks to the kernel through jupyter_client directly (nbclient's executor keeps
every output in memory and re-sends the interrupt forever when a cell ignores it): code gets
a timeout, then SIGINT, then after a grace period SIGKILL of the kernel's process group.
Probes go through a fast lane (Kernel.call): one execute request runs kernel_side's serving loop,
which takes request folders over a Unix socket, with the same timeouts.

Resource limits (setrlimit in the kernel's child process before exec, soft = hard):
RLIMIT_AS (or RLIMIT_DATA) caps memory, so a huge allocation raises MemoryError in the cell;
RLIMIT_FSIZE caps each file written (EFBIG, Python ignores SIGXFSZ); RLIMIT_NOFILE caps open
files; RLIMIT_CORE=0 stops core dumps. All of these hold for root too, but a process running
as root may raise them again (CAP_SYS_RESOURCE), so against a hostile root kernel they are a
guard against accidents only. RLIMIT_NPROC counts every process of the user and is ignored
for root, so it is only set when the grader is not root. Timeouts and the kill of the process
group are enforced by the grader process and hold in every case.
"""

import contextlib
import os
import re
import resource
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic

import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from grader import zygote
from grader.sandbox import PYTHON, Bubblewrap, socket_folder
from grader.settings import DEFAULTS
from grader.zygote import ForkedKernelManager

GiB, MiB = 2**30, 2**20
MAX_MESSAGE_BYTES = 32 * MiB  # larger kernel messages drop the connection instead of the grader's memory
KERNEL_ARGV = [PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
IOPUB_GRACE = 2.0  # seconds to wait for the last outputs after the execute reply
LOST_OUTPUT = f"\n[output lost: one output was over {MAX_MESSAGE_BYTES // MiB} MiB]\n"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LANE_CONNECT = 30.0  # seconds for the kernel to connect to the probe socket


@dataclass(frozen=True)
class Limits:
    """Resource limits of the kernel process (see the module docstring for what root enforces)."""

    memory_bytes: int = 8 * GiB
    memory_kind: str = "as"  # "as": address space (RLIMIT_AS); "data": RLIMIT_DATA
    # a notebook writing a bigger file (the book's 124M checkpoints, 0.65 and 1.9 GB) gets an error there, which the
    # grader does not count against it (grader.execute.lacked): loading them back would fill the kernel's memory
    file_bytes: int = 200 * MiB
    open_files: int = 4096
    processes: int = 4096  # RLIMIT_NPROC, only set when not root; 0 leaves it alone


@dataclass(frozen=True)
class SessionOptions:
    cell_timeout: float = DEFAULTS["cell_timeout"]
    budget: float = DEFAULTS["budget"]
    grace: float = 5.0  # after the interrupt, before the kernel is killed
    max_restarts: int = 3
    output_cap: int = 20_000  # characters kept per cell (head and tail)
    # a notebook cell's heavy work: its DataLoaders end after `heavy_after` s, the cell is interrupted
    # `heavy_grace` s later (grader/probes_kernel/governor.py); 0 runs every cell in full, up to cell_timeout
    heavy_after: float = DEFAULTS["heavy_after"]
    heavy_grace: float = 5.0
    startup_timeout: float = 120.0  # a loaded CI machine can take a minute to start and replay a kernel
    limits: Limits = field(default_factory=Limits)
    weights: str | None = None  # an instructor's pretrained-weights cache (grade --weights DIR)
    sandbox: str = "none"  # "bwrap": each kernel in bubblewrap (grader.sandbox); "none": limits only


@dataclass(frozen=True)
class CodeReply:
    """What one piece of code did in the kernel."""

    status: str  # "ok" | "error" | "timeout" | "kernel_died"
    seconds: float = 0.0
    error_name: str | None = None
    error_message: str | None = None
    output: str = ""
    killed: bool = False  # it ignored the interrupt and the kernel was killed
    execution_count: int | None = None  # the kernel's number for it (IPython's In[n]), when it was stored



def _rlimits(limits: Limits) -> list[tuple[int, int]]:
    memory = resource.RLIMIT_AS if limits.memory_kind == "as" else resource.RLIMIT_DATA
    pairs = [(memory, limits.memory_bytes), (resource.RLIMIT_FSIZE, limits.file_bytes),
             (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)]
    if limits.processes and os.geteuid() != 0:
        pairs.append((resource.RLIMIT_NPROC, limits.processes))
    hard = {kind: resource.getrlimit(kind)[1] for kind, _ in pairs}
    return [(kind, value if hard[kind] == resource.RLIM_INFINITY else min(value, hard[kind])) for kind, value in pairs]


def _preexec(pairs: list[tuple[int, int]]):
    def apply() -> None:  # runs in the forked child: only system calls
        for kind, value in pairs:
            resource.setrlimit(kind, (value, value))
    return apply


class _GraderKernelManager(KernelManager):
    """A KernelManager whose kernel is always this interpreter's ipykernel, whatever is registered
    (`launch_argv` wraps it in bubblewrap, which is interrupted by message, not by signal)."""

    launch_argv, interrupt_by = KERNEL_ARGV, "signal"

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(argv=self.launch_argv, display_name="grader", language="python",
                          interrupt_mode=self.interrupt_by)


class _CappedText:
    """Keeps the head and the tail of a stream of text and counts the bytes cut between them."""

    def __init__(self, cap: int):
        self.head_cap, self.tail_cap = cap - cap // 4, cap // 4
        self.head, self.tail, self.cut = "", "", 0

    def add(self, text: str) -> None:
        room = self.head_cap - len(self.head)
        self.head, text = self.head + text[:max(room, 0)], text[max(room, 0):]
        self.tail += text
        if len(self.tail) > 2 * self.tail_cap:
            self._trim()

    def _trim(self) -> None:
        dropped = len(self.tail) - self.tail_cap
        self.cut += len(self.tail[:dropped].encode("utf-8", "replace"))
        self.tail = self.tail[dropped:]

    def text(self) -> str:
        if len(self.tail) > self.tail_cap:
            self._trim()
        return f"{self.head}\n[… {self.cut} bytes cut]\n{self.tail}" if self.cut else self.head + self.tail


class _Run:
    """The messages of one execute request, gathered as they arrive."""

    def __init__(self, msg_id: str, cap: int):
        self.msg_id, self.out, self.reply, self.idle, self.error = msg_id, _CappedText(cap), None, False, None
        self.reply_at = 0.0

    def on_iopub(self, msg: dict) -> None:
        if msg["parent_header"].get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            self.out.add(str(content.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            self.out.add(str(content.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            self.error = (content.get("ename"), content.get("evalue"))
            self.out.add(ANSI.sub("", "\n".join(map(str, content.get("traceback", [])))) + "\n")
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle = True

    def on_shell(self, msg: dict) -> None:
        if msg["parent_header"].get("msg_id") == self.msg_id:
            self.reply, self.reply_at = msg["content"], monotonic()

    def asked_exit(self) -> bool:
        payloads = (self.reply or {}).get("payload") or []
        return any(isinstance(p, dict) and p.get("source") == "ask_exit" for p in payloads)

    def done(self) -> bool:
        return self.reply is not None and (self.idle or monotonic() > self.reply_at + IOPUB_GRACE)

    def result(self, status: str, seconds: float, killed: bool = False) -> CodeReply:
        content = self.reply or {}
        name, value = ((content.get("ename"), content.get("evalue")) if "ename" in content
                       else self.error or (None, None))
        if status == "ok" and content.get("status") != "ok":
            status = "error"
        message = None if value is None else "\n".join(str(value).splitlines()[:5])[:500]
        count = content.get("execution_count")
        return CodeReply(status, round(seconds, 3), name, message, self.out.text(), killed,
                         count if isinstance(count, int) else None)


class _Lane:
    """The grader's end of a serving loop: its socket, and the execute request the loop runs in."""

    def __init__(self, conn: socket.socket, run: _Run):
        self.conn, self.run, self.buffer = conn, run, b""

    def answer(self, ready: dict) -> bool | None:
        """True once a "done" line arrived, False if the socket closed, None while waiting."""
        if self.conn.fileno() in ready:
            try:
                data = self.conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                return False
            self.buffer += data
        if b"\n" not in self.buffer:
            return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line == b"done"

    def close(self) -> None:
        self.conn.close()


class Kernel:
    """One ipykernel process started in the workdir with the scrubbed environment and limits."""

    def __init__(self, workdir: Path, options: SessionOptions, serial: int, *, env: dict[str, str], state_dir: Path):
        gdir, self.closed, self.sockets, self.lane, self.lane_dir = state_dir, False, None, None, None
        gdir.mkdir(parents=True, exist_ok=True)
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.km = self._forked(workdir, options, env, gdir, serial)
        if self.km is None:
            self.km = self._manager(workdir, options, gdir / f"kernel-{serial}.json")
            with open(gdir / f"kernel-{serial}.log", "ab") as log:
                self.km.start_kernel(cwd=str(workdir), env=env, stdout=log, stderr=log,
                                     preexec_fn=_preexec(_rlimits(options.limits)))
        self.kc = self.km.client(context=self.context)
        self.kc.start_channels(hb=False)
        try:
            self.kc.wait_for_ready(timeout=options.startup_timeout)
        except BaseException:
            self.close()
            raise

    def _forked(self, workdir: Path, options: SessionOptions, env: dict[str, str], gdir: Path,
                serial: int) -> ForkedKernelManager | None:
        """A kernel forked by this grading slot's zygote (grader/zygote.py), in a bwrap batch; None when there is
        none for these options and folders, or it failed (then it is not used again)."""
        slot = zygote.current()
        if options.sandbox != "bwrap" or slot is None or slot.weights != options.weights:
            return None
        sockets = socket_folder(str(slot.folder))
        if not slot.covers(workdir, gdir, sockets):
            shutil.rmtree(sockets, ignore_errors=True)
            return None
        km = ForkedKernelManager(slot, gdir / f"kernel-{serial}.json", sockets)
        try:
            km.start_kernel(cwd=str(workdir), env=env, log=gdir / f"kernel-{serial}.log",
                            rlimits=_rlimits(options.limits))
        except (zygote.ZygoteError, OSError) as err:
            zygote.detach_broken(str(err))
            shutil.rmtree(sockets, ignore_errors=True)
            return None
        self.sockets = sockets
        return km

    def _manager(self, workdir: Path, options: SessionOptions, connection_file: Path) -> _GraderKernelManager:
        """This interpreter's kernel; in bubblewrap with Unix-socket channels when options.sandbox is "bwrap"."""
        if options.sandbox != "bwrap":
            return _GraderKernelManager(connection_file=str(connection_file))
        self.sockets = socket_folder()
        km = _GraderKernelManager(connection_file=str(connection_file), transport="ipc", ip=str(self.sockets / "k"))
        readable = (Path(options.weights).resolve(),) if options.weights else ()
        km.launch_argv = Bubblewrap(Path(workdir).resolve(), self.sockets, readable).argv(KERNEL_ARGV)
        km.interrupt_by = "message"
        return km

    def alive(self) -> bool:
        return self.km.has_kernel and self.km.is_alive()

    def execute(self, code: str, *, timeout: float, grace: float, cap: int, store_history: bool = True) -> CodeReply:
        """Run code; interrupt at `timeout`, kill the kernel `grace` seconds later."""
        self.close_lane(grace)
        if self.closed:  # a serving loop that would not end took the kernel with it
            return CodeReply("kernel_died")
        start = monotonic()
        run = _Run(self.kc.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False), cap)
        poller = self._poller()
        interrupted_at = None
        while not run.done():
            interrupted_at, killed = self._watch(start, timeout, grace, interrupted_at, answered=run.reply is not None)
            if killed:
                return run.result("timeout", monotonic() - start, killed=True)
            if not self.alive():
                return run.result("kernel_died", monotonic() - start)
            self._pump(poller, run)
        if run.asked_exit():  # exit()/quit(): ipykernel would stop a moment later, in another cell
            self.close()
            return run.result("kernel_died", monotonic() - start)
        if not run.idle:  # the output stream broke (a message over MAX_MESSAGE_BYTES): reconnect it
            run.out.add(LOST_OUTPUT)
            self._reconnect_iopub()
        return run.result("ok" if interrupted_at is None else "timeout", monotonic() - start)

    def _poller(self, *extra) -> zmq.Poller:
        poller = zmq.Poller()
        for source in (self.kc.iopub_channel.socket, self.kc.shell_channel.socket, *extra):
            poller.register(source, zmq.POLLIN)
        return poller

    def _watch(self, start: float, timeout: float, grace: float, interrupted_at: float | None,
               answered: bool) -> tuple[float | None, bool]:
        """Interrupt the kernel at `timeout` and kill it `grace` seconds later (unless it has `answered`):
        (when it was interrupted, whether it was killed)."""
        if not answered and interrupted_at is None and monotonic() - start > timeout:
            self.km.interrupt_kernel()
            return monotonic(), False
        if not answered and interrupted_at is not None and monotonic() - interrupted_at > grace:
            self.close()
            return interrupted_at, True
        return interrupted_at, False

    # ------------------------------------------------------------ the fast lane
    # A probe as its own execute request costs about 6 ms of ipykernel's messaging. The lane runs
    # kernel_side's `serve(<socket>)` as one execute request that answers many probes: the grader
    # writes a request folder's path as one line on a Unix socket and the kernel answers "done".
    # Any other code the grader runs closes the lane first; timeouts and kills are as for execute.

    def call(self, request: str, *, serve: Callable[[str], str], timeout: float, grace: float) -> CodeReply:
        """Hand one line to kernel_side's serving loop (started, when the lane is closed, with the code
        `serve(<socket path>)`) and wait for its "done"; the reply's status is that of execute."""
        if not self._hand_over(request, serve, grace):
            if self.closed:
                return CodeReply("kernel_died")
            return CodeReply("error", error_name="ConnectionError",
                             error_message="the kernel did not connect to the grader's probe socket")
        lane, start, interrupted_at = self.lane, monotonic(), None
        poller = self._poller(lane.conn)
        answer = None
        while answer is None and lane.run.reply is None:
            interrupted_at, killed = self._watch(start, timeout, grace, interrupted_at, answered=False)
            if killed:
                return CodeReply("timeout", round(monotonic() - start, 3), killed=True)
            if not self.alive():
                self._drop_lane()
                return CodeReply("kernel_died", round(monotonic() - start, 3))
            ready = dict(poller.poll(100))
            answer = lane.answer(ready)
            self._pump(poller, lane.run, ready)
        seconds = round(monotonic() - start, 3)
        if answer and interrupted_at is None:
            return CodeReply("ok", seconds)
        self.close_lane(grace)  # interrupted, or the loop ended without answering (the kernel may be dying)
        if interrupted_at is not None:
            return CodeReply("timeout", seconds, killed=self.closed)
        if not self.alive():
            return CodeReply("kernel_died", seconds)
        return CodeReply("error", seconds, "ConnectionError", "the grader's probe socket closed")

    def _hand_over(self, request: str, serve: Callable[[str], str], grace: float) -> bool:
        """Send the request line to a serving loop, opening one (again, once) when there is none or the one
        there has ended or stopped reading; False if no loop takes it."""
        for _ in range(2):
            if self.lane is not None and self.lane.run.reply is not None:
                self.close_lane(grace)  # the loop ended on its own (its socket closed under it)
            if self.closed or (self.lane is None and not self._open_lane(serve)):
                return False
            try:
                self.lane.conn.sendall(request.encode("utf-8") + b"\n")
                return True
            except OSError:
                self.close_lane(grace)
        return False

    def _open_lane(self, serve: Callable[[str], str]) -> bool:
        """Start the serving loop and take its connection; False if it does not connect."""
        if self.lane_dir is None:
            self.lane_dir = self.sockets or socket_folder()
        path = self.lane_dir / "lane"
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            listener.listen(1)
            run = _Run(self.kc.execute(serve(str(path)), store_history=False, allow_stdin=False,
                                       stop_on_error=False), cap=2000)
            poller, started = self._poller(listener), monotonic()
            while run.reply is None and monotonic() - started < LANE_CONNECT and self.alive():
                ready = dict(poller.poll(100))
                if listener.fileno() in ready:  # zmq reports plain sockets by file descriptor
                    self.lane = _Lane(listener.accept()[0], run)
                    return True
                self._pump(poller, run, ready)
            if run.reply is None and self.alive():
                self.close()  # a kernel stuck before it connects cannot serve anything else either
            return False
        finally:
            listener.close()
            path.unlink(missing_ok=True)

    def close_lane(self, grace: float = 5.0) -> None:
        """End the serving loop (an empty line) and wait for its execute request to finish."""
        lane = self.lane
        if lane is None:
            return
        with contextlib.suppress(OSError):
            lane.conn.sendall(b"\n")
        poller, started = self._poller(), monotonic()
        while not lane.run.done() and self.alive() and monotonic() - started < grace:
            self._pump(poller, lane.run)
        if not lane.run.done() and self.alive():
            self.close()  # a serving loop that does not end holds the kernel: a fresh one replays the cells
        self._drop_lane()

    def _drop_lane(self) -> None:
        if self.lane is not None:
            self.lane.close()
            self.lane = None

    def _reconnect_iopub(self) -> None:
        self.kc.iopub_channel.close()
        self.kc._iopub_channel = None  # the next access connects a new socket
        try:
            self.kc.wait_for_ready(timeout=10)
        except RuntimeError:
            pass  # the kernel died meanwhile; the next call sees it

    def _pump(self, poller: zmq.Poller, run: _Run, ready: dict | None = None) -> None:
        """Handle waiting messages, at most 1000 per channel so timeouts are checked during floods."""
        ready = dict(poller.poll(100)) if ready is None else ready
        for channel, handle in ((self.kc.iopub_channel, run.on_iopub), (self.kc.shell_channel, run.on_shell)):
            for _ in range(1000 if channel.socket in ready else 0):
                if not channel.msg_ready():
                    break
                handle(channel.get_msg(timeout=0))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._drop_lane()
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            self.context.destroy(linger=0)
            for folder in {self.sockets, self.lane_dir} - {None}:
                shutil.rmtree(folder, ignore_errors=True)
