"""What GitHub Actions needs from the grader, kept out of the YAML so it can be tested.

    python -I -m grader.ci changed --base <sha> [--head HEAD] [--repo DIR] [-z]
        submission folders a pull request touches
    python -I -m grader.ci summary reports/
        the comment / job-summary Markdown

The comment starts with MARKER so the commenting workflow updates its own comment
instead of adding a new one on every push. Run it isolated (-I) and outside the pull
request's checkout, so that nothing the pull request adds can be imported in its place.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

from grader.comment import to_look_at
from grader.load import submission_label
from grader.results import read_saved_reports

MARKER = "<!-- llm-autograder -->"
ROOTS = ("assignments", "submissions")
COMMENT_LIMIT = 65_536  # GitHub's limit on a comment's body, in characters
CUT_NOTE = "\n… (cut to fit a GitHub comment; the full reports are in the run's artifact)\n"
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
DETAILS_OPEN, DETAILS_CLOSE = re.compile(r"<details\b", re.IGNORECASE), re.compile(r"</details\s*>", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def changed_files(base: str, head: str = "HEAD", repo: Path = Path(".")) -> list[str]:
    """Paths changed between the merge base of `base` and `head`, verbatim (any characters, even newlines)."""
    result = subprocess.run(["git", "-C", str(repo), "-c", "core.quotePath=false", "diff", "--name-only",
                             "--no-renames", "-z", f"{base}...{head}"], capture_output=True, check=True)
    return [path for path in result.stdout.decode("utf-8", "surrogateescape").split("\0") if path]


def submission_folder(path: str) -> str | None:
    """'assignments/<id>/ada/notes/x.py' -> 'assignments/<id>/ada'; None outside a student's folder."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 4 and parts[0] in ROOTS:
        return str(PurePosixPath(*parts[:3]))
    return None


def changed_submissions(base: str, head: str = "HEAD", repo: Path = Path(".")) -> list[str]:
    """The student folders a change touches that still exist at `head` (deleted ones are not graded).

    Skipped: a folder that is, or lies under, a symbolic link (it could point out of the checkout), and
    one whose name holds control characters such as newlines (no student's; it could forge report lines)."""
    folders = sorted({f for f in map(submission_folder, changed_files(base, head, repo))
                      if f and not CONTROL.search(f)})
    return [f for f in folders if (repo / f).is_dir() and (repo / f).resolve() == repo.resolve() / f]


def _blocks_after(line: str, fence: str | None, details: int) -> tuple[str | None, int]:
    """The open code fence (its marker, or None) and the <details> depth once `line` is read."""
    opener = FENCE.match(line)
    if fence:
        closes = opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence)
        return (None if closes and not line[opener.end():].strip() else fence), details
    if opener and not (opener.group(1)[0] == "`" and "`" in line[opener.end():]):
        return opener.group(1), details
    return None, max(0, details + len(DETAILS_OPEN.findall(line)) - len(DETAILS_CLOSE.findall(line)))


def fit_comment(text: str, limit: int = COMMENT_LIMIT) -> str:
    """`text` if it has at most `limit` characters; else its longest run of whole lines that fits
    with any open code fence and <details> block closed and CUT_NOTE added, so the Markdown stays valid."""
    if len(text) <= limit:
        return text
    fitted, kept, fence, details = CUT_NOTE, 0, None, 0
    for line in re.findall(r"[^\n]*\n", text):
        kept += len(line)
        fence, details = _blocks_after(line, fence, details)
        ending = (f"{fence}\n" if fence else "") + "</details>\n" * details + CUT_NOTE
        if kept + len(ending) > limit:
            break
        fitted = text[:kept] + ending
    return fitted


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell: one line, no column breaks, no HTML."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def summary(out: Path) -> str:
    """One comment for a pull request: a table of totals, then each submission's report.md."""
    reports = read_saved_reports(out)
    if not reports:
        return f"{MARKER}\n## Autograder\n\nNo submission folder changed in this pull request, so nothing was graded.\n"
    lines = [MARKER, "## Autograder", "", "| Submission | Score | |", "|---|---:|---|"]
    for report, _ in reports:
        label = submission_label(report.assignment, report.option, report.student)
        note = report.problems[0][:120] if report.problems else to_look_at(report.checks) or "all checks passed"
        lines.append(f"| {_cell(label)} | {report.score:g} / {report.max_score:g} | {_cell(note)} |")
    body = "\n".join(lines) + "\n"
    for _, folder in reports:
        md = folder / "report.md"
        if md.exists():
            body += "\n---\n\n" + md.read_text(encoding="utf-8")
    body += "\n<sub>Provisional categories are confirmed by the course staff. Run the checks yourself: " \
            "`pytest student_tests/<assignment> --submission <your folder>`.</sub>\n"
    return fit_comment(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.ci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    changed = sub.add_parser("changed", help="print the submission folders a change touches, one per line")
    changed.add_argument("--base", required=True, help="the pull request's base commit")
    changed.add_argument("--head", default="HEAD")
    changed.add_argument("--repo", type=Path, default=Path("."),
                         help="the checkout (default: here); folders print under it")
    changed.add_argument("-z", action="store_true",
                         help="end each folder with NUL, not a newline (any folder name is safe)")
    report = sub.add_parser("summary", help="print the pull-request comment for a reports folder")
    report.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "changed":
        end = "\0" if args.z else "\n"
        folders = "".join(f"{args.repo / f}{end}" for f in changed_submissions(args.base, args.head, args.repo))
        sys.stdout.buffer.write(folders.encode("utf-8", "surrogateescape"))
    else:
        sys.stdout.write(summary(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
