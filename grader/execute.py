"""Execute: run a submission's notebook in its own sandboxed ipykernel, cell by cell.

`prepare_workdir` copies the submission into a scratch folder beside the book's data files;
`KernelSession` runs the notebook's code cells there and stays alive for the probes.

The loop talks to the kernel through jupyter_client directly (nbclient's executor keeps
every output in memory and re-sends the interrupt forever when a cell ignores it): each cell
gets a timeout, then SIGINT, then after a grace period SIGKILL of the kernel's process group,
a fresh kernel and a replay of the cells that ran "ok". Markdown and raw cells are not run and
have no CellResult; a blank code cell is "ok" in 0 s. `CellResult.index` counts all cells from
0 like nbformat; messages for people say "cell N", counting from 1.

Resource limits (setrlimit in the kernel's child process before exec, soft = hard):
RLIMIT_AS (or RLIMIT_DATA) caps memory, so a huge allocation raises MemoryError in the cell;
RLIMIT_FSIZE caps each file written (EFBIG, Python ignores SIGXFSZ); RLIMIT_NOFILE caps open
files; RLIMIT_CORE=0 stops core dumps. All of these hold for root too, but a process running
as root may raise them again (CAP_SYS_RESOURCE), so against a hostile root kernel they are a
guard against accidents only. RLIMIT_NPROC counts every process of the user and is ignored
for root, so it is only set when the grader is not root. Timeouts and the kill of the process
group are enforced by the grader process and hold in every case.
"""

import hashlib
import os
import re
import resource
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from time import monotonic

import nbformat
import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from grader.errors import BudgetExhausted, CellTimeout, KernelDied
from reference.assets import DATA_FILES, data_path

GiB, MiB = 2**30, 2**20
GRADER_DIR = ".llm-grader"  # inside the workdir: HOME, TMPDIR, tiktoken cache, probe requests
MAX_COPY_BYTES = 50 * MiB
MAX_MESSAGE_BYTES = 32 * MiB  # larger kernel messages drop the connection instead of the grader's memory
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", GRADER_DIR}
KEEP_ENV = {"PATH", "LANG", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES"}
KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
GPT2_BPE_URL = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/{}"
IOPUB_GRACE = 2.0  # seconds to wait for the last outputs after the execute reply
LOST_OUTPUT = f"\n[output lost: one output was over {MAX_MESSAGE_BYTES // MiB} MiB]\n"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Limits:
    """Resource limits of the kernel process (see the module docstring for what root enforces)."""

    memory_bytes: int = 8 * GiB
    memory_kind: str = "as"  # "as": address space (RLIMIT_AS); "data": RLIMIT_DATA
    file_bytes: int = 200 * MiB
    open_files: int = 4096
    processes: int = 4096  # RLIMIT_NPROC, only set when not root; 0 leaves it alone


@dataclass(frozen=True)
class SessionOptions:
    cell_timeout: float = 60.0
    budget: float = 600.0
    grace: float = 5.0  # after the interrupt, before the kernel is killed
    max_restarts: int = 3
    output_cap: int = 20_000  # characters kept per cell (head and tail)
    startup_timeout: float = 60.0
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class CodeReply:
    """What one piece of code did in the kernel."""

    status: str  # "ok" | "error" | "timeout" | "kernel_died"
    seconds: float = 0.0
    error_name: str | None = None
    error_message: str | None = None
    output: str = ""
    killed: bool = False  # it ignored the interrupt and the kernel was killed


@dataclass(frozen=True)
class CellResult:
    index: int  # position among all the notebook's cells, from 0
    status: str  # "ok" | "error" | "timeout" | "skipped" | "kernel_died"
    seconds: float = 0.0
    error_name: str | None = None
    error_message: str | None = None
    output: str = ""
    reason: str = ""  # why it timed out, died or was skipped, for people


@dataclass(frozen=True)
class ExecutionResult:
    cells: tuple[CellResult, ...]
    seconds: float
    restarts: int
    died_in_cell: int | None  # index of the first cell the kernel died in
    budget_exhausted: bool
    kernel_alive: bool


def cell_label(index: int) -> str:
    return f"cell {index + 1}"


def grader_dir(workdir: Path) -> Path:
    return Path(workdir) / GRADER_DIR


# ---------------------------------------------------------------- the working folder

def default_data_files() -> dict[str, Path]:
    """The book's data files the notebooks open by relative path."""
    return {name: data_path(name) for name in DATA_FILES}


def prepare_workdir(submission_dir: Path, scratch_root: Path,
                    data_files: Mapping[str, Path] | None = None) -> Path:
    """Copy a submission into a fresh scratch folder and add the data files it may open."""
    source = Path(submission_dir).resolve()
    if not source.is_dir():
        raise ValueError(f"submission folder {submission_dir} does not exist")
    Path(scratch_root).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="submission-", dir=scratch_root))
    _copy_tree(source, workdir)
    for name, path in {**default_data_files(), **dict(data_files or {})}.items():
        _place_data_file(workdir, name, Path(path))
    _seed_tiktoken_cache(grader_dir(workdir) / "tiktoken")
    return workdir


