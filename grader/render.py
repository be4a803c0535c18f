"""Render reports: Markdown and HTML from the Jinja templates in grader/templates/, the gradebook
CSV and a Gradescope-style results.json."""

import base64
import binascii
import csv
import io
import math
import re
import textwrap
from pathlib import Path

import jinja2

from grader.report import write_text_atomic
from grader.results import CategoryScore, CheckResult, ItemScore, NotebookFigure, Plot, Report

COMMENT_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
MESSAGE_LIMIT = 1_500
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
# Series are told apart without colour too: each has its own dash pattern, marker and width, and the
# later (thinner, dashed) ones are drawn over the earlier, so identical series stay visible.
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2")
WIDTHS = (3.5, 2.0, 1.75, 1.5, 1.5)
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
CHART_W, CHART_H = 480, 300
LEFT, RIGHT, TOP, BOTTOM = 62, 16, 18, 46  # margins around the plotting area: tick labels, axis titles
LEGEND_ROW = 16
MATRIX_CELL, MATRIX_LEFT = 22, 70  # heat map: a square per weight, row labels on the left
MAX_MARKERS = 12  # per series; long runs get evenly spaced markers, not one per point
MAX_FIGURES = 12  # the notebook's own images shown on the page
MAX_FIGURE_BYTES = 1_500_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _clip(text: str, n: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= n else text[:n] + f"\n… ({len(text) - n} characters cut)"


def _axis_labels(plot: Plot) -> tuple[str, str]:
    """The plot's own axis titles, else ones read from its title: "loss at each step" -> step, loss."""
    found = re.search(r"\b(?:each|per|every)\s+([a-z]+)", plot.title.lower())
    x_label = plot.x_label if plot.x_label is not None else (found.group(1) if found else "step")
    y_label = plot.y_label if plot.y_label is not None else ("loss" if "loss" in plot.title.lower() else "value")
    return x_label, y_label


def _marker(shape: str, x: float, y: float, r: float = 4.0) -> str:
    """SVG path data for one marker centred on (x, y)."""
    if shape == "circle":
        return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0Z"
    if shape == "square":
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}Z"
    if shape == "triangle":
        return f"M{x:.1f},{y - r - 1:.1f}l{r + 1},{2 * r + 1}h{-2 * r - 2}Z"
    if shape == "diamond":
        return f"M{x:.1f},{y - r - 1:.1f}l{r + 1},{r + 1}l{-r - 1},{r + 1}l{-r - 1},{-r - 1}Z"
    return f"M{x - r:.1f},{y - r:.1f}l{2 * r},{2 * r}M{x + r:.1f},{y - r:.1f}l{-2 * r},{2 * r}"


def _tick(value: float) -> str:
    return f"{value:.3g}"


