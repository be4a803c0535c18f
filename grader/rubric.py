"""Rubrics: one TOML file in each assignment's folder (`rubric.toml`, grader.assignments), read into frozen
dataclasses.

A rubric has categories; a category has items; an item names the checks that feed it by
fnmatch patterns over check ids (`test_file.py::test_name`, relative to the assignment's
suite folder). Item kinds:

- `checks`: points shared by its checks by pass rate (skips don't count; all skipped gives 0,
  unless `optional = true`: then the item does not apply, and the category's other items
  share its points in proportion to theirs). Checks held for review count, with 0 points
  given: their share is "held".
- `exercises`: course exercises; each is attempted when one of its checks ran (was not
  skipped); the item awards full credit per attempted exercise up to `required`, whatever
  the checks found (whether they work is Correctness: an optional `checks` item there names
  the same checks). This kind does not take its checks from other items.
- `signal`: a measured share in [0, 1] of its points (grader.evidence): `signal` names it
  (runs_clean, execution_order, lint, docstrings, cell_size, plots, training_evidence);
  `minimum` is the plot count that earns full points.
- `readme`: the README's answer to a question, found by key `terms` (`a|b` lists
  spellings), full points at `min_terms`; provisional, for a person to confirm.
- `manual`: scored by a person; provisional, 0 until an override sets it.

Top-level `components` lists the required components' book names (for docstring checks);
`informational` the patterns of checks that feed no item on purpose (tests/test_consistency.py
holds every other check to exactly one item: the first whose patterns match it takes it).
A category with `shared = "code_quality"` takes its items from student_tests/shared_rubric/code_quality.toml,
items kept once for every assignment.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.assignments import ManifestError, find, package_root

ITEM_KINDS = ("checks", "exercises", "signal", "readme", "manual")
SIGNALS = ("runs_clean", "execution_order", "lint", "docstrings", "cell_size", "plots", "training_evidence")


@dataclass(frozen=True)
class Exercise:
    name: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: float
    kind: str = "checks"
    checks: tuple[str, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    required: int = 0
    signal: str = ""
    minimum: int = 1
    terms: tuple[str, ...] = ()
    min_terms: int = 1
    optional: bool = False  # checks item only: when none of its checks ran, its points go to the others


@dataclass(frozen=True)
class Category:
    name: str
    points: float
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Rubric:
    assignment: str
    title: str
    categories: tuple[Category, ...]
    components: tuple[str, ...] = ()
    informational: tuple[str, ...] = ()  # patterns of checks that earn no points (what the saved outputs show)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.categories)


class RubricError(ValueError):
    """A rubric file that does not follow the format above."""


def _only(table: dict, allowed: set[str], where: str) -> dict:
    unknown = set(table) - allowed
    if unknown:
        raise RubricError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return table


def _item(table: dict, where: str) -> Item:
    _only(table, {"id", "title", "points", "kind", "checks", "exercises", "required", "signal", "minimum",
                  "terms", "min_terms", "optional"}, where)
    kind = table.get("kind", "checks")
    if kind not in ITEM_KINDS:
        raise RubricError(f"{where}: kind {kind!r} is not one of {ITEM_KINDS}")
    if kind == "signal" and table.get("signal") not in SIGNALS:
        raise RubricError(f"{where}: signal {table.get('signal')!r} is not one of {SIGNALS}")
    exercises = tuple(Exercise(name, tuple(patterns)) for name, patterns in table.get("exercises", {}).items())
    return Item(table["id"], table.get("title", table["id"]), float(table["points"]), kind,
                tuple(table.get("checks", ())), exercises, int(table.get("required", 0)), table.get("signal", ""),
                int(table.get("minimum", 1)), tuple(table.get("terms", ())), int(table.get("min_terms", 1)),
                bool(table.get("optional", False)))


def _category(table: dict, where: str) -> Category:
    _only(table, {"name", "points", "items", "shared"}, where)
    if "shared" in table:  # items kept once for every assignment, e.g. shared = "code_quality"
        path = shared_rubric_dir() / f"{table['shared']}.toml"
        if not path.exists():
            raise RubricError(f"{where}: shared items {path.name} do not exist")
        table = {**table,
                 "items": _only(tomllib.loads(path.read_text(encoding="utf-8")), {"items"}, path.name)["items"]}
    items = tuple(_item(t, f"{where} item {i}") for i, t in enumerate(table.get("items", [])))
    total = sum(item.points for item in items)
    if abs(total - float(table["points"])) > 1e-9:
        raise RubricError(f"{where}: items add up to {total} points, the category has {table['points']}")
    return Category(table["name"], float(table["points"]), items)


def parse_rubric(text: str, source: str = "rubric", assignment: str = "") -> Rubric:
    """A Rubric from TOML text; unknown keys and inconsistent points are errors. The assignment's id comes from
    its manifest (`assignment`), or from the text's own `assignment` key."""
    data = _only(tomllib.loads(text), {"assignment", "title", "categories", "components", "informational"}, source)
    assignment = assignment or data.get("assignment", "")
    categories = tuple(_category(t, f"{source} category {t.get('name', i)}") for i, t in enumerate(data["categories"]))
    return Rubric(assignment, data.get("title", assignment), categories,
                  tuple(data.get("components", ())), tuple(data.get("informational", ())))


def shared_rubric_dir() -> Path:
    """Where the items every assignment shares live (student_tests/shared_rubric)."""
    return package_root() / "shared_rubric"


def load_rubric(assignment: str, option: str | None = None) -> Rubric:
    """The rubric in the assignment's folder (an option has its own)."""
    try:
        entry = find(assignment, option)
    except ManifestError as err:
        raise RubricError(str(err)) from None
    return parse_rubric(entry.rubric.read_text(encoding="utf-8"), source=str(entry.rubric), assignment=assignment)


OVERRIDE_KEYS = {"student", "assignment", "option", "category", "points", "reason"}


def load_overrides(path: Path) -> tuple[tuple, ...]:
    """Instructor overrides from TOML: `[[override]]` tables with student, assignment, (option),
    category, points and a reason; returned as (assignment, option, student, category, points, reason)."""
    data = _only(tomllib.loads(Path(path).read_text(encoding="utf-8")), {"override"}, str(path))
    rows = []
    for i, row in enumerate(data.get("override", [])):
        where = f"{path} override {i + 1}"
        _only(row, OVERRIDE_KEYS, where)
        missing = OVERRIDE_KEYS - {"option"} - set(row)
        if missing:
            raise RubricError(f"{where}: missing {sorted(missing)} (every override needs a reason)")
        rows.append((row["assignment"], row.get("option"), row["student"], row["category"],
                     float(row["points"]), row["reason"]))
    return tuple(rows)
