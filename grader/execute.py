"""Execute: run a submission's notebook in its own sandboxed ipykernel, cell by cell.

`prepare_workdir` copies the submission into a scratch folder beside the book's data files;
`KernelSession` runs the notebook's code cells there and stays alive for the probes. Every kernel
it starts (the first, and each one that replays cells after a crash) first runs the grader's
preload (grader/kernel_side.py: `preload`), before any of the notebook's code: it imports torch
and keeps the grader's baseline of it, which the probes restore.

Each cell gets a timeout, then an interrupt, then (if it ignores that) its kernel is killed,
a fresh kernel (grader.kernel.Kernel: limits, capped output) replays the cells that ran "ok"
and the notebook goes on. A cell whose loops over DataLoaders the kernel's governor ended early
(heavy work, see grader/probes_kernel/governor.py) is marked `heavy`; a later cell that fails only
for a name such a cell would have set is "skipped". Markdown and raw cells are not run and have no CellResult; a blank
code cell is "ok" in 0 s. `CellResult.index` counts all cells from 0 like nbformat; messages
for people say "cell N", counting from 1.
"""

import ast
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from time import monotonic

import nbformat

from grader.assignments import probe_files
from grader.errors import (
    BudgetExhausted,
    CellTimeout,
    FollowsWhatWasLacking,
    HeavyWorkFailed,
    HeavyWorkInterrupted,
    HeavyWorkShortened,
    KernelDied,
    LacksWhatItNeeds,
    NeedsHeavyWork,
)
from grader.evidence import bound_names, definitions
from grader.kernel import CodeReply, Kernel, Limits, SessionOptions  # noqa: F401 (Limits: part of this API)
from grader.results import CellResult
from reference.assets import DATA_FILES, data_path

MiB = 2**20
GRADER_DIR = ".llm-grader"  # inside the workdir: HOME, TMPDIR, tiktoken cache, probe requests
MAX_COPY_BYTES = 50 * MiB
NAME_ERROR = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")
# errors of a cell that reached for the network, which the kernel does not have (urllib, requests, urllib3,
# socket, http.client, huggingface_hub)
NETWORK_ERRORS = frozenset({
    "URLError", "HTTPError", "ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "gaierror",
    "MaxRetryError", "NameResolutionError", "NewConnectionError", "ConnectTimeout", "ReadTimeout", "ProxyError",
    "SSLError", "RemoteDisconnected", "LocalEntryNotFoundError", "OfflineModeIsEnabled"})
MISSING_PACKAGE = re.compile(r"No module named '([^']+)'|No package metadata was found for (\S+)")
CELL_NUMBER = re.compile(r"\bCell In\[(\d+)\]")  # IPython's name for a cell in a traceback (kernel_side too)
TOO_LARGE = re.compile(r"\[Errno 27\]|inline_container\.cc.*unexpected pos")  # EFBIG: open().write, torch.save
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", GRADER_DIR}
KEEP_ENV = {"PATH", "LANG", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES"}
GPT2_BPE_URL = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/{}"
KERNEL_SIDE = Path(__file__).with_name("kernel_side.py")
# One expression, so the notebook's namespace gains no names; kernel_side is compiled once per kernel.
BOOT = ('(lambda sys: (sys.modules.get("_llm_grader_kernel_side") or sys.modules.setdefault('
        '"_llm_grader_kernel_side", __import__("types").SimpleNamespace(**__import__("runpy").run_path({script!r}))))'
        '.{call})(__import__("sys"))')


def kernel_side_code(call: str) -> str:
    """Code that loads grader/kernel_side.py by path (once per kernel) and calls `call` on it, e.g. "preload()"."""
    return BOOT.format(script=str(KERNEL_SIDE), call=call)


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
                    data_files: Mapping[str, Path] | None = None, weights: Path | None = None) -> Path:
    """Copy a submission into a fresh scratch folder and add the data files it may open, and the entries
    of a pretrained-weights cache (`weights`, see place_weights)."""
    source = Path(submission_dir).resolve()
    if not source.is_dir():
        raise ValueError(f"submission folder {submission_dir} does not exist")
    Path(scratch_root).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="submission-", dir=scratch_root))
    _copy_tree(source, workdir)
    for name, path in {**default_data_files(), **dict(data_files or {})}.items():
        _place_data_file(workdir, name, Path(path))
    _seed_tiktoken_cache(grader_dir(workdir) / "tiktoken")
    if weights is not None:
        place_weights(workdir, Path(weights))
    return workdir