def line_chart(plot: Plot) -> dict:
    """SVG geometry for a line chart: per series its segments (broken at NaN/inf), markers, dash
    pattern and legend entry; a shared y range; axis ticks and titles. The drawing is sized by its
    viewBox, so the page scales it to the screen."""
    series = list(plot.series.items())
    legend_h = LEGEND_ROW * len(series) + 6 if series else 0
    top = TOP + legend_h
    inner_w, inner_h = CHART_W - LEFT - RIGHT, CHART_H - top - BOTTOM
    values = [v for _, vals in series for v in vals if math.isfinite(v)] or [0.0]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    if high == low:  # a flat line sits mid-height, with a range around it
        low, high = low - span / 2, high + span / 2
        span = high - low
    longest = max((len(vals) for _, vals in series), default=1)
    x_step = inner_w / max(longest - 1, 1)

    def x_of(i: int) -> float:
        return LEFT + (i * x_step if longest > 1 else inner_w / 2)

    def y_of(v: float) -> float:
        return top + inner_h - (v - low) / span * inner_h

    lines = []
    for n, (label, vals) in enumerate(series):
        style = n % len(COLORS)
        segments, current = [], []
        for i, v in enumerate(vals):
            if math.isfinite(v):
                current.append(f"{x_of(i):.1f},{y_of(v):.1f}")
            elif current:
                segments.append(" ".join(current))
                current = []
        if current:
            segments.append(" ".join(current))
        every = max(1, math.ceil(len(vals) / MAX_MARKERS))
        marked = [i for i in range(0, len(vals), every)] + ([len(vals) - 1] if (len(vals) - 1) % every else [])
        shape = MARKERS[style]
        size = 5.5 if n == 0 else 4.0  # the first (drawn under the rest) larger, so it shows round the others
        markers = " ".join(_marker(shape, x_of(i), y_of(vals[i]), size) for i in marked if math.isfinite(vals[i]))
        legend_y = TOP + n * LEGEND_ROW + 4
        lines.append({
            "label": label, "segments": segments, "color": COLORS[style], "dash": DASHES[style],
            "width": WIDTHS[style], "markers": markers, "filled": shape != "cross",
            "legend_y": legend_y, "legend_marker": _marker(shape, LEFT + 15, legend_y),
        })
    mid = (low + high) / 2
    y_ticks = [{"y": round(y_of(v), 1), "text": _tick(v)} for v in (high, mid, low)]
    x_ticks = [{"x": round(x_of(i), 1), "text": str(i + 1)} for i in sorted({0, (longest - 1) // 2, longest - 1})]
    x_label, y_label = _axis_labels(plot)
    return {"lines": lines, "low": low, "high": high, "width": CHART_W, "height": CHART_H,
            "left": LEFT, "right": CHART_W - RIGHT, "top": top, "bottom": top + inner_h,
            "y_ticks": y_ticks, "x_ticks": x_ticks, "x_label": x_label, "y_label": y_label,
            "middle_x": LEFT + inner_w / 2, "middle_y": top + inner_h / 2}


def matrix_chart(plot: Plot) -> dict:
    """SVG geometry for a heat map: one square per value, row labels on the left, optional axis titles."""
    n = len(plot.matrix)
    top = 18 if plot.x_label else 0
    left = MATRIX_LEFT + (18 if plot.y_label else 0)
    return {"size": MATRIX_CELL, "left": left, "top": top, "width": left + n * MATRIX_CELL + 4,
            "height": top + n * MATRIX_CELL + 4, "x_label": plot.x_label, "y_label": plot.y_label}


def notebook_figures(notebook) -> tuple[NotebookFigure, ...]:
    """The PNG images the notebook saved in its code cells' outputs (in order, at most MAX_FIGURES,
    each at most MAX_FIGURE_BYTES); ones left out are listed with a note instead of their data."""
    if notebook is None:
        return ()
    shown, figures, left_out = 0, [], []
    for index, cell in enumerate(notebook.get("cells", ())):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", ()) or ():
            data = (output.get("data") or {}).get("image/png") if isinstance(output, dict) else None
            if not data:
                continue
            text = "".join(data) if isinstance(data, list) else str(data)
            try:
                raw = base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError):
                figures.append(NotebookFigure(index, note="an image/png output that is not valid base64"))
                continue
            if not raw.startswith(PNG_MAGIC):
                figures.append(NotebookFigure(index, note="an image/png output that is not a PNG image"))
            elif len(raw) > MAX_FIGURE_BYTES:
                figures.append(NotebookFigure(
                    index, note=f"an image of {len(raw) / 1e6:.1f} MB, not shown "
                                f"(the page shows images up to {MAX_FIGURE_BYTES / 1e6:g} MB)"))
            elif shown >= MAX_FIGURES:
                left_out.append(index)
            else:
                figures.append(NotebookFigure(index, base64.b64encode(raw).decode("ascii")))
                shown += 1
    if left_out:
        cells = ", ".join(str(i + 1) for i in dict.fromkeys(left_out))
        figures.append(NotebookFigure(left_out[0], note=f"{len(left_out)} more image(s) in cell(s) {cells} not shown "
                                                        f"(the page shows the first {MAX_FIGURES})"))
    return tuple(figures)


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
    env.globals["matrix_chart"] = matrix_chart
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
    return (f"- {item.title}: {item.score:g} / {item.max_score:g}"
            + (f" — {item.evidence}" if item.evidence else "") + label)


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


def write_gradebook(reports: list[Report], path: Path) -> None:
    """One row per student and assignment: category columns, total, status.

    Written atomically: a reader (or a run stopped half-way) never sees a half-written gradebook."""
    categories = list(dict.fromkeys(c.name for r in reports for c in r.categories))
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(["student", "assignment", "option", *categories, "total", "max_score", "status"])
    for r in sorted(reports, key=lambda r: (r.student, r.assignment or "", r.option or "")):
        scores = {c.name: c.score for c in r.categories}
        writer.writerow([r.student, r.assignment or "", r.option or "",
                         *(f"{scores[c]:g}" if c in scores else "" for c in categories),
                         f"{r.score:g}", f"{r.max_score:g}", gradebook_status(r)])
    write_text_atomic(path, stream.getvalue())


def gradebook_status(report: Report) -> str:
    """A report's status in the gradebooks: problem, review, provisional or final."""
    if report.problems:
        return "problem"
    if report.review_checks():
        return "review"
    return "provisional" if any(c.provisional for c in report.categories) else "final"
