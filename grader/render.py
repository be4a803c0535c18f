"""Render reports with the Jinja templates in grader/templates/."""

import jinja2

from grader.report import Report

COMMENT_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
MESSAGE_LIMIT = 1_500


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("grader", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["clip"] = lambda text, n=MESSAGE_LIMIT: text if len(text) <= n else text[:n] + f"\n… ({len(text) - n} characters cut)"
    env.filters["points"] = lambda value: f"{value:g}"
    return env


def render_markdown(report: Report) -> str:
    """The pull-request comment: totals, categories, failed checks, cell problems."""
    text = _environment().get_template("report.md.j2").render(report=report)
    if len(text) > COMMENT_LIMIT:
        text = text[:COMMENT_LIMIT] + "\n\n… (report cut to fit a GitHub comment; see report.json)\n"
    return text
