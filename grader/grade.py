"""Grade one submission: run its check suite through pytest, score it, write its reports.

`grade_submission` runs in the calling process; `grade_isolated` runs it in a child
process (`python -m grader.grade`), so one submission that crashes the grader's own
machinery still leaves a report and never stops a batch. `children_stopped` kills every such
child with its kernels (a stopped batch).
"""

import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from grader import evidence, sandbox, zygote
from grader.assignments import SUITES_ENV, find
from grader.collect import Collector
from grader.errors import FollowsWhatWasLacking, LacksWhatItNeeds, NeedsHeavyWork
from grader.forkserver import SAFE_PATH, ForkServer, wait_for
from grader.load import Submission, load_notebook
from grader.render import gradescope_results, notebook_figures, render_html, render_markdown
from grader.report import environment, write_json, write_text_atomic
from grader.results import Override, Report, known_fields
from grader.rubric import load_rubric
from grader.score import score
from grader.settings import DEFAULTS, as_flags

FORMATS = ("md", "html", "json", "gradescope")
NOT_RUN_FOR_HEAVY_WORK = NeedsHeavyWork.template.split(":")[0]
LACKING, FOLLOWING = LacksWhatItNeeds.template.split("{")[0], FollowsWhatWasLacking.template.split("{")[0]


@dataclass(frozen=True)
class GradeOptions:
    """The settings of one grading run (grader/settings.py declares the ones a person sets, once)."""

    cell_timeout: float = DEFAULTS["cell_timeout"]
    heavy_after: float = DEFAULTS["heavy_after"]  # see grader.kernel.SessionOptions
    budget: float = DEFAULTS["budget"]
    device: str = DEFAULTS["device"]
    weights: str | None = DEFAULTS["weights"]  # an instructor's pretrained-weights cache
    formats: tuple = ("md", "html", "json")
    overrides: tuple = ()  # (assignment, option, student, category, points, reason) rows
    sandbox: str = DEFAULTS["sandbox"]  # isolate the kernel with bubblewrap: "auto", "bwrap" or "none"

    def overrides_for(self, submission: Submission) -> tuple[Override, ...]:
        return tuple(Override(category, points, reason) for assignment, option, student, category, points, reason
                     in self.overrides if (assignment, option, student) ==
                     (submission.assignment, submission.option, submission.student))


def suite_dir(assignment: str, option: str | None = None) -> Path:
    """The folder of the assignment's checks (grader.assignments)."""
    return find(assignment, option).folder


def report_dir(out: Path, submission: Submission) -> Path:
    name = f"{submission.assignment or 'unknown'}{'-' + submission.option if submission.option else ''}"
    return out / name / submission.student


# Only the plugins grading needs, and no assertion rewriting: every check reports through expect() and
# pytest.fail, and rewriting the grader's, the reference's and the suites' modules on import costs more
# than a second per submission (their packages are marked for rewriting as an installed plugin's).
PYTEST_PLUGINS = ("--disable-plugin-autoload", "-p", "grader.plugin", "-p", "_hypothesis_pytestplugin",
                  "-p", "no:cacheprovider", "--assert=plain")


def _pytest_args(submission: Submission, options: GradeOptions) -> list[str]:
    suite = suite_dir(submission.assignment, submission.option)
    return [str(suite), "--submission", str(submission.notebook), "--rootdir", str(suite), *PYTEST_PLUGINS,
            "-o", "addopts=", "-o", "testpaths=", "-q", "--no-header", *as_flags(options)]


def _problem_report(submission: Submission, problems: list[str], options: GradeOptions, started: float) -> Report:
    rubric = load_rubric(submission.assignment, submission.option) if submission.assignment else None
    scored = score(rubric, [], {}, options.overrides_for(submission)) if rubric else None
    return Report(submission.student, submission.assignment, submission.option, scored.score if scored else 0.0,
                  rubric.max_score if rubric else 0.0, scored.categories if scored else (), (),
                  duration_s=round(time.monotonic() - started, 2),
                  environment=environment(options.device) | submission_version(submission.folder),
                  problems=tuple(problems),
                  warnings=submission.warnings, signals={})


