"""Render reports: Markdown and HTML from the Jinja templates in grader/templates/, the gradebook
CSV and a Gradescope-style results.json."""

import csv
import io
from pathlib import Path

import jinja2

from grader.report import Plot, Report, write_text_atomic

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


def gradescope_results(report: Report) -> dict:
    """Gradescope's results.json: total score and one entry per check."""
    tests = [{"name": f"{c.component or 'general'}: {c.title}", "score": c.points, "max_score": c.max_points,
              "status": "passed" if c.status == "pass" else "failed",
              "output": f"Held for review by the course staff: {c.message}" if c.status == "review" else c.message}
             for c in report.checks if c.max_points or c.status != "skip"]
    tests += [{"name": f"{cat.name} (provisional)", "score": cat.score, "max_score": cat.max_score,
               "output": cat.note} for cat in report.categories if cat.provisional]
    return {"score": report.score, "output": "; ".join(report.problems), "tests": tests}


def write_gradebook(reports: list[dict], path: Path) -> None:
    """One row per student and assignment (from report.json contents): category columns, total, status.

    Written atomically: a reader (or a run stopped half-way) never sees a half-written gradebook."""
    categories = list(dict.fromkeys(c["name"] for r in reports for c in r["categories"]))
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(["student", "assignment", "option", *categories, "total", "max_score", "status"])
    for r in sorted(reports, key=lambda r: (r["student"], r["assignment"] or "", r["option"] or "")):
        scores = {c["name"]: c["score"] for c in r["categories"]}
        provisional = any(c["provisional"] for c in r["categories"])
        review = any(c["status"] == "review" for c in r["checks"])
        status = "problem" if r["problems"] else "review" if review else "provisional" if provisional else "final"
        writer.writerow([r["student"], r["assignment"] or "", r["option"] or "",
                         *(f"{scores[c]:g}" if c in scores else "" for c in categories),
                         f"{r['score']:g}", f"{r['max_score']:g}", status])
    write_text_atomic(path, stream.getvalue())
