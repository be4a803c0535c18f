"""Wall time of grading the bundled samples the way `grade` does: per assignment and for the whole set.

    python benchmarks/grade_samples.py [submissions/a2 ...] [--jobs 1 2] [--json FILE]

For each job count it grades every sample (in a fresh output folder, nothing reused) through the CLI's
own batch (`grader.cli.grade_all`), timing each submission from the start of its grading child to its
report, and prints one table: per assignment the count, the median and the slowest submission's wall
seconds, then the whole set's wall seconds. `--json` also writes the numbers (to compare two runs).

Targets (issue 11, 2 cores, -j 2): median a1-a3 <= 8 s, a4 and a5 <= 25 s, the whole set <= 6 minutes.
Where the time goes inside one submission: benchmarks/profile_submission.py.
"""

import argparse
import collections
import json
import statistics
import tempfile
import time
from pathlib import Path

import grader
from grader import cli
from grader.grade import GradeOptions
from grader.load import discover

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"a1": 8, "a2": 8, "a3": 8, "a4": 25, "a5": 25}


def run_batch(paths: list[Path], jobs: int) -> tuple[float, dict[str, float]]:
    """(whole-set wall seconds, {label: wall seconds}) of one fresh batch with `jobs` workers."""
    submissions = discover(paths)
    seconds: dict[str, float] = {}
    graded = cli.grade_isolated

    def timed(submission, out, options, *, timeout):
        started = time.perf_counter()
        try:
            return graded(submission, out, options, timeout=timeout)
        finally:
            seconds[submission.label] = time.perf_counter() - started

    cli.grade_isolated = timed
    out = Path(tempfile.mkdtemp(prefix=f"grade-bench-j{jobs}-"))
    started = time.perf_counter()
    try:
        cli.grade_all(submissions, out, GradeOptions(formats=("json",)), jobs=jobs, force=True)
    finally:
        cli.grade_isolated = graded
    return time.perf_counter() - started, seconds


def table(results: dict[int, tuple[float, dict[str, float]]]) -> str:
    by_assignment: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
    for jobs, (_, seconds) in results.items():
        for label, value in seconds.items():
            by_assignment[jobs, label.split("/")[0]].append(value)
    names = sorted({a for _, a in by_assignment})
    lines = [f"{'jobs':>4} {'assignment':<18} {'n':>3} {'median s':>9} {'max s':>7} {'target':>7}"]
    for jobs, (wall, seconds) in results.items():
        for name in names:
            values = by_assignment.get((jobs, name))
            if values:
                target = TARGETS.get(name.split("-")[0], "")
                lines.append(f"{jobs:>4} {name:<18} {len(values):>3} {statistics.median(values):>9.1f} "
                             f"{max(values):>7.1f} {target:>7}")
        lines.append(f"{jobs:>4} {'whole set':<18} {len(seconds):>3} {'':>9} {wall:>7.1f} {360:>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "submissions"])
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2], help="job counts to run (default 1 2)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    print(f"grader: {Path(grader.__file__).parent}")
    results = {jobs: run_batch(args.paths, jobs) for jobs in args.jobs}
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({j: {"wall": w, "seconds": s} for j, (w, s) in results.items()}, indent=1))


if __name__ == "__main__":
    main()