def _copy_tree(source: Path, target: Path) -> None:
    """Copy regular files up to MAX_COPY_BYTES; skip symlinked folders and links leaving `source`."""
    for root, dirs, files in os.walk(source):
        here = Path(root)
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not (here / d).is_symlink()]
        (target / here.relative_to(source)).mkdir(exist_ok=True)
        for name in files:
            _copy_file(here / name, target / here.relative_to(source) / name, source)


def _copy_file(path: Path, target: Path, root: Path) -> None:
    real = path.resolve()
    if path.is_symlink() and not real.is_relative_to(root):
        return
    if real.is_file() and real.stat().st_size <= MAX_COPY_BYTES:
        shutil.copyfile(real, target)


def _place_data_file(workdir: Path, name: str, source: Path) -> None:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"data file name {name!r} must be a relative path inside the workdir")
    target = workdir / relative
    if target.exists() or target.is_symlink():
        return  # the student's own file wins
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _seed_tiktoken_cache(cache_dir: Path) -> None:
    """Put the shipped GPT-2 BPE files where tiktoken.get_encoding("gpt2") looks, so it never downloads."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.bpe", "encoder.json"):
        key = hashlib.sha1(GPT2_BPE_URL.format(name).encode()).hexdigest()
        shutil.copyfile(data_path(f"gpt2-bpe/{name}"), cache_dir / key)


def kernel_env(workdir: Path) -> dict[str, str]:
    """A scrubbed environment: a short allow-list of the grader's variables plus the grader's own."""
    gdir = grader_dir(workdir)
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k.startswith("LC_")}
    paths = {"HOME": gdir / "home", "TMPDIR": gdir / "tmp", "TIKTOKEN_CACHE_DIR": gdir / "tiktoken"}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in paths.items()})
    env.update(LLM_GRADER="1", MPLBACKEND="Agg", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


# ---------------------------------------------------------------- one kernel process

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
    """A KernelManager whose kernel is always this interpreter's ipykernel, whatever is registered."""

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(argv=KERNEL_ARGV, display_name="grader", language="python",
                          interrupt_mode="signal")


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
        name, value = (content.get("ename"), content.get("evalue")) if "ename" in content else self.error or (None, None)
        if status == "ok" and content.get("status") != "ok":
            status = "error"
        message = None if value is None else "\n".join(str(value).splitlines()[:5])[:500]
        return CodeReply(status, round(seconds, 3), name, message, self.out.text(), killed)


class _Kernel:
    """One ipykernel process started in the workdir with the scrubbed environment and limits."""

    def __init__(self, workdir: Path, options: SessionOptions, serial: int):
        gdir, self.closed = grader_dir(workdir), False
        gdir.mkdir(parents=True, exist_ok=True)
        self.km = _GraderKernelManager(connection_file=str(gdir / f"kernel-{serial}.json"))
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        with open(gdir / f"kernel-{serial}.log", "ab") as log:
            self.km.start_kernel(cwd=str(workdir), env=kernel_env(workdir), stdout=log, stderr=log,
                                 preexec_fn=_preexec(_rlimits(options.limits)))
        self.kc = self.km.client(context=self.context)
        self.kc.start_channels(hb=False)
        try:
            self.kc.wait_for_ready(timeout=options.startup_timeout)
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        return self.km.has_kernel and self.km.is_alive()

    def execute(self, code: str, *, timeout: float, grace: float, cap: int, store_history: bool = True) -> CodeReply:
        """Run code; interrupt at `timeout`, kill the kernel `grace` seconds later."""
        start = monotonic()
        run = _Run(self.kc.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False), cap)
        poller = zmq.Poller()
        for channel in (self.kc.iopub_channel, self.kc.shell_channel):
            poller.register(channel.socket, zmq.POLLIN)
        interrupted_at = None
        while not run.done():
            if run.reply is None and interrupted_at is None and monotonic() - start > timeout:
                self.km.interrupt_kernel()
                interrupted_at = monotonic()
            elif run.reply is None and interrupted_at is not None and monotonic() - interrupted_at > grace:
                self.close()
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

    def _reconnect_iopub(self) -> None:
        self.kc.iopub_channel.close()
        self.kc._iopub_channel = None  # the next access connects a new socket
        try:
            self.kc.wait_for_ready(timeout=10)
        except RuntimeError:
            pass  # the kernel died meanwhile; the next call sees it

    def _pump(self, poller: zmq.Poller, run: _Run) -> None:
        """Handle waiting messages, at most 1000 per channel so timeouts are checked during floods."""
        ready = dict(poller.poll(100))
        for channel, handle in ((self.kc.iopub_channel, run.on_iopub), (self.kc.shell_channel, run.on_shell)):
            for _ in range(1000 if channel.socket in ready else 0):
                if not channel.msg_ready():
                    break
                handle(channel.get_msg(timeout=0))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            self.context.destroy(linger=0)


