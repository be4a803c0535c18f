"""The class view, built from every report.json under a reports folder: `index.html` (a self-contained
dashboard for the course staff), `class-summary.json` (the same data for scripts) and one wide
gradebook per assignment (`gradebook-<assignment[-option]>.csv`, a row per student)."""

import csv
import dataclasses
import io
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from grader.grade import report_dir
from grader.load import Submission
from grader.render import _environment, gradebook_status
from grader.report import write_text_atomic
from grader.results import Report

BINS = 10
SLOWEST = 5
FAILED = ("fail", "error")
CHART_W, CHART_H, PAD = 420, 200, 32


@dataclass(frozen=True)
class Bin:
    """Scores in [low, high) (the last bin also holds high)."""

    low: float
    high: float
    count: int


@dataclass(frozen=True)
class CheckRate:
    """How often one check failed (status fail or error) among the reports in which it ran (not skipped)."""

    id: str
    title: str
    failed: int
    total: int
    rate: float
    students: tuple[str, ...]  # those who failed it


@dataclass(frozen=True)
class Item:
    """One student's row in a list: a check or category held for review, a slow run, a cut cell."""

    student: str
    link: str  # that student's report.html, relative to the reports folder
    name: str = ""
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class AssignmentSummary:
    """The class's results for one assignment (an option on its own)."""

    name: str  # the report folder's name: <id> or <id>-<option>
    count: int
    mean: float
    median: float
    min: float
    max: float
    max_score: float
    histogram: tuple[Bin, ...]
    checks: tuple[CheckRate, ...]  # highest failure rate first
    review: tuple[Item, ...]  # checks held for review and provisional categories
    slowest: tuple[Item, ...]  # by duration_s
    cut_cells: tuple[Item, ...]  # cells that ran out of time (status "timeout")


def report_folder(report: Report) -> Path:
    """`<assignment[-option]>/<student>`, relative to the reports folder (where grading wrote the report)."""
    return report_dir(Path(), Submission(report.student, Path(), None, report.assignment, report.option))


def report_link(report: Report) -> str:
    """The student's report.html, URL-quoted, relative to the reports folder."""
    return quote(f"{report_folder(report).as_posix()}/report.html")


def group_name(report: Report) -> str:
    """The report folder's name, which keeps an assignment's options apart: <id>-<option>."""
    return report_folder(report).parent.name


def histogram(scores: list[float], top: float) -> tuple[Bin, ...]:
    """BINS equal bins over [0, top]; their counts sum to len(scores)."""
    width = (top or 1.0) / BINS
    counts = [0] * BINS
    for score in scores:
        counts[min(max(int(score // width), 0), BINS - 1)] += 1
    return tuple(Bin(round(i * width, 6), round((i + 1) * width, 6), n) for i, n in enumerate(counts))


def check_rates(reports: list[Report]) -> tuple[CheckRate, ...]:
    """Each check's failure rate across the reports in which it ran, highest first."""
    ran, failed, titles = defaultdict(int), defaultdict(list), {}
    for report in reports:
        for check in report.checks:
            if check.status == "skip":
                continue
            titles.setdefault(check.id, check.title)
            ran[check.id] += 1
            if check.status in FAILED:
                failed[check.id].append(report.student)
    rates = (CheckRate(cid, titles[cid], len(failed[cid]), n, round(len(failed[cid]) / n, 4), tuple(failed[cid]))
             for cid, n in ran.items())
    return tuple(sorted(rates, key=lambda c: (-c.rate, c.id)))


def review_items(report: Report) -> list[Item]:
    """The report's checks held for review and its provisional categories, for the staff to confirm."""
    link = report_link(report)
    checks = [Item(report.student, link, f"check {c.id}", c.message) for c in report.review_checks()]
    return checks + [Item(report.student, link, f"category {c.name}", c.note)
                     for c in report.categories if c.provisional]


def cut_cells(report: Report) -> list[Item]:
    """The report's cells that were interrupted by the per-cell timeout."""
    return [Item(report.student, report_link(report), f"cell {cell.index}", cell.reason, cell.seconds)
            for cell in report.cells if cell.status == "timeout"]


def summarise(name: str, reports: list[Report]) -> AssignmentSummary:
    """One assignment's summary from its reports (at least one)."""
    scores = [r.score for r in reports]
    slowest = sorted(reports, key=lambda r: -r.duration_s)[:SLOWEST]
    return AssignmentSummary(
        name, len(reports), round(statistics.fmean(scores), 4), statistics.median(scores), min(scores), max(scores),
        max(r.max_score for r in reports), histogram(scores, max(r.max_score for r in reports)),
        check_rates(reports), tuple(i for r in reports for i in review_items(r)),
        tuple(Item(r.student, report_link(r), seconds=r.duration_s) for r in slowest),
        tuple(i for r in reports for i in cut_cells(r)))


def by_assignment(reports: list[Report]) -> dict[str, list[Report]]:
    """Reports grouped by report folder name (options apart), groups and students in order."""
    groups = defaultdict(list)
    for report in sorted(reports, key=lambda r: r.student):
        groups[group_name(report)].append(report)
    return dict(sorted(groups.items()))


def histogram_chart(summary: AssignmentSummary) -> dict:
    """SVG coordinates for the score histogram: one bar per bin, y scaled to the fullest bin."""
    tallest = max(b.count for b in summary.histogram) or 1
    step = (CHART_W - 2 * PAD) / len(summary.histogram)
    bars = [{"x": PAD + i * step, "y": CHART_H - PAD - b.count / tallest * (CHART_H - 2 * PAD),
             "w": step - 2, "h": b.count / tallest * (CHART_H - 2 * PAD), "bin": b}
            for i, b in enumerate(summary.histogram)]
    return {"bars": bars, "tallest": tallest, "width": CHART_W, "height": CHART_H, "pad": PAD}


def wide_gradebook(reports: list[Report]) -> str:
    """One assignment's CSV: a row per student, a column per category headed with its maximum, then total,
    max, status (as in gradebook.csv), commit and submitted (from the report's environment where recorded)."""
    maxima = {}
    for report in reports:
        for category in report.categories:
            maxima[category.name] = max(maxima.get(category.name, 0.0), category.max_score)
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(["student", *(f"{name} ({top:g})" for name, top in maxima.items()),
                     "total", "max", "status", "commit", "submitted"])
    for report in reports:
        scores = {c.name: c.score for c in report.categories}
        environment = report.environment or {}
        writer.writerow([report.student, *(f"{scores[n]:g}" if n in scores else "" for n in maxima),
                         f"{report.score:g}", f"{report.max_score:g}", gradebook_status(report),
                         environment.get("commit", ""), environment.get("submitted", "")])
    return stream.getvalue()


def write_class_view(reports: list[Report], out: Path) -> list[AssignmentSummary]:
    """Write index.html, class-summary.json and gradebook-<assignment>.csv into out; returns the summaries."""
    groups = by_assignment(reports)
    summaries = [summarise(name, group) for name, group in groups.items()]
    for name, group in groups.items():
        write_text_atomic(out / f"gradebook-{name}.csv", wide_gradebook(group))
    data = {"reports": len(reports), "assignments": [dataclasses.asdict(s) for s in summaries]}
    write_text_atomic(out / "class-summary.json", json.dumps(data, indent=2) + "\n")
    page = _environment().get_template("class.html.j2").render(
        summaries=summaries, reports=len(reports), histogram_chart=histogram_chart)
    write_text_atomic(out / "index.html", page)
    return summaries