HF_CACHE = "huggingface"  # a weights cache's Hugging Face hub cache (HF_HOME), if it has one


def place_weights(workdir: Path, cache: Path) -> list[str]:
    """Link each top-level entry of an instructor's weights cache into the workdir, where the book's loaders
    look: `gpt2/124M/...` (download_and_load_gpt2(model_size, models_dir="gpt2")), `gpt2-small-124M.pth`
    (the book's PyTorch copies). The student's own files win. Returns the names placed. Its `huggingface/`
    folder becomes HF_HOME instead (kernel_env)."""
    cache = cache.resolve()
    if not cache.is_dir():
        raise ValueError(f"the weights cache {cache} is not a folder")
    placed = []
    for entry in sorted(cache.iterdir()):
        target = workdir / entry.name
        if entry.name == HF_CACHE or target.exists() or target.is_symlink():
            continue
        target.symlink_to(entry, target_is_directory=entry.is_dir())
        placed.append(entry.name)
    return placed


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


def kernel_env(workdir: Path, weights: str | None = None) -> dict[str, str]:
    """A scrubbed environment: a short allow-list of the grader's variables plus the grader's own (and
    HF_HOME on a weights cache's Hugging Face folder, read offline)."""
    gdir = grader_dir(workdir)
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k.startswith("LC_")}
    paths = {"HOME": gdir / "home", "TMPDIR": gdir / "tmp", "TIKTOKEN_CACHE_DIR": gdir / "tiktoken"}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in paths.items()})
    env.update(LLM_GRADER="1", MPLBACKEND="Agg", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    if weights and (Path(weights) / HF_CACHE).is_dir():
        env["HF_HOME"] = str((Path(weights) / HF_CACHE).resolve())
    return env


# ---------------------------------------------------------------- the session

def _read(notebook):
    return nbformat.read(notebook, as_version=4) if isinstance(notebook, (str, Path)) else notebook


def _code_cells(notebook) -> list[tuple[int, str]]:
    return [(i, cell.source) for i, cell in enumerate(_read(notebook).cells) if cell.cell_type == "code"]


def _ran_clean(notebook) -> set[int]:
    """Indices of the code cells the saved notebook shows run (an execution count) without an error output."""
    return {i for i, cell in enumerate(_read(notebook).cells) if cell.cell_type == "code"
            and cell.get("execution_count") is not None
            and not any(output.get("output_type") == "error" for output in cell.get("outputs", []))}


def lacked(error_name: str | None, error_message: str | None, file_bytes: int) -> tuple[str, str] | None:
    """(what, hint): what a cell's error says the grading machine lacks (the network, a module, a package, room
    for a file over `file_bytes`), and a hint for the student ("" if none); None for any other error."""
    if error_name in NETWORK_ERRORS:
        return "the network", ""
    if error_name in ("OSError", "RuntimeError") and TOO_LARGE.search(error_message or ""):
        return f"room to write a file over {file_bytes // MiB} MiB", ""
    found = MISSING_PACKAGE.search(error_message or "")
    if error_name == "ModuleNotFoundError" and found and found[1]:
        return f"the module `{found[1]}`", f"; if `{found[1]}` is your own .py file, hand it in beside the notebook"
    if error_name == "PackageNotFoundError" and found and found[2]:
        return f"the package `{found[2]}`", ""
    return None


class KernelSession:
    """A notebook's kernel: `run_all()` runs its code cells, then probes use `run_code()`."""

    def __init__(self, notebook, workdir: Path, *, options: SessionOptions | None = None):
        notebook = _read(notebook)
        self.cells, self.ran_clean = _code_cells(notebook), _ran_clean(notebook)
        self.workdir = Path(workdir).resolve()
        self.options = options or SessionOptions()
        self.restarts, self.died_in_cell, self.death = 0, None, None
        self._ok_cells: list[tuple[int, str]] = []  # (index, source) of the cells that ran ok, for replays
        self._cell_numbers: dict[int, int] = {}  # the kernel's In[n] -> index of the notebook cell it ran
        self._unset: dict[str, str] = {}  # a name heavy work the grader cut would have set -> its cell's label
        self._lacking: dict[str, str] = {}  # label of a cell that needed what the machine lacks -> what it lacked
        self._kernel: Kernel | None = None
        self._serial, self._started, self._budget_spent = 0, monotonic(), False

    def __enter__(self) -> "KernelSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the kernel and run the grader's preload in it; a kernel that cannot start is the grader's fault
        and raises RuntimeError."""
        self._serial += 1
        self._cell_numbers.clear()
        self._kernel = Kernel(self.workdir, self.options, self._serial,
                              env=kernel_env(self.workdir, self.options.weights), state_dir=grader_dir(self.workdir))
        preload = f"preload({self.options.heavy_after!r}, {self.options.heavy_grace!r}, {probe_files()!r})"
        reply = self._execute(kernel_side_code(preload), self.options.startup_timeout, store_history=False)
        if reply.status != "ok":
            self.close()
            raise RuntimeError(f"the grader's preload failed in the new kernel ({reply.status}: {reply.error_name} "
                               f"{reply.error_message}) {reply.output[-2000:]}")

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
        reply = self._execute_cell(index, source, timeout)
        self._budget_spent |= reply.status == "timeout" and timeout < self.options.cell_timeout
        reason = self._after_cell(index, source, reply, timeout)
        result = CellResult(index, reply.status, reply.seconds, reply.error_name, reply.error_message,
                            reply.output, reason)
        return self._lacks(self._heavy_work(result, source), source)

    def _lacks(self, result: CellResult, source: str) -> CellResult:
        """A cell the saved notebook shows run without an error, failing here for want of what the grading
        machine does not have (the network, a package the student had), is skipped, not failed: its functions and
        classes are defined again and the rest of what it sets stays unset. Later cells that fail here but ran
        clean in the saved notebook are skipped too (they may use what it would have set, or written)."""
        if result.status != "error" or result.index not in self.ran_clean:
            return result
        label = cell_label(result.index)
        lacking = lacked(result.error_name, result.error_message, self.options.limits.file_bytes)
        if lacking is None and self._lacking:
            cell, what = list(self._lacking.items())[-1]  # the nearest cell above that could not run here
            return dataclasses.replace(result, status="skipped", reason=FollowsWhatWasLacking(
                error=result.error_name, cell=cell, what=what).message)
        if lacking is None:
            return result
        what, hint = lacking
        defined = self._define_again(source, imports_may_fail=True)
        self._unset.update(dict.fromkeys(bound_names(source) - defined - self._unset.keys(), label))
        self._lacking[label] = what
        error = f"{result.error_name}: {(result.error_message or '').strip()[:160]}"
        return dataclasses.replace(result, status="skipped",
                                   reason=LacksWhatItNeeds(what=what, error=error, hint=hint).message)

    def _heavy_work(self, result: CellResult, source: str) -> CellResult:
        """A cell the governor kept short says so; a cell that fails only for want of a name such a cell would
        have set is skipped, not failed (its names stay unset for the cells after it)."""
        missing = NAME_ERROR.match(result.error_message or "") if result.error_name == "NameError" else None
        if missing and missing.group(1) in self._unset:
            cell = self._unset[missing[1]]
            self._unset.update(dict.fromkeys(bound_names(source) - self._unset.keys(), cell))
            reason = (FollowsWhatWasLacking(error="NameError", cell=cell, what=self._lacking[cell])
                      if cell in self._lacking else NeedsHeavyWork(name=missing[1], cell=cell)).message
            return dataclasses.replace(result, status="skipped", reason=reason)
        after = self.options.heavy_after
        if after <= 0 or result.seconds < after or not self.alive:
            return result
        done = self._governed(source)
        if not done:
            return result
        label = cell_label(result.index)
        if result.status != "error":
            return dataclasses.replace(result, reason=HeavyWorkShortened(cell=label, seconds=after).message, heavy=True)
        # interrupted, or it failed on what its shortened loops computed (an assert on the final accuracy):
        # not the student's error. Its imports, functions and classes are defined again (those after the point
        # where it stopped would be missing); the other names it had still to set stay unset for later cells.
        defined = self._define_again(source)
        self._unset.update(dict.fromkeys(bound_names(source) - defined, label))
        if done.get("interrupted"):
            reason = HeavyWorkInterrupted(cell=label, seconds=after, grace=self.options.heavy_grace).message
        else:
            reason = HeavyWorkFailed(cell=label, seconds=after, error=result.error_name).message
        return dataclasses.replace(result, status="timeout", reason=reason, heavy=True)

    def _define_again(self, source: str, *, imports_may_fail: bool = False) -> set[str]:
        """Run a cut cell's top-level definitions alone; the names they bind (none if that failed)."""
        code = definitions(source, imports_may_fail=imports_may_fail)
        if not code.strip():
            return set()
        reply = self._execute(code, self.options.cell_timeout, store_history=False)
        return bound_names(code) if reply.status == "ok" else set()

    def _governed(self, source: str) -> dict | None:
        """What the kernel's governor did to this cell ({"stopped", "interrupted"}), or None."""
        digest = hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()
        reply = self._execute(kernel_side_code(f"governed({digest!r})"), 30, store_history=False)
        try:
            found = json.loads(ast.literal_eval(reply.output.strip()))
        except (ValueError, SyntaxError, TypeError):
            return None
        return found if isinstance(found, dict) else None

    def _execute(self, code: str, timeout: float, *, cap: int | None = None, store_history: bool = True) -> CodeReply:
        return self._kernel.execute(code, timeout=timeout, grace=self.options.grace,
                                    cap=cap or self.options.output_cap, store_history=store_history)

    def _after_cell(self, index: int, source: str, reply: CodeReply, timeout: float) -> str:
        """Remember ok cells for replays, revive a dead kernel, and say what happened."""
        label = cell_label(index)
        reason = CellTimeout(cell=label, seconds=timeout).message if reply.status == "timeout" else ""
        if reply.status == "ok":
            self._ok_cells.append((index, source))
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
        for index, source in self._ok_cells:
            reply = self._execute_cell(index, source, self.options.cell_timeout, cap=1000)
            if reply.status == "kernel_died" or reply.killed:
                return False
        return True

    def _execute_cell(self, index: int, source: str, timeout: float, *, cap: int | None = None) -> CodeReply:
        reply = self._execute(source, timeout, cap=cap)
        if reply.execution_count is not None:
            self._cell_numbers[reply.execution_count] = index
        return reply

    def cell_names(self, text: str) -> str:
        """`text` (a traceback from this kernel) with IPython's `Cell In[n]` replaced by the notebook's cell label;
        a number the notebook's cells never had (code run by hand in a probe) becomes "a cell"."""
        def label(match: re.Match) -> str:
            index = self._cell_numbers.get(int(match[1]))
            return "a cell" if index is None else cell_label(index)
        return CELL_NUMBER.sub(label, text)

    def run_code(self, code: str, timeout: float, *, label: str = "grader code") -> CodeReply:
        """Run probe code in the notebook's namespace (not stored in its history)."""
        return self._grader_call(lambda: self._execute(code, timeout, store_history=False), label)

    def run_probe(self, folder: Path, timeout: float, *, label: str) -> CodeReply:
        """Have kernel_side answer the probe request in `folder` (grader/probe.py), through the kernel's fast
        lane: one long execute request serves the probes, until other code runs in the kernel."""
        return self._grader_call(lambda: self._kernel.call(
            str(folder), serve=lambda path: kernel_side_code(f"serve({path!r})"), timeout=timeout,
            grace=self.options.grace), label)

    def _grader_call(self, call, label: str) -> CodeReply:
        if not self.alive:
            return CodeReply("kernel_died", error_message=KernelDied(where=self.where_it_died()).message)
        reply = call()
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
