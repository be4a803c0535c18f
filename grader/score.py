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
class CategoryScore:
    name: str
    score: float
    max_score: float
    provisional: bool = False
    note: str = ""


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


def score(rubric: Rubric, checks: list[CheckResult]) -> Scored:
    """Category scores and per-check points; checks no rubric item names are informational (0 points)."""
    taken: set[str] = set()
    awarded: dict[str, tuple[float, float]] = {}
    category_of: dict[str, str] = {}
    categories = []
    for category in rubric.categories:
        total, provisional, notes = 0.0, False, []
        for item in category.items:
            if item.kind == "manual":
                provisional = True
                notes.append(f"{item.title}: awaits review")
                continue
            if item.kind == "exercises":
                points, note = _score_exercises(item, checks, taken)
                notes.append(note)
            else:
                mine = _matching(item.checks, checks, taken)
                taken.update(c.id for c in mine)
                points = _share(mine, item.points)
            awarded.update(points)
            category_of.update({cid: category.name for cid in points})
            total += sum(p for p, _ in points.values())
        categories.append(CategoryScore(category.name, round(total, 2), category.points, provisional, "; ".join(notes)))
    results = tuple(
        replace(c, category=category_of.get(c.id), points=round(awarded.get(c.id, (0.0, 0.0))[0], 3),
                max_points=round(awarded.get(c.id, (0.0, 0.0))[1], 3))
        for c in checks
    )
    return Scored(tuple(categories), results)
