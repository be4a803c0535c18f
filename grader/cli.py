"""`grade PATH... --out DIR`: grade every submission under the paths and write their reports;
`grade merge DIR... --out OUT`: join the reports of several (sharded) runs."""

import argparse
import contextlib
import functools
import hashlib
import json
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from grader import __version__, assignments
from grader.classview import write_class_view
from grader.grade import (
    FORMATS,
    GradeOptions,
    children_stopped,
    grade_isolated,
    report_dir,
    rescore,
    write_reports,
)
from grader.load import Submission, discover, submission_label
from grader.render import write_gradebook
from grader.report import write_text_atomic
from grader.results import Report, read_report, read_saved_reports
from grader.rubric import RubricError, load_overrides
from grader.settings import RUN_OPTIONS, add_options
from grader.shard import copy_reports, gather, in_shard, parse_shard

EPILOG = """\
examples:
  grade submissions/                         every submission under submissions/
  grade assignments/{id}/ada/ --out out/       one student's folder
  grade path/to/{notebook}            one notebook
  grade submissions/ -j 2 --only {id}          the {id} submissions, two at a time
  grade submissions/ --overrides overrides.toml --force
  grade submissions/ --overrides overrides.toml --rescore   apply overrides without running notebooks
  grade submissions/ --shard 2/4 --out shard-2   one machine's share of four
  grade merge shard-1 shard-2 shard-3 shard-4 --out reports   join the shares (see grade merge -h)

Each submission gets <out>/<assignment>/<student>/report.json (and report.md, report.html);
<out>/gradebook.csv has a row per report.json under <out>, so grading a subset (one student,
--only {id}) updates its rows and keeps the others. An unchanged submission is not graded again
(its report is reused) unless --force. Exit status is 0 whenever grading ran, whatever the
scores. Ctrl-C (or SIGTERM) stops the run: finished reports stay, the gradebook is written
from them, the exit status is 130 (143); the same command again grades the rest.
--shard K/N grades the submissions whose report folder name ({id}/ada) hashes to share K of N:
the same share on every machine, whatever the order of the paths; a share with no submission
exits 0. A folder named merge is graded as ./merge.
--rescore scores every submission that has a report.json under --out again from its saved checks
and signals, with the current rubric and overrides, without running its notebook (well under a
second each); a submission without one, or whose report predates --rescore, is graded normally.

overrides.toml, one table per instructor decision:
  [[override]]
  student = "ada"
  assignment = "{id}"
  category = "Understanding"
  points = 22
  reason = "README answers all three questions well"
"""


