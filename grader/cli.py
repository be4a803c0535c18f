"""`grade PATH... --out DIR`: grade every submission under the paths and write their reports."""

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader import __version__
from grader.grade import GradeOptions, grade_isolated
from grader.load import discover

EPILOG = """\
examples:
  grade submissions/                      every submission under submissions/
  grade assignments/a2/ada/ --out out/    one student's folder
  grade path/to/assignment3.ipynb         one notebook

Each submission gets <out>/<assignment>/<student>/report.json and report.md.
Exit status is 0 whenever grading ran, whatever the scores.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grade", description="Grade MAI5301 notebook submissions.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="submission folders, notebooks, or folders of them")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where reports go (default: reports/)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--only", help="grade only this assignment, e.g. a3")
    parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per notebook cell (default 60)")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per notebook in all (default 600)")
    parser.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"),
                        help="device for training checks (default auto: CUDA when available)")
    parser.add_argument("--version", action="version", version=f"grade {__version__}")
    return parser.parse_args(argv)


def summary_line(folder: Path) -> str:
    report = json.loads((folder / "report.json").read_text())
    label = f"{report['assignment'] or '?'}{'-' + report['option'] if report['option'] else ''}/{report['student']}"
    failed = sum(c["status"] in ("fail", "error") for c in report["checks"])
    note = report["problems"][0] if report["problems"] else f"{failed} check(s) failed" if failed else "all checks passed"
    return f"{label:<36} {report['score']:>6g} / {report['max_score']:<4g} {note}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    submissions = [s for s in discover(args.paths) if not args.only or s.assignment == args.only]
    if not submissions:
        print(f"no submissions found under {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 1
    options = GradeOptions(cell_timeout=args.cell_timeout, budget=args.budget, device=args.device)
    timeout = args.budget + 300  # the notebook's budget plus kernel starts and checks
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        folders = pool.map(lambda s: grade_isolated(s, args.out, options, timeout=timeout), submissions)
        for folder in folders:
            print(summary_line(folder), flush=True)
    print(f"reports in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
