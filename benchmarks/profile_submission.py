"""Where the time of grading one submission goes: imports, kernel start, each cell, each check, each probe.

    python benchmarks/profile_submission.py submissions/a4/ada-correct [more folders...] [--top 12]

Grades in this process (sandbox as `grade` would choose it) with timers around the grader's own
functions; prints one table per submission and nothing is written but a scratch report folder.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
import torch  # noqa: E402,F401  (timed: the child process pays it too)

from grader import execute, kernel, probe  # noqa: E402
from grader.grade import GradeOptions, grade_submission  # noqa: E402
from grader.load import discover  # noqa: E402

IMPORTS = time.perf_counter() - T0


class Timers:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float]] = []  # (phase, label, seconds)

    def wrap(self, owner, name: str, phase: str, label) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.rows.append((phase, label(*args, **kwargs), time.perf_counter() - started))
        setattr(owner, name, timed)


def install(timers: Timers) -> None:
    timers.wrap(kernel.Kernel, "__init__", "kernel start", lambda *a, **k: "ipykernel up")
    timers.wrap(execute.KernelSession, "_run_cell", "cell", lambda self, index, source: f"cell {index + 1}")
    timers.wrap(probe.Probe, "call", "probe", lambda self, name, *a, **k: name)


class Durations:
    """A pytest plugin: seconds per check (set-up, call and tear-down together)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)

    def pytest_runtest_logreport(self, report) -> None:
        self.seconds[report.nodeid.split("::", 1)[-1]] += report.duration


def profile(folder: Path, top: int) -> None:
    timers, durations = Timers(), Durations()
    install(timers)
    [submission] = discover([folder])
    import pytest
    original_main = pytest.main
    pytest.main = lambda args, plugins=(): original_main(args, plugins=[*plugins, durations])
    started = time.perf_counter()
    try:
        report = grade_submission(submission, GradeOptions())
    finally:
        pytest.main = original_main
    total = time.perf_counter() - started
    by_phase = collections.defaultdict(float)
    for phase, _, seconds in timers.rows:
        by_phase[phase] += seconds
    print(f"\n## {submission.label}: {report.score:g}/{report.max_score:g}, {total:.1f} s in the grader "
          f"(+{IMPORTS:.1f} s imports)")
    print(f"{'phase':<14} {'count':>5} {'seconds':>8}")
    for phase in ("kernel start", "cell", "probe"):
        count = sum(1 for p, _, _ in timers.rows if p == phase)
        print(f"{phase:<14} {count:>5} {by_phase[phase]:>8.2f}")
    checks = sum(durations.seconds.values())
    print(f"{'checks':<14} {len(durations.seconds):>5} {checks:>8.2f}  (includes the notebook run in the first)")
    print(f"\nslowest cells, probes and checks (top {top}):")
    rows = [(s, p, label) for p, label, s in timers.rows if p != "kernel start"]
    rows += [(s, "check", name) for name, s in durations.seconds.items()]
    for seconds, phase, label in sorted(rows, reverse=True)[:top]:
        print(f"  {seconds:>7.2f}  {phase:<6} {label}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for folder in args.folders:
        profile(folder, args.top)


if __name__ == "__main__":
    main()
