"""The grader's results in one module: what a check, a cell, a category and a whole submission came to.

Every result is a frozen dataclass. A report is written as report.json (`Report.to_dict`, the JSON contract
in DESIGN.md) and read back only through `report_from_dict` / `read_report` / `read_saved_reports`, so the
CLI, the class view and the CI summary work with these types, never with loose dicts.
"""

import dataclasses
import json
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from grader import __version__

SCHEMA_VERSION = 2  # 2: check status "review", `bindings`, item `held`


@dataclass(frozen=True)
class CheckResult:
    """One check as the report shows it; points are filled in by `score`."""

    id: str
    title: str
    status: str
    message: str = ""
    component: str | None = None
    section: str | None = None
    category: str | None = None
    points: float = 0.0
    max_points: float = 0.0


@dataclass(frozen=True)
class ItemScore:
    """One rubric item's points and the evidence behind them."""

    id: str
    title: str
    score: float
    max_score: float
    evidence: str = ""
    provisional: bool = False
    held: float = 0.0  # points of checks held for review: neither given nor lost until staff decide


@dataclass(frozen=True)
class CategoryScore:
    name: str
    score: float
    max_score: float
    provisional: bool = False
    note: str = ""
    items: tuple[ItemScore, ...] = ()


@dataclass(frozen=True)
class Override:
    """An instructor's points for one category of one submission, with the reason."""

    category: str
    points: float
    reason: str


@dataclass(frozen=True)
class Scored:
    categories: tuple[CategoryScore, ...]
    checks: tuple[CheckResult, ...]

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.categories), 2)


@dataclass(frozen=True)
class CellResult:
    index: int  # position among all the notebook's cells, from 0
    status: str  # "ok" | "error" | "timeout" | "skipped" | "kernel_died"
    seconds: float = 0.0
    error_name: str | None = None
    error_message: str | None = None
    output: str = ""
    reason: str = ""  # why it timed out, died or was skipped, for people
    heavy: bool = False  # the grader kept this cell's heavy work short (grader/probes_kernel/governor.py)


@dataclass(frozen=True)
class Plot:
    """Data for a figure in the HTML report: line series (e.g. losses) or a matrix (attention weights)."""

    title: str
    kind: str  # "lines" or "matrix"
    series: dict = dataclasses.field(default_factory=dict)  # lines: label -> list of y values
    matrix: tuple = ()  # rows of values in [0, 1]
    labels: tuple = ()  # matrix row/column labels
    x_label: str | None = None  # axis titles; None: lines get one from the title ("each step" -> "step", "loss")
    y_label: str | None = None


@dataclass(frozen=True)
class NotebookFigure:
    """One image the notebook itself saved in a code cell's outputs (matplotlib's PNG), for the HTML page.

    `data` is the PNG in base64; empty where the image was left out, and `note` then says why."""

    cell: int  # position among all the notebook's cells, from 0 (as CellResult.index)
    data: str = ""
    note: str = ""


@dataclass(frozen=True)
class BindingRecord:
    """How a component was found and how the book's weights were loaded into it, for the report."""

    component: str
    used_name: str
    found: str
    module: str
    method: str  # found (looked up, no weights bound) | names | roles | searched | none
    candidates: int = 0
    matched: bool | None = None  # a candidate reproduced the reference (None: not run)
    pairs: tuple = ()  # (your parameter, the book's, how)
    notes: tuple = ()
    problem: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything the grader found about one submission; `problems` explain a score of 0."""

    student: str
    assignment: str | None
    option: str | None
    score: float
    max_score: float
    categories: tuple[CategoryScore, ...]
    checks: tuple[CheckResult, ...]
    cells: tuple = ()
    duration_s: float = 0.0
    environment: dict = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    bindings: tuple[BindingRecord, ...] = ()  # how each component was found and its weights loaded
    # The notebook's own saved figures, for report.html only: they stay out of report.json (they are
    # in the notebook already, and would make every gradebook rebuild read megabytes of base64).
    figures: tuple[NotebookFigure, ...] = ()
    # The evidence behind rubric items of kind "signal"/"readme", by item id ({id, value, evidence}),
    # so `grade --rescore` can score again without running the notebook. None: not recorded (older reports).
    signals: dict | None = None
    rescored: bool = False  # scored again (`grade --rescore`) from the checks and signals of an earlier grading
    grader_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["figures"]
        return data

    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in ("fail", "error")]

    def review_checks(self) -> list[CheckResult]:
        """Checks held for the course staff: they could not be graded automatically."""
        return [c for c in self.checks if c.status == "review"]


def known_fields(cls, data: dict) -> dict:
    """The keys of `data` that `cls` takes (a report written by a newer grader may hold more)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def report_from_dict(data: dict) -> Report:
    """A Report back from its report.json (lists become tuples, records their dataclasses); keys a newer grader
    wrote are left out, keys an older one did not write take their defaults."""
    checks = tuple(CheckResult(**known_fields(CheckResult, c)) for c in data.get("checks", ()))
    categories = tuple(CategoryScore(**{**known_fields(CategoryScore, c), "items": tuple(
        ItemScore(**known_fields(ItemScore, i)) for i in c.get("items", ()))}) for c in data.get("categories", ()))
    cells = tuple(CellResult(**known_fields(CellResult, c)) for c in data.get("cells", ()))
    plots = tuple(Plot(**{k: _tuples(v) if k != "series" else v for k, v in known_fields(Plot, p).items()})
                  for p in data.get("plots", ()))
    bindings = tuple(BindingRecord(**{k: _tuples(v) for k, v in known_fields(BindingRecord, b).items()})
                     for b in data.get("bindings", ()))
    rest = {k: _tuples(v) if k in ("problems", "warnings") else v for k, v in known_fields(Report, data).items()
            if k not in ("checks", "cells", "plots", "bindings", "categories")}
    return Report(**{**rest, "categories": categories, "checks": checks, "cells": cells, "plots": plots,
                     "bindings": bindings})


REPORT_KEYS = {"student", "assignment", "option", "score", "max_score", "categories", "checks", "problems"}


def read_report(path: Path) -> Report:
    """The Report saved at `path`; ValueError when it is not a grader's report.json."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not REPORT_KEYS <= data.keys():
        raise ValueError("not a grader report")
    try:
        return report_from_dict(data)
    except (TypeError, AttributeError) as err:
        raise ValueError(f"not a grader report ({err})") from None


def read_saved_reports(out: Path) -> list[tuple[Report, Path]]:
    """(report, folder) for every report.json under out (<out>/<assignment>/<student>/report.json); one that
    cannot be read is skipped with a warning naming it."""
    found = []
    for path in sorted(Path(out).glob("*/*/report.json")):
        try:
            found.append((read_report(path), path.parent))
        except (OSError, ValueError) as err:
            print(f"grade: warning: {path} left out of the gradebook, it cannot be read: {err}", file=sys.stderr)
    return found
