"""Wall time of grading each bundled sample submission, one at a time (target: a1-a3 under 30 s each).

    python benchmarks/grade_samples.py [submissions/a2 ...]
"""

import json
import sys
import tempfile
import time
from pathlib import Path

from grader.grade import GradeOptions, grade_isolated
from grader.load import discover

ROOT = Path(__file__).resolve().parent.parent


def main(paths: list[str]) -> None:
    submissions = discover([Path(p) for p in paths] or [ROOT / "submissions"])
    out = Path(tempfile.mkdtemp(prefix="grade-bench-"))
    print(f"{'submission':<40} {'score':>12} {'checks':>8} {'seconds':>8}")
    for submission in submissions:
        started = time.perf_counter()
        folder = grade_isolated(submission, out, GradeOptions(), timeout=900)
        seconds = time.perf_counter() - started
        report = json.loads((folder / "report.json").read_text())
        score = f"{report['score']:g}/{report['max_score']:g}"
        print(f"{submission.label:<40} {score:>12} {len(report['checks']):>8} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
