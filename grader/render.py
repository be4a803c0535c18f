"""Render reports: Markdown and HTML from the Jinja templates in grader/templates/, the gradebook
CSV and a Gradescope-style results.json."""

import csv
import io
import textwrap
from pathlib import Path

import jinja2

from grader.report import Plot, Report, write_text_atomic
from grader.score import CategoryScore, CheckResult, ItemScore

COMMENT_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
MESSAGE_LIMIT = 1_500
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
CHART_W, CHART_H, PAD = 420, 220, 36


def _clip(text: str, n: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= n else text[:n] + f"\n… ({len(text) - n} characters cut)"


def line_chart(plot: Plot) -> dict:
    """SVG coordinates for a line chart: one polyline per series, a shared y range."""
    values = [v for series in plot.series.values() for v in series] or [0.0]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    longest = max((len(s) for s in plot.series.values()), default=1)
    x_step = (CHART_W - 2 * PAD) / max(longest - 1, 1)
    lines = []
    for color, (label, series) in zip(COLORS, plot.series.items()):
        points = " ".join(f"{PAD + i * x_step:.1f},{CHART_H - PAD - (v - low) / span * (CHART_H - 2 * PAD):.1f}"
                          for i, v in enumerate(series))
        lines.append({"label": label, "points": points, "color": color})
    return {"lines": lines, "low": low, "high": high, "width": CHART_W, "height": CHART_H, "pad": PAD}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(["html.j2"]),
    )
    env.filters["clip"] = _clip
    env.filters["points"] = lambda value: f"{value:g}"
    env.globals["line_chart"] = line_chart
    return env


def render_markdown(report: Report) -> str:
    """The pull-request comment: totals, categories, failed checks, cell problems."""
    text = _environment().get_template("report.md.j2").render(report=report)
    if len(text) > COMMENT_LIMIT:
        text = text[:COMMENT_LIMIT] + "\n\n… (report cut to fit a GitHub comment; see report.json)\n"
    return text


def render_html(report: Report) -> str:
    """One self-contained page (inline CSS and SVG, no scripts, no network) for students and instructors."""
    return _environment().get_template("report.html.j2").render(report=report)


# Gradescope autograder results (the published results.json specification): one test per rubric
# category, Markdown everywhere. Every test stays "visible", provisional ones included: the
# student's total is the sum of these tests, so hiding one ("after_published") would leave part of
# the score unexplained; its output says instead that the course staff confirm it. Staff also
# see the autograder's stdout ("hidden" keeps it from students: it is the grader's log).
GRADESCOPE_MARKS = {"fail": "❌ failed", "error": "❌ error", "review": "⏸️ held for review",
                    "pass": "✅ passed", "skip": "➖ skipped"}
GRADESCOPE_ORDER = {"fail": 0, "error": 0, "review": 1, "pass": 2, "skip": 3}


def _markdown_check(check: CheckResult) -> str:
    """One list item: verdict, title, points, where to look, and (unless it passed) the message."""
    where = " · ".join(filter(None, [check.component and f"`{check.component}`",
                                     check.section and f"book section {check.section}"]))
    points = f" ({check.points:g} / {check.max_points:g})" if check.max_points else ""
    line = f"- {GRADESCOPE_MARKS.get(check.status, check.status)}: **{check.title}**{points}" + \
        (f" — {where}" if where else "")
    if check.status == "review":
        line += "\n  Its points are held until the course staff decide; they are neither given nor lost."
    if check.message and check.status != "pass":
        line += "\n" + textwrap.indent(_clip(check.message), "  ")
    return line


def _markdown_item(item: ItemScore) -> str:
    """One rubric item: points, evidence, and whether the course staff still have to decide."""
    label = (f" *({item.held:g} points held for review)*" if item.held else
             " *(provisional: the course staff confirm)*" if item.provisional else "")
    return f"- {item.title}: {item.score:g} / {item.max_score:g}" + (f" — {item.evidence}" if item.evidence else "") + label


def _markdown_category(category: CategoryScore, checks: list[CheckResult]) -> str:
    """A category's Gradescope output: provisional note, rubric items, then its checks, failing first."""
    note = category.note
    if category.provisional:
        note = f"**Provisional:** {note or 'the course staff confirm this score'}."
    parts = [note, "\n".join(map(_markdown_item, category.items))]
    ordered = sorted(checks, key=lambda c: GRADESCOPE_ORDER.get(c.status, 0))
    if ordered:
        parts.append("**Checks**\n\n" + "\n".join(map(_markdown_check, ordered)))
    return "\n\n".join(p for p in parts if p)


def gradescope_results(report: Report) -> dict:
    """Gradescope's results.json: one test per rubric category, whose scores add up to `score`.

    Each test's score is rounded to 2 decimals; the rounding remainder goes on the last test, so
    Gradescope's sum of the tests equals the report's score exactly (to the cent)."""
    total = round(report.score, 2)
    tests = [{"name": cat.name, "score": round(cat.score, 2), "max_score": round(cat.max_score, 2),
              "output": _markdown_category(cat, [c for c in report.checks if c.category == cat.name]),
              "output_format": "md", "visibility": "visible"} for cat in report.categories]
    if tests:
        tests[-1]["score"] = round(tests[-1]["score"] + total - sum(t["score"] for t in tests), 2)
    notes = [f"**Not graded:** {p}" for p in report.problems] + [f"Note: {w}" for w in report.warnings]
    output = f"**{total:g} / {report.max_score:g}** for {report.assignment or 'this submission'}" + \
        (f" ({report.option})" if report.option else "") + "".join(f"\n\n{n}" for n in notes)
    return {"score": total, "execution_time": round(report.duration_s), "output": output, "output_format": "md",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"grader_version": report.grader_version, "schema_version": report.schema_version}}


def write_gradebook(reports: list[dict], path: Path) -> None:
    """One row per student and assignment (from report.json contents): category columns, total, status.

    Written atomically: a reader (or a run stopped half-way) never sees a half-written gradebook."""
    categories = list(dict.fromkeys(c["name"] for r in reports for c in r["categories"]))
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(["student", "assignment", "option", *categories, "total", "max_score", "status"])
    for r in sorted(reports, key=lambda r: (r["student"], r["assignment"] or "", r["option"] or "")):
        scores = {c["name"]: c["score"] for c in r["categories"]}
        writer.writerow([r["student"], r["assignment"] or "", r["option"] or "",
                         *(f"{scores[c]:g}" if c in scores else "" for c in categories),
                         f"{r['score']:g}", f"{r['max_score']:g}", gradebook_status(r)])
    write_text_atomic(path, stream.getvalue())


def gradebook_status(report: dict) -> str:
    """A report's (report.json contents) status in the gradebooks: problem, review, provisional or final."""
    if report["problems"]:
        return "problem"
    if any(c["status"] == "review" for c in report["checks"]):
        return "review"
    return "provisional" if any(c["provisional"] for c in report["categories"]) else "final"
