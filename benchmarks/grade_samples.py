"""Wall time of grading the bundled samples: each one alone, then the whole set with -j 1 and -j 2.

    python benchmarks/grade_samples.py [submissions/a2 ...] [--skip-each] [--skip-batch]

Targets: a1-a3 samples under 30 s each, a4/a5 under 90 s each (2 CPU cores).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.grade import GradeOptions, grade_isolated
from grader.load import discover

ROOT = Path(__file__).resolve().parent.parent


def each(paths: list[Path]) -> None:
    out = Path(tempfile.mkdtemp(prefix="grade-bench-"))
    print(f"{'submission':<44} {'score':>12} {'checks':>7} {'seconds':>8}")
    for submission in discover(paths):
        started = time.perf_counter()
        folder = grade_isolated(submission, out, GradeOptions(), timeout=900)
        seconds = time.perf_counter() - started
        report = json.loads((folder / "report.json").read_text())
        score = f"{report['score']:g}/{report['max_score']:g}"
        print(f"{submission.label:<44} {score:>12} {len(report['checks']):>7} {seconds:>8.1f}", flush=True)


def batch(paths: list[Path]) -> None:
    print(f"\n{'jobs':>4} {'submissions':>12} {'wall seconds':>13}")
    count = len(discover(paths))
    for jobs in (1, 2):
        out = tempfile.mkdtemp(prefix=f"grade-bench-j{jobs}-")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader.cli", *map(str, paths), "--out", out, "-j", str(jobs), "--force"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{jobs:>4} {count:>12} {time.perf_counter() - started:>13.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "submissions"])
    parser.add_argument("--skip-each", action="store_true", help="skip the per-sample table")
    parser.add_argument("--skip-batch", action="store_true", help="skip the -j 1 / -j 2 comparison")
    args = parser.parse_args()
    if not args.skip_each:
        each(args.paths)
    if not args.skip_batch:
        batch(args.paths)


if __name__ == "__main__":
    main()
