"""Scoring: a pure function of a rubric and the outcomes of its checks."""

import fnmatch
from dataclasses import dataclass, replace

from grader.rubric import Item, Rubric

STATUSES = ("pass", "fail", "error", "skip")


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


def _matching(item_patterns, checks, taken):
    return [c for c in checks if c.id not in taken and any(fnmatch.fnmatchcase(c.id, p) for p in item_patterns)]


def _share(checks, points):
    """Points split evenly over the checks that ran; each passing check earns its share."""
    ran = [c for c in checks if c.status != "skip"]
    each = points / len(ran) if ran else 0.0
    return {c.id: (each if c.status == "pass" else 0.0, each) for c in ran}


def _score_exercises(item: Item, checks, taken):
    """Best `required` exercises by pass rate; returns per-check (points, max) and a note."""
    credits = []
    for exercise in item.exercises:
        mine = _matching(exercise.checks, checks, taken)
        taken.update(c.id for c in mine)
        ran = [c for c in mine if c.status != "skip"]
        if ran:
            credits.append((sum(c.status == "pass" for c in ran) / len(ran), exercise.name, ran))
    credits.sort(key=lambda credit: -credit[0])
    per_exercise = item.points / max(item.required, 1)
    awarded = {}
    for _, _, ran in credits[: item.required]:
        awarded.update(_share(ran, per_exercise))
    names = ", ".join(name for _, name, _ in credits) or "none"
    note = f"exercises attempted: {names} ({len(credits)} of {item.required} required)"
    return awarded, note


def _item_score(item: Item, checks, taken, signals) -> tuple[ItemScore, dict]:
    """(the item's score, per-check (points, max)) for one rubric item."""
    if item.kind == "manual":
        return ItemScore(item.id, item.title, 0.0, item.points, "awaits review", True), {}
    if item.kind in ("signal", "readme"):
        signal = signals.get(item.id)
        if signal is None:
            return ItemScore(item.id, item.title, 0.0, item.points, "not measured", item.kind == "readme"), {}
        return ItemScore(item.id, item.title, round(item.points * signal.value, 2), item.points, signal.evidence,
                         item.kind == "readme"), {}
    if item.kind == "exercises":
        points, note = _score_exercises(item, checks, taken)
    else:
        mine = _matching(item.checks, checks, taken)
        taken.update(c.id for c in mine)
        points = _share(mine, item.points)
        ran = [c for c in mine if c.status != "skip"]
        note = f"{sum(c.status == 'pass' for c in ran)} of {len(ran)} checks passed" if ran else "no check ran"
    total = round(sum(p for p, _ in points.values()), 2)
    return ItemScore(item.id, item.title, total, item.points, note), points


def score(rubric: Rubric, checks: list[CheckResult], signals: dict | None = None,
          overrides: tuple[Override, ...] = ()) -> Scored:
    """Category scores and per-check points; checks no rubric item names are informational (0 points).

    `signals` maps rubric item ids of kind "signal"/"readme" to grader.evidence.Signal;
    `overrides` replace a category's points with an instructor's, reason shown.
    """
    taken: set[str] = set()
    awarded: dict[str, tuple[float, float]] = {}
    category_of: dict[str, str] = {}
    by_name = {o.category: o for o in overrides}
    categories = []
    for category in rubric.categories:
        items = []
        for item in category.items:
            item_score, points = _item_score(item, checks, taken, signals or {})
            items.append(item_score)
            awarded.update(points)
            category_of.update({cid: category.name for cid in points})
        categories.append(_category_score(category, tuple(items), by_name.get(category.name)))
    results = tuple(
        replace(c, category=category_of.get(c.id), points=round(awarded.get(c.id, (0.0, 0.0))[0], 3),
                max_points=round(awarded.get(c.id, (0.0, 0.0))[1], 3))
        for c in checks
    )
    return Scored(tuple(categories), results)


def _category_score(category, items: tuple[ItemScore, ...], override: Override | None) -> CategoryScore:
    total = round(sum(i.score for i in items), 2)
    provisional = any(i.provisional for i in items)
    note = "from README key terms and saved outputs; the course staff confirm" if provisional else ""
    if override is None:
        return CategoryScore(category.name, total, category.points, provisional, note, items)
    points = min(max(override.points, 0.0), category.points)
    return CategoryScore(category.name, points, category.points, False,
                         f"set by instructor ({override.reason}); automatic score was {total:g}", items)
