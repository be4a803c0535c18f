"""Sandbox: run each notebook's kernel inside bubblewrap (`bwrap`, the sandbox Flatpak uses).

What the kernel sees with `--sandbox bwrap` (or `auto` where bwrap works):
- no network: a network namespace of its own, only its own loopback (a service listening on
  the grading machine's localhost is out of reach); the kernel's channels are Unix sockets in a
  private folder bound into the sandbox (jupyter_client's "ipc" transport);
- a read-only view of the system (/usr, /etc, ...) and of the Python installation and its
  site-packages; of the grader only the kernel-side probe files and the `reference` package the
  probes import; no view of other submissions, of the reports folder, of the rest of the grader's
  source (checks, rubrics) or of the user's home;
- one writable folder, the submission's scratch copy (its HOME and TMPDIR live there), and a
  private, size-capped /tmp;
- no capabilities, even when the grader runs as root (then bwrap would keep them all, and a
  notebook could remount the read-only views writable);
- its own PID namespace: every process the notebook starts dies with the kernel, and the
  grader's processes (their environments under /proc) are invisible.

Without bwrap (`none`, or `auto` where it does not work) the kernel runs with resource limits
only, and every report says that the run was not isolated.
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader import assignments

MODES = ("auto", "bwrap", "none")
MiB = 2**20
TMP_BYTES = 256 * MiB  # the private /tmp is a tmpfs in memory: cap it
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt/conda", "/sys")
NOT_ISOLATED = ("this notebook ran without a sandbox ({why}), so it could read and write what the grader's "
                "user can; course staff grade with bubblewrap installed (see the README: Trust and isolation)")
# the interpreter as an absolute path without "..": run as ../.venv/bin/python, sys.executable keeps the
# caller's folder in it, which the sandbox does not show (symlinks stay: a venv's python must stay itself)
PYTHON = os.path.abspath(sys.executable)
HIDDEN_PACKAGES = ("grader", "student_tests")  # not readable from the kernel, nor any other suites root
KERNEL_SIDE_FILES = ("kernel_side.py", "probes_kernel", "zygote_side.py")  # of grader/: what kernels load by path


class SandboxUnavailable(RuntimeError):
    """`--sandbox bwrap` was asked for and bubblewrap cannot run here."""


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bwrap can build this module's sandbox here (tried once per process with the real layout and
    this interpreter), else why not (for the message)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    folder = Path(tempfile.mkdtemp(prefix="llm-grader-probe-"))
    try:
        argv = Bubblewrap(folder, folder).argv([PYTHON, "-c", "import json"])
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap did not start: {err}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if probe.returncode != 0:
        return f"bwrap cannot build the sandbox here: {probe.stderr.strip()[:300]}"
    return None


def resolve(mode: str) -> str:
    """"bwrap" or "none" for a requested mode; SandboxUnavailable when "bwrap" cannot run."""
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "none":
        return "none"
    problem = bwrap_problem()
    if problem and mode == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {problem}; or grade with --sandbox none")
    return "none" if problem else "bwrap"


def resolve_quietly(mode: str) -> str | None:
    """`resolve`, or None where the mode is unknown or cannot run (the grading child reports it)."""
    try:
        return resolve(mode)
    except (ValueError, SandboxUnavailable):
        return None


def not_isolated_note(requested: str) -> str:
    """The warning every report of an unsandboxed run carries."""
    why = "--sandbox none" if requested == "none" else bwrap_problem() or "bubblewrap is not available"
    return NOT_ISOLATED.format(why=why)


def _package_dir(name: str) -> Path | None:
    try:
        module = __import__(name)
    except ImportError:
        return None
    return Path(module.__file__).resolve().parent if getattr(module, "__file__", None) else None


def _readable_roots() -> list[Path]:
    """The Python installation and its import path, without any folder that holds the grader's own tree."""
    hidden = [d for d in map(_package_dir, HIDDEN_PACKAGES) if d]
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots = set(prefixes)
    for entry in filter(None, sys.path):  # "" (the current folder) is never shown
        path = Path(entry).resolve()
        library = path.name.endswith("-packages") or any(path.is_relative_to(p) for p in prefixes)
        if path.is_dir() and library and not any(h.parent == path for h in hidden
                                                 if not path.name.endswith("-packages")):
            roots.add(path)
    roots |= {Path(d) for d in SYSTEM_DIRS if Path(d).exists()}
    return _outermost(roots)


def _outermost(paths) -> list[Path]:
    """Sorted, without paths that lie inside another one of them."""
    kept: list[Path] = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return sorted(kept)


def _grader_view() -> list[str]:
    """Hide the grader's packages under any readable root, then show the files the kernel needs."""
    args, roots = [], _readable_roots()
    for folder in [*map(_package_dir, HIDDEN_PACKAGES), *assignments.roots()]:
        if folder and any(folder.is_relative_to(r) for r in roots):
            args += ["--tmpfs", str(folder)]
    grader = _package_dir("grader")
    shown = [grader / name for name in KERNEL_SIDE_FILES] + [Path(p) for p in assignments.probe_files().values()]
    for path in shown:
        args += ["--ro-bind", str(path), str(path)]
    reference = _package_dir("reference")
    if reference:
        args += ["--ro-bind", str(reference), str(reference)]
    return args


@dataclass(frozen=True)
class Bubblewrap:
    """The bwrap command line for one kernel: `workdir` writable, `sockets` for its channels."""

    workdir: Path
    sockets: Path
    extra_readable: tuple[Path, ...] = ()  # e.g. an instructor's weights cache

    def argv(self, command: list[str]) -> list[str]:
        # --cap-drop ALL: run as root, bwrap keeps every capability in the sandbox's user namespace, and a notebook
        # could remount a read-only view (the reference, the venv, /usr) writable and write the host's files as root
        args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--cap-drop", "ALL", "--die-with-parent",
                "--proc", "/proc", "--dev", "/dev",
                "--unsetenv", "JPY_PARENT_PID"]  # ipykernel would take the sandbox's init for a dead parent
        args += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"]  # first: a Python installed under /tmp stays visible
        for root in _readable_roots():
            args += ["--ro-bind", str(root), str(root)]
        args += _grader_view()
        for device in sorted(Path("/dev").glob("nvidia*")):  # CUDA, where the machine has it
            args += ["--dev-bind", str(device), str(device)]
        for path in self.extra_readable:
            args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(self.workdir), str(self.workdir), "--bind", str(self.sockets), str(self.sockets),
                 "--remount-ro", "/", "--chdir", str(self.workdir), "--"]
        return args + command


def socket_folder(base: str | None = None) -> Path:
    """A short private folder for a kernel's Unix sockets (a socket path must stay under 108 bytes), under `base`
    (default: TMPDIR) or /tmp."""
    base = base or tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="llm-grader-ipc-", dir=base if len(base) < 60 else "/tmp"))