# ---------------------------------------------------------------- the session

def _code_cells(notebook) -> list[tuple[int, str]]:
    if isinstance(notebook, (str, Path)):
        notebook = nbformat.read(notebook, as_version=4)
    return [(i, cell.source) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]


class KernelSession:
    """A notebook's kernel: `run_all()` runs its code cells, then probes use `run_code()`."""

    def __init__(self, notebook, workdir: Path, *, options: SessionOptions | None = None):
        self.cells = _code_cells(notebook)
        self.workdir = Path(workdir).resolve()
        self.options = options or SessionOptions()
        self.restarts, self.died_in_cell, self.death = 0, None, None
        self._ok_sources: list[str] = []
        self._kernel: _Kernel | None = None
        self._serial, self._started, self._budget_spent = 0, monotonic(), False

    def __enter__(self) -> "KernelSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the kernel; a kernel that cannot start is the grader's fault and raises."""
        self._serial += 1
        self._kernel = _Kernel(self.workdir, self.options, self._serial)

    @property
    def alive(self) -> bool:
        return self._kernel is not None and self.death is None and self._kernel.alive()

    def where_it_died(self) -> str:
        return self.death or "code the notebook left running in the background"

    def run_all(self) -> ExecutionResult:
        """Run every code cell in order; student faults become cell results, never exceptions."""
        self._started = monotonic()
        cells = tuple(self._run_cell(index, source) for index, source in self.cells)
        return ExecutionResult(cells, round(monotonic() - self._started, 3), self.restarts,
                               self.died_in_cell, self._budget_spent, self.alive)

    def _run_cell(self, index: int, source: str) -> CellResult:
        left = self.options.budget - (monotonic() - self._started)
        if left <= 0:
            self._budget_spent = True
            return CellResult(index, "skipped", reason=BudgetExhausted(seconds=self.options.budget,
                                                                       cell=cell_label(index)).message)
        if not self.alive:
            return CellResult(index, "skipped", reason=KernelDied(where=self.where_it_died()).message)
        if not source.strip():
            return CellResult(index, "ok")
        timeout = min(self.options.cell_timeout, left)
        reply = self._execute(source, timeout)
        self._budget_spent |= reply.status == "timeout" and timeout < self.options.cell_timeout
        reason = self._after_cell(index, source, reply, timeout)
        return CellResult(index, reply.status, reply.seconds, reply.error_name, reply.error_message,
                          reply.output, reason)

    def _execute(self, code: str, timeout: float, *, cap: int | None = None, store_history: bool = True) -> CodeReply:
        return self._kernel.execute(code, timeout=timeout, grace=self.options.grace,
                                    cap=cap or self.options.output_cap, store_history=store_history)

    def _after_cell(self, index: int, source: str, reply: CodeReply, timeout: float) -> str:
        """Remember ok cells for replays, revive a dead kernel, and say what happened."""
        label = cell_label(index)
        reason = CellTimeout(cell=label, seconds=timeout).message if reply.status == "timeout" else ""
        if reply.status == "ok":
            self._ok_sources.append(source)
        elif reply.status == "kernel_died":
            self.died_in_cell = index if self.died_in_cell is None else self.died_in_cell
            self.death, reason = label, KernelDied(where=label).message
        elif reply.killed:
            self.death = f"{label} (killed after it ignored the interrupt)"
        if self.death is None:
            return reason
        revived = self.restart()
        return reason + ("; a new kernel replayed the cells before it" if revived else "; no restarts left")

    def restart(self) -> bool:
        """Start a fresh kernel and replay the cells that ran ok; False once restarts are used up."""
        while self.restarts < self.options.max_restarts:
            self.restarts += 1
            self.close()
            try:
                self.start()
            except RuntimeError:
                continue
            if self._replay():
                self.death = None
                return True
        return False

    def _replay(self) -> bool:
        for source in self._ok_sources:
            reply = self._execute(source, self.options.cell_timeout, cap=1000)
            if reply.status == "kernel_died" or reply.killed:
                return False
        return True

    def run_code(self, code: str, timeout: float, *, label: str = "grader code") -> CodeReply:
        """Run probe code in the notebook's namespace (not stored in its history)."""
        if not self.alive:
            return CodeReply("kernel_died", error_message=KernelDied(where=self.where_it_died()).message)
        reply = self._execute(code, timeout, store_history=False)
        if reply.status == "kernel_died":
            self.death = label
        elif reply.killed:
            self.death = f"{label} (killed after it ignored the interrupt)"
        return reply

    def close(self) -> None:
        """Shut the kernel down (kill it if needed); safe to call twice."""
        if self._kernel is not None:
            self._kernel.close()
            self._kernel = None
