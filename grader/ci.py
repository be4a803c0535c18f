"""What GitHub Actions needs from the grader, kept out of the YAML so it can be tested.

    python -m grader.ci changed --base <sha> [--head HEAD]   submission folders a pull request touches
    python -m grader.ci summary reports/ [--pr-number N]     the comment / job-summary Markdown

The comment starts with MARKER so the commenting workflow updates its own comment
instead of adding a new one on every push.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path, PurePosixPath

from grader.load import submission_label

MARKER = "<!-- llm-autograder -->"
ROOTS = ("assignments", "submissions")
COMMENT_LIMIT = 60_000


def changed_files(base: str, head: str = "HEAD", repo: Path = Path(".")) -> list[str]:
    """Paths changed between the merge base of `base` and `head`, as git prints them."""
    result = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", "--no-renames", f"{base}...{head}"],
                            capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if line.strip()]


def submission_folder(path: str) -> str | None:
    """'assignments/a2/ada/notes/x.py' -> 'assignments/a2/ada'; None outside a student's folder."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 4 and parts[0] in ROOTS:
        return str(PurePosixPath(*parts[:3]))
    return None


def changed_submissions(base: str, head: str = "HEAD", repo: Path = Path(".")) -> list[str]:
    """The student folders a change touches that still exist at `head` (deleted ones are not graded)."""
    folders = sorted({f for f in map(submission_folder, changed_files(base, head, repo)) if f})
    return [f for f in folders if (repo / f).is_dir()]


def _reports(out: Path) -> list[tuple[dict, Path]]:
    found = []
    for path in sorted(out.glob("*/*/report.json")):
        found.append((json.loads(path.read_text(encoding="utf-8")), path.parent))
    return found


def summary(out: Path) -> str:
    """One comment for a pull request: a table of totals, then each submission's report.md."""
    reports = _reports(out)
    if not reports:
        return f"{MARKER}\n## Autograder\n\nNo submission folder changed in this pull request, so nothing was graded.\n"
    lines = [MARKER, "## Autograder", "", "| Submission | Score | |", "|---|---:|---|"]
    for report, _ in reports:
        label = submission_label(report["assignment"], report["option"], report["student"])
        failed = sum(c["status"] in ("fail", "error") for c in report["checks"])
        note = report["problems"][0][:120] if report["problems"] else f"{failed} check(s) to fix" if failed else "all checks passed"
        lines.append(f"| {label} | {report['score']:g} / {report['max_score']:g} | {note} |")
    body = "\n".join(lines) + "\n"
    for _, folder in reports:
        md = folder / "report.md"
        if md.exists():
            body += "\n---\n\n" + md.read_text(encoding="utf-8")
    body += "\n<sub>Provisional categories are confirmed by the course staff. Run the checks yourself: " \
            "`pytest student_tests/<assignment> --submission <your folder>`.</sub>\n"
    if len(body) > COMMENT_LIMIT:
        body = body[:COMMENT_LIMIT] + "\n\n… (cut to fit a GitHub comment; the full reports are in the run's artifact)\n"
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.ci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    changed = sub.add_parser("changed", help="print the submission folders a change touches, one per line")
    changed.add_argument("--base", required=True, help="the pull request's base commit")
    changed.add_argument("--head", default="HEAD")
    report = sub.add_parser("summary", help="print the pull-request comment for a reports folder")
    report.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "changed":
        print("\n".join(changed_submissions(args.base, args.head)))
    else:
        sys.stdout.write(summary(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