def submission_version(folder: Path) -> dict[str, str]:
    """{"commit", "submitted"}: the last commit that touched the submission's folder and its time, where the
    folder lies in a git checkout; {} elsewhere. A folder with a `.git` of its own is not asked (its config
    would be the student's, and git runs some config entries as commands)."""
    if folder is None or not Path(folder).is_dir() or (Path(folder) / ".git").exists():
        return {}
    try:
        result = subprocess.run(["git", "-c", "core.fsmonitor=false", "-C", str(folder), "log", "-1",
                                 "--format=%H %cI", "--", "."], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    fields = result.stdout.split()
    return {"commit": fields[0], "submitted": fields[1]} if result.returncode == 0 and len(fields) == 2 else {}


def grade_submission(submission: Submission, options: GradeOptions = GradeOptions()) -> Report:
    """The scored report of one submission; problems with the submission are reported, not raised."""
    started = time.monotonic()
    if submission.problem or submission.notebook is None:
        return _problem_report(submission, [submission.problem or "no notebook"], options, started)
    loaded = load_notebook(submission.notebook)
    if loaded.problem:
        return _problem_report(submission, [loaded.problem], options, started)
    collector = Collector()
    pytest.main(_pytest_args(submission, options), plugins=[collector])
    rubric = load_rubric(submission.assignment, submission.option)
    execution = collector.execution
    signals = gather_signals(rubric, submission, loaded.notebook, execution)
    scored = score(rubric, collector.checks(), signals, options.overrides_for(submission))
    problems = [f"a check module failed to load (a grader bug; please report it): {e}"
                for e in collector.collection_errors]
    return Report(submission.student, submission.assignment, submission.option, scored.score, rubric.max_score,
                  scored.categories, scored.checks, execution.cells if execution else (),
                  duration_s=round(time.monotonic() - started, 2),
                  environment=environment(options.device) | submission_version(submission.folder),
                  problems=tuple(problems),
                  warnings=submission.warnings + _cell_warnings(execution) + tuple(collector.notes),
                  plots=tuple(collector.plots),
                  bindings=tuple(collector.bindings.values()), signals=signals,
                  figures=notebook_figures(loaded.notebook))


def read_readme(folder: Path) -> str | None:
    """The submission's README.md (any capitalisation), or None."""
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.name.lower() == "readme.md":
            return path.read_text(encoding="utf-8", errors="replace")
    return None


def gather_signals(rubric, submission: Submission, notebook, execution) -> dict[str, evidence.Signal]:
    """The evidence for every rubric item of kind "signal" or "readme", keyed by item id."""
    readme = read_readme(submission.folder)
    measure = {
        "runs_clean": lambda item: evidence.runs_clean(execution),
        "execution_order": lambda item: evidence.execution_order(notebook),
        "lint": lambda item: evidence.lint(submission.notebook),
        "docstrings": lambda item: evidence.docstrings(notebook, list(rubric.components),
                                                       evidence.grader_names(notebook)),
        "cell_size": lambda item: evidence.cell_size(notebook),
        "plots": lambda item: evidence.plots(notebook, item.minimum),
        "training_evidence": lambda item: evidence.training_evidence(notebook),
    }
    signals = {}
    for category in rubric.categories:
        for item in category.items:
            if item.kind == "signal":
                signals[item.id] = measure[item.signal](item)
            elif item.kind == "readme":
                signals[item.id] = evidence.readme_answers(readme, item.terms, item.min_terms)
    return signals


def rescore(report: Report, submission: Submission, options: GradeOptions = GradeOptions()) -> Report | None:
    """The report of an earlier grading (read back from its report.json) scored again with the current rubric
    and overrides, from its saved checks and signals: nothing is run. None where the saved report cannot
    be scored again: it predates recorded signals, or the rubric now has a signal/readme item it did not
    measure (then grade the submission)."""
    signals = report.signals
    if signals is None:
        return None
    if not report.assignment:
        return dataclasses.replace(report, rescored=True)
    rubric = load_rubric(report.assignment, report.option)
    measured = {k: evidence.Signal(**known_fields(evidence.Signal, v)) for k, v in signals.items()}
    wanted = {i.id for c in rubric.categories for i in c.items if i.kind in ("signal", "readme")}
    if wanted - measured.keys() and not report.problems:  # a problem report measured nothing, on purpose
        return None
    scored = score(rubric, list(report.checks), measured, options.overrides_for(submission))
    return dataclasses.replace(report, score=scored.score, max_score=rubric.max_score, categories=scored.categories,
                               checks=scored.checks, signals=measured, rescored=True, figures=_figures(submission))


def _figures(submission: Submission) -> tuple:
    """The notebook's saved figures for report.html (report.json leaves them out), read again."""
    if submission.problem or submission.notebook is None:
        return ()
    loaded = load_notebook(submission.notebook)
    return () if loaded.problem else tuple(notebook_figures(loaded.notebook))


def _cell_warnings(execution) -> tuple[str, ...]:
    if execution is None:
        return ()
    heavy = [str(c.index + 1) for c in execution.cells if c.heavy]
    cut = [str(c.index + 1) for c in execution.cells if c.status == "timeout" and not c.heavy]
    died = [str(c.index + 1) for c in execution.cells if c.status == "kernel_died"]
    waiting = [str(c.index + 1) for c in execution.cells if c.reason.startswith(NOT_RUN_FOR_HEAVY_WORK)]
    lacking = [str(c.index + 1) for c in execution.cells if c.reason.startswith(LACKING)]
    following = [str(c.index + 1) for c in execution.cells if c.reason.startswith(FOLLOWING)]
    notes = []
    if lacking:
        notes.append(f"cell(s) {', '.join(lacking)} need what the grading machine does not have (the network, a "
                     "module, room for a big file); your saved outputs show them run, so they are not counted as errors"
                     + (f", nor are cell(s) {', '.join(following)} after them, which failed only here"
                        if following else ""))
    if heavy:
        notes.append(f"cell(s) {', '.join(heavy)} train or evaluate on whole datasets: the grader kept that work "
                     "short instead of re-running it (your saved outputs show it); the checks test your functions")
    if waiting:
        notes.append(f"cell(s) {', '.join(waiting)} need results of that heavy work and were not run")
    if cut:
        notes.append(f"cell(s) {', '.join(cut)} ran past the time limit and were cut; "
                     "checks ran on what the notebook had defined")
    if died:
        notes.append(f"the kernel died in cell(s) {', '.join(died)}; "
                     "the grader restarted it and replayed the cells before")
    if execution.budget_exhausted:
        notes.append("the notebook used up its time budget; later cells were skipped")
    return tuple(notes)


def write_reports(report: Report, folder: Path, formats: tuple[str, ...] = FORMATS) -> None:
    """report.json always (the contract, and what a regrade reuses); the others as asked. Each file is
    written atomically, so a grading stopped half-way leaves every file whole (old or new)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(report, folder / "report.json")
    if "md" in formats:
        write_text_atomic(folder / "report.md", render_markdown(report))
    if "html" in formats:
        write_text_atomic(folder / "report.html", render_html(report))
    if "gradescope" in formats:
        write_text_atomic(folder / "results.json", json.dumps(gradescope_results(report), indent=2))


class Interrupted(Exception):
    """The batch was stopped (`children_stopped`) while this submission was being graded: no report."""


_children: set[int] = set()  # pids of the grading children running now
_children_lock = threading.Lock()
_stopping = threading.Event()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc; none where there is no /proc), whatever its session."""
    below: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        below.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = below.get(todo.pop(), [])
        found += children
        todo += children
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a grading child's process group and the process group of everything below it.

    The kernels jupyter_client starts run in sessions of their own, so killing the child's group
    alone would leave them running; they are found before anything is killed."""
    own = os.getpgrp()
    for process in [pid, *_descendants(pid)]:
        try:
            group = os.getpgid(process)
            if group != own:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(process, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def children_stopped():
    """Stop a batch: kill every running grading child with its kernels; while inside, `grade_isolated`
    raises Interrupted instead of starting a child (so the batch's threads can be waited for)."""
    with _children_lock:
        _stopping.set()
        running = list(_children)
    for pid in running:
        kill_tree(pid)
    try:
        yield
    finally:
        _stopping.clear()


def _child_env(scratch: Path) -> dict[str, str]:
    """What a grading child's environment adds: its scratch folder, and one torch thread in the child and its
    kernel (grader.execute.KEEP_ENV): parallel gradings do not fight over the cores, and numbers come out the
    same whatever the machine's core count or -j (floating-point sums depend on how work is split). The suites
    roots are passed on as they are now (a fork server keeps the environment it started with)."""
    return {"TMPDIR": str(scratch), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            SUITES_ENV: os.environ.get(SUITES_ENV, "")}


_server: list = []  # the batch's grader.forkserver.ForkServer, started on first use (closed at exit)


def _fork_server():
    """The batch's fork server, or None where it cannot run (no os.fork or pidfd_open, or LLM_GRADER_NO_FORK)."""
    if os.environ.get("LLM_GRADER_NO_FORK") or not hasattr(os, "pidfd_open") or not hasattr(os, "fork"):
        return None
    if not _server:
        _server.append(ForkServer())
        atexit.register(_server[0].close)
    return _server[0]


_slots = {"root": None, "free": [], "count": 0}  # the batch's grading slots (grader/zygote.py): folders
_slots_lock = threading.Lock()


@contextlib.contextmanager
def _slot(options: GradeOptions):
    """A grading slot's folder, held while one submission is graded (at most one per parallel job), where the
    kernels come from a zygote (bubblewrap batches with a fork server); else None."""
    if _fork_server() is None or not zygote.enabled() or sandbox.resolve_quietly(options.sandbox) != "bwrap":
        yield None
        return
    with _slots_lock:
        if _slots["root"] is None:
            _slots["root"] = zygote.slot_root()
            atexit.register(_remove_slots, _slots["root"])
        if _slots["free"]:
            folder = _slots["free"].pop()
        else:
            folder, _slots["count"] = _slots["root"] / str(_slots["count"]), _slots["count"] + 1
    folder.mkdir(exist_ok=True)
    try:
        yield folder
    finally:
        with _slots_lock:
            _slots["free"].append(folder)


def _remove_slots(root: Path) -> None:
    """At exit: the fork server first (its zygotes' sandboxes end with it), then the slots' folders."""
    for server in _server:
        server.close()
    shutil.rmtree(root, ignore_errors=True)


def _start_child(args: list[str], log, scratch: Path, slot: dict | None) -> tuple[int, subprocess.Popen | None]:
    """(pid, Popen or None): a child forked by the fork server (its kernels from `slot`'s zygote, if any),
    else a fresh `python -m grader.grade`."""
    server = _fork_server()
    if server is not None:
        try:
            return server.spawn(args, Path(log.name), scratch, _child_env(scratch), slot), None
        except RuntimeError as err:
            print(f"{err}; starting a fresh process instead", file=log, flush=True)
    child = subprocess.Popen([sys.executable, *SAFE_PATH, "-m", "grader.grade", *args], stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             env={**os.environ, **_child_env(scratch)})
    return child.pid, child


def _run_child(args: list[str], log, timeout: float, scratch: Path, slot: dict | None = None) -> int | str:
    """The exit status of a child grading `args` (grader.grade._main's), or "timeout" (then it was killed with
    its kernels). Its temporary files (the notebook's scratch copy, the kernel's sockets) go under `scratch`,
    removed by the caller even when the child was killed."""
    with _children_lock:
        if _stopping.is_set():
            raise Interrupted
        pid, child = _start_child(args, log, scratch, slot)
        _children.add(pid)
    try:
        if child is None:
            status = wait_for(pid, scratch, timeout)
        else:
            try:
                status = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                status = "timeout"
        if status == "timeout":
            kill_tree(pid)
            child.wait() if child is not None else wait_for(pid, scratch, 30)
        return status
    finally:
        with _children_lock:
            _children.discard(pid)


def grade_isolated(submission: Submission, out: Path, options: GradeOptions, *, timeout: float) -> Path:
    """Grade in a child process; whatever happens there, a report is written. Returns its folder.

    The child runs in a session of its own (a Ctrl-C on the terminal reaches only the batch, which
    then enters `children_stopped`); a child killed that way raises Interrupted and writes no report."""
    folder = report_dir(out, submission)
    folder.mkdir(parents=True, exist_ok=True)
    request = folder / "request.json"
    request.write_text(json.dumps({"submission": asdict(submission), "options": asdict(options)}, default=str))
    with _slot(options) as slot:
        scratch = Path(tempfile.mkdtemp(prefix="llm-grader-run-", dir=slot))
        try:
            with (folder / "grader.log").open("w") as log:
                returncode = _run_child([str(request), str(folder)], log, timeout, scratch,
                                        {"slot": str(slot), "weights": options.weights} if slot else None)
        finally:
            request.unlink(missing_ok=True)
            shutil.rmtree(scratch, ignore_errors=True)
    if returncode != 0 and _stopping.is_set():
        raise Interrupted(submission.label)
    if returncode != 0 or not (folder / "report.json").exists():
        why = (f"the grader stopped after {timeout:.0f} s" if returncode == "timeout"
               else f"the grader crashed (exit {returncode})")
        report = _problem_report(submission, [f"{why} while grading this submission; see grader.log"], options,
                                 time.monotonic())
        write_reports(report, folder, options.formats)
    return folder


def _main(request_path: str, folder: str) -> int:
    request = json.loads(Path(request_path).read_text())
    fields = request["submission"]
    submission = Submission(**{**fields, "folder": Path(fields["folder"]),
                               "notebook": Path(fields["notebook"]) if fields["notebook"] else None,
                               "warnings": tuple(fields["warnings"])})
    options = GradeOptions(**{**request["options"], "formats": tuple(request["options"]["formats"])})
    write_reports(grade_submission(submission, options), Path(folder), options.formats)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(*sys.argv[1:3]))
