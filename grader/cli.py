"""Command-line entry point `grade` (placeholder until the grading engine lands)."""

import sys

from grader import __version__

PLANNED = """\
grade {version}: the grading engine is not built yet.

When it is, `grade submissions/ --out reports/` will run each submission's notebook in
its own kernel, probe the student's classes and functions against the reference
implementation, and write report.json and report.md per submission.

Meanwhile:
  python -m reference.demo      the reference model: the book's generation and a short training run
  pytest                        the project's own test suite
"""


def main(argv: list[str] | None = None) -> int:
    """Print what the grader will do and exit successfully."""
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(f"grade {__version__}")
        return 0
    print(PLANNED.format(version=__version__))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