def _epilog() -> str:
    """The examples, with an assignment the grader found (grader.assignments) standing for any."""
    found = assignments.all_assignments()
    example = next((a for a in found if not a.option), found[0]) if found else None
    return EPILOG.format(id=example.assignment if example else "<id>", notebook=example.notebook if example else
                         "<notebook>.ipynb")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grade", description="Grade MAI5301 notebook submissions.",
                                     epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="submission folders, notebooks, or folders of them")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where reports go (default: reports/)")
    parser.add_argument("-j", "--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="submissions graded at once, each in its own kernel (default: half the CPUs)")
    parser.add_argument("--only", help="grade only this assignment (the id in its manifest, assignment.toml)")
    add_options(parser.add_argument)  # --cell-timeout, --heavy-after, --budget, --device, --weights, --sandbox
    parser.add_argument("--format", default="md,html,json",
                        help=f"report formats, comma-separated from {','.join(FORMATS)} (default md,html,json)")
    parser.add_argument("--overrides", type=Path, help="TOML file of instructor overrides (see below)")
    parser.add_argument("--force", action="store_true", help="grade again even if a submission is unchanged")
    parser.add_argument("--rescore", action="store_true",
                        help="score the saved reports again (current rubric and overrides) without running notebooks")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="grade only share K of N of the submissions (see below)")
    parser.add_argument("--version", action="version", version=f"grade {__version__}")
    args = parser.parse_args(argv)
    if args.rescore and args.force:
        parser.error("--rescore and --force exclude each other (--force runs every notebook again)")
    args.formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    unknown = set(args.formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    return args


@functools.lru_cache(maxsize=1)
def grader_digest() -> str:
    """A hash of the grader's own code and data (engine, reference, and every assignment's checks, probes and
    rubric under the suites roots): a changed check regrades."""
    import reference

    digest = hashlib.sha256(__version__.encode())
    for package in (Path(__file__).parent, Path(reference.__file__).parent, *assignments.roots()):
        for path in sorted(package.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".toml", ".j2", ".json", ".txt", ".bpe"):
                digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(submission: Submission, options: GradeOptions) -> str:
    """Changes when the submission's files, the grader or the grading options change: three hashes,
    "grader:submission:overrides" (the grader and the options but overrides; the submission's files;
    its overrides), so `--rescore` can tell whether a saved report's checks are still current."""
    settings = json.dumps({**asdict(options), "overrides": ()}, sort_keys=True, default=str)
    grader = hashlib.sha256(f"{grader_digest()}\n{settings}".encode()).hexdigest()
    files = hashlib.sha256()
    for path in sorted(p for p in submission.folder.rglob("*") if p.is_file()):
        files.update(str(path.relative_to(submission.folder)).encode() + b"\0" + path.read_bytes())
    overrides = hashlib.sha256(json.dumps(options.overrides_for(submission), default=str).encode()).hexdigest()
    return f"{grader}:{files.hexdigest()}:{overrides}"


def grade_cached(submission: Submission, out: Path, options: GradeOptions, *, force: bool) -> tuple[Path, bool]:
    """(report folder, whether an earlier identical result was reused)."""
    folder = report_dir(out, submission)
    key = fingerprint(submission, options)
    stamp = folder / "fingerprint.txt"
    wanted = {"md": "report.md", "html": "report.html", "gradescope": "results.json", "json": "report.json"}
    fresh = stamp.exists() and stamp.read_text() == key and all((folder / wanted[f]).exists() for f in options.formats)
    if fresh and not force:
        return folder, True
    stamp.unlink(missing_ok=True)  # written last: a grading stopped half-way is never taken as fresh
    folder = grade_isolated(submission, out, options, timeout=options.budget + 300)
    write_text_atomic(stamp, key)
    return folder, False


def rescore_cached(submission: Submission, out: Path, options: GradeOptions) -> tuple[Path, str]:
    """(report folder, what was done): the saved report scored again without running the notebook
    (`grade.rescore`); graded normally where there is no saved report or it cannot be scored again.

    fingerprint.txt stays the mark of a report identical to a fresh grading: it is written again
    (with the new overrides) only where the saved report's grader, options and submission files are
    the current ones; otherwise it is removed, so the next `grade` without --rescore runs the notebook."""
    folder = report_dir(out, submission)
    stamp = folder / "fingerprint.txt"
    try:
        saved = read_report(folder / "report.json")
    except (OSError, ValueError):
        saved = None
    report = rescore(saved, submission, options) if saved is not None else None
    if report is None:
        folder, reused = grade_cached(submission, out, options, force=False)
        why = "no saved report" if saved is None else "its saved report predates --rescore"
        return folder, "reused" if reused else f"graded: {why}"
    old = stamp.read_text().split(":") if stamp.exists() else []
    key = fingerprint(submission, options)
    stamp.unlink(missing_ok=True)  # written last, as in grade_cached
    write_reports(report, folder, options.formats)
    if old[:2] == key.split(":")[:2]:
        write_text_atomic(stamp, key)
        return folder, "rescored"
    if len(old) != 3:
        return folder, "rescored; its grading left no fingerprint: plain `grade` runs it again"
    changed = " and ".join(what for what, was, now in zip(("the grader", "the submission"), old, key.split(":"))
                           if was != now)
    return folder, f"rescored; {changed} changed since its grading: plain `grade` runs it again"


def saved_reports(out: Path) -> list[Report]:
    """Every readable report.json under out (see grader.results.read_saved_reports)."""
    return [report for report, _ in read_saved_reports(out)]


def rebuild_gradebook(out: Path) -> list[Report]:
    """Rewrite <out>/gradebook.csv and the class view (index.html, class-summary.json, the wide
    gradebook-<assignment>.csv files) from every report under out (not only this run's); returns those reports."""
    reports = saved_reports(out)
    write_gradebook(reports, out / "gradebook.csv")
    write_class_view(reports, out)
    return reports


def update_gradebook(out: Path) -> int:
    """Rewrite <out>/gradebook.csv (see rebuild_gradebook); returns its rows."""
    return len(rebuild_gradebook(out))


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived while grading."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, frame):
    for kind in STOP_SIGNALS:
        signal.signal(kind, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    raise Stopped(signum)


@contextlib.contextmanager
def stoppable():
    """Inside, SIGINT and SIGTERM raise Stopped in the main thread (then are ignored); restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {kind: signal.signal(kind, _raise_stopped) for kind in STOP_SIGNALS}
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)


class Progress:
    """One updating status line on a terminal; plain lines otherwise."""

    def __init__(self, total: int, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.lock = threading.Lock()
        self._status()

    def _status(self) -> None:
        if self.tty and self.done < self.total:
            self.stream.write(f"grading: {self.done} of {self.total} done …")
            self.stream.flush()

    def finished(self, line: str) -> None:
        with self.lock:
            self.done += 1
            if self.tty:
                self.stream.write("\r\033[K")
            print(f"[{self.done}/{self.total}] {line}", file=self.stream, flush=True)
            self._status()


def summary_row(report: Report, reused: bool | str) -> str:
    """A line per submission; `reused` is True (" (reused)") or what was done ("rescored", ...)."""
    label = submission_label(report.assignment, report.option, report.student)
    failed, held = len(report.failed_checks()), len(report.review_checks())
    note = (report.problems[0] if report.problems
            else f"{failed} check(s) failed" if failed else "all checks passed")
    note += f", {held} held for review" if held and not report.problems else ""
    return (f"{label:<40} {report.score:>6g} / {report.max_score:<4g} {note[:90]}"
            f"{f' ({reused})' if isinstance(reused, str) else ' (reused)' if reused else ''}")


def review_summary(reports: list[Report]) -> str:
    """One line for the course staff: how many submissions have checks held for review, and how many checks."""
    held = [len(r.review_checks()) for r in reports]
    if not any(held):
        return "no check is held for review"
    return (f"{sum(held)} check(s) in {sum(1 for h in held if h)} submission(s) held for review "
            "(status \"review\" in the gradebook; see each report's \"Held for review\")")


def print_summary(results: list[tuple[Report, bool | str]], out: Path, what: str) -> None:
    """The end of a run: a row per (report, reused), the review count, and `what` with where the reports are."""
    print("\n" + "\n".join(summary_row(report, reused) for report, reused in results))
    print(review_summary([report for report, _ in results]))
    print(f"\n{what}; reports in {out}/, gradebook in {out / 'gradebook.csv'}")


def grade_all(submissions: list[Submission], out: Path, options: GradeOptions, *, jobs: int,
              force: bool, rescoring: bool = False) -> list[tuple[Report, bool | str]]:
    """(report, reused) per submission, `jobs` at a time. On Stopped, every grading child and its
    kernels are killed and the threads waited for before it is raised on. `rescoring`: see rescore_cached."""
    progress = Progress(len(submissions))

    def one(submission: Submission) -> tuple[Report, bool | str]:
        if rescoring:
            folder, reused = rescore_cached(submission, out, options)
        else:
            folder, reused = grade_cached(submission, out, options, force=force)
        report = read_report(folder / "report.json")
        progress.finished(summary_row(report, reused))
        return report, reused

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        return list(pool.map(one, submissions))
    except Stopped:
        with children_stopped():
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    try:
        assignments.all_assignments()  # the examples in --help name one, and every submission needs them
    except assignments.ManifestError as err:
        print(f"grade: cannot read the assignments: {err}", file=sys.stderr)
        return 2
    args = parse_args(argv)
    try:
        overrides = load_overrides(args.overrides) if args.overrides else ()
    except (OSError, RubricError) as err:
        print(f"grade: cannot use the overrides file: {err}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    submissions = [s for s in discover(args.paths) if (not args.only or s.assignment == args.only)
                   and not s.folder.resolve().is_relative_to(out)]  # never grade our own reports
    if not submissions:
        print(f"no submissions found under {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 1
    if args.shard:
        found, submissions = len(submissions), in_shard(submissions, args.shard)
        if not submissions:
            print(f"shard {args.shard[0]}/{args.shard[1]} holds none of the {found} submission(s) found; "
                  "nothing to grade")
            return 0
    if args.weights is not None and not Path(args.weights).is_dir():
        print(f"grade: --weights {args.weights} is not a folder", file=sys.stderr)
        return 2
    chosen = {option.field: getattr(args, option.field) for option in RUN_OPTIONS}
    options = GradeOptions(**{**chosen, "weights": str(Path(args.weights).resolve()) if args.weights else None},
                           formats=args.formats, overrides=overrides)
    with stoppable():
        try:
            results = grade_all(submissions, args.out, options, jobs=args.jobs, force=args.force,
                                rescoring=args.rescore)
        except Stopped as stop:
            kept = update_gradebook(args.out)
            print(f"\ngrade: stopped by {stop}; {kept} report(s) kept in {args.out}/ and its gradebook.csv; "
                  "the same command again grades the rest", file=sys.stderr)
            return 128 + stop.signum
    update_gradebook(args.out)
    print_summary(results, args.out, f"{len(results)} submission(s)")
    return 0


MERGE_EPILOG = """\
Copies every <assignment>/<student>/ report folder of each DIR into OUT (over the same folder
there), then rebuilds OUT/gradebook.csv from every report under OUT. Two DIRs holding the same
submission with different report.json files stop the merge (nothing is copied, exit status 2)
unless --force, which keeps the one of the DIR named last.

example (the shards of `grade submissions/ --shard K/3 --out shard-K`):
  grade merge shard-1 shard-2 shard-3 --out reports
"""


def merge_main(argv: list[str]) -> int:
    """`grade merge DIR... --out OUT`: join the reports of several runs into one folder and gradebook."""
    parser = argparse.ArgumentParser(prog="grade merge", description="Join the reports of several grade runs.",
                                     epilog=MERGE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="--out folders of grade runs")
    parser.add_argument("--out", type=Path, required=True, help="the joined reports folder")
    parser.add_argument("--force", action="store_true", help="on differing copies, keep the last DIR's report")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.dirs if not d.is_dir()]
    if missing:
        print(f"grade merge: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    chosen, conflicts = gather(args.dirs)
    if conflicts and not args.force:
        print(f"grade merge: {len(conflicts)} submission(s) have different reports in two folders; nothing "
              "was merged (--force keeps the report of the folder named last):\n  " + "\n  ".join(conflicts),
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    copy_reports(chosen, args.out)
    reports = rebuild_gradebook(args.out)
    print_summary([(report, False) for report in reports], args.out,
                  f"{len(chosen)} report(s) merged from {len(args.dirs)} folder(s), {len(reports)} in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
