"""Scoring: a pure function of a rubric and the outcomes of its checks."""

import fnmatch
from dataclasses import replace

from grader.results import CategoryScore, CheckResult, ItemScore, Override, Scored
from grader.rubric import Item, Rubric

STATUSES = ("pass", "fail", "error", "skip", "review")  # review: held for the course staff


def _matching(item_patterns, checks, taken):
    return [c for c in checks if c.id not in taken and any(fnmatch.fnmatchcase(c.id, p) for p in item_patterns)]


def _share(checks, points):
    """Points split evenly over the checks that ran (held ones included); each passing check earns its share."""
    ran = [c for c in checks if c.status != "skip"]
    each = points / len(ran) if ran else 0.0
    return {c.id: (each if c.status == "pass" else 0.0, each) for c in ran}


def _held(checks, points: dict) -> float:
    return round(sum(points[c.id][1] for c in checks if c.status == "review" and c.id in points), 2)


def _ran_note(mine) -> str:
    ran = [c for c in mine if c.status != "skip"]
    if not ran:
        return "no check ran"
    held = sum(c.status == "review" for c in ran)
    return f"{sum(c.status == 'pass' for c in ran)} of {len(ran)} checks passed" + \
        (f", {held} held for review" if held else "")


def _score_exercises(item: Item, checks):
    """(credit per attempted exercise (a check of it ran) up to `required`, points held, note). Exercises without
    an automatic check may have been attempted too: while the count is short, what they could add is held for the
    course staff, never silently withheld. Takes no checks."""
    attempted = []
    for exercise in item.exercises:
        mine = [c for c in checks if any(fnmatch.fnmatchcase(c.id, p) for p in exercise.checks)]
        if any(c.status != "skip" for c in mine):
            attempted.append(exercise.name)
    unchecked = [exercise.name for exercise in item.exercises if not exercise.checks]
    required = max(item.required, 1)
    counted = min(len(attempted), required)
    score = item.points * counted / required
    held = item.points * (min(counted + len(unchecked), required) - counted) / required
    note = f"exercises attempted: {', '.join(attempted) or 'none'} ({len(attempted)} of {item.required} required)"
    if held:
        note += f"; {' and '.join(unchecked)} {'has' if len(unchecked) == 1 else 'have'} no automatic check: a " \
                f"person confirms an attempt ({held:g} points held)"
    return round(score, 2), round(held, 2), note


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
        total, held, note = _score_exercises(item, checks)
        return ItemScore(item.id, item.title, total, item.points, note, held > 0, held), {}
    mine = _matching(item.checks, checks, taken)
    taken.update(c.id for c in mine)
    if item.optional and all(c.status == "skip" for c in mine):
        return ItemScore(item.id, item.title, 0.0, 0.0, "does not apply: none of its checks ran (" +
                         ("; ".join(dict.fromkeys(c.message.split(":")[0] for c in mine if c.message))[:200] or
                          "nothing to check") + "); its points go to the category's other items"), {}
    points = _share(mine, item.points)
    note = _ran_note(mine)
    total = round(sum(p for p, _ in points.values()), 2)
    held = _held(checks, points)
    return ItemScore(item.id, item.title, total, item.points, note, held > 0, held), points


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
        items, category_points = [], {}
        for item in category.items:
            item_score, points = _item_score(item, checks, taken, signals or {})
            items.append(item_score)
            category_points.update(points)
        items, category_points = _redistribute(category.points, items, category_points)
        awarded.update(category_points)
        category_of.update({cid: category.name for cid in category_points})
        categories.append(_category_score(category, tuple(items), by_name.get(category.name)))
    results = tuple(
        replace(c, category=category_of.get(c.id), points=round(awarded.get(c.id, (0.0, 0.0))[0], 3),
                max_points=round(awarded.get(c.id, (0.0, 0.0))[1], 3))
        for c in checks
    )
    return Scored(tuple(categories), results)


def _redistribute(total: float, items: list[ItemScore], points: dict):
    """Items that do not apply (max 0) leave their points to the others, in proportion to theirs."""
    applying = sum(i.max_score for i in items)
    if applying <= 0 or abs(applying - total) < 1e-9:
        return items, points
    factor = total / applying
    scaled = [replace(i, score=round(i.score * factor, 2), max_score=round(i.max_score * factor, 2),
                      held=round(i.held * factor, 2)) for i in items]
    # Rounding each item may leave the maxima a cent off the category's points (40.01 of 40): the
    # largest item absorbs the drift, and keeps its full score when it had one.
    drift = round(total - sum(i.max_score for i in scaled), 2)
    if drift:
        k = max(range(len(scaled)), key=lambda j: scaled[j].max_score)
        full = abs(items[k].score - items[k].max_score) < 1e-9
        scaled[k] = replace(scaled[k], max_score=round(scaled[k].max_score + drift, 2),
                            score=round(scaled[k].score + drift, 2) if full else scaled[k].score)
    return scaled, {cid: (p * factor, m * factor) for cid, (p, m) in points.items()}


def _category_score(category, items: tuple[ItemScore, ...], override: Override | None) -> CategoryScore:
    total = round(sum(i.score for i in items), 2)
    provisional = any(i.provisional for i in items)
    held = round(sum(i.held for i in items), 2)
    notes = (["from README key terms and saved outputs; the course staff confirm"] if
             any(i.provisional and not i.held for i in items) else [])
    notes += [f"{held:g} points held for review"] if held else []
    note = "; ".join(notes)
    if override is None:
        return CategoryScore(category.name, total, category.points, provisional, note, items)
    points = min(max(override.points, 0.0), category.points)
    return CategoryScore(category.name, points, category.points, False,
                         f"set by instructor ({override.reason}); automatic score was {total:g}", items)
