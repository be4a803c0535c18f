"""What a submission's failed checks come to, in words: the note beside its total in the pull-request comment.

Works on checks as CheckResult objects or as the dicts of report.json. A check's points lost are
max_points - points; a check with max_points 0 is *unscored* (it costs nothing but points at a problem),
and one held for review ("review") has its points held, neither given nor lost. The Markdown report
(grader/templates/report.md.j2) words its total line the same way.
"""

from collections.abc import Iterable, Mapping
from typing import Any

FAILED = ("fail", "error")


def _get(check: Any, name: str, default: Any = None) -> Any:
    return check.get(name, default) if isinstance(check, Mapping) else getattr(check, name, default)


def is_unscored(check: Any) -> bool:
    return not _get(check, "max_points", 0)


def points_lost(check: Any) -> float:
    return max(0.0, float(_get(check, "max_points", 0) or 0) - float(_get(check, "points", 0) or 0))


def _count(n: int, what: str) -> str:
    return f"{n} {what.replace('check', 'checks') if n != 1 else what}"


def to_look_at(checks: Iterable[Any]) -> str:
    """'2 checks to fix · 1 unscored check to look at · 1 held for review'; '' when nothing needs looking at."""
    checks = list(checks)
    failed = [c for c in checks if _get(c, "status") in FAILED]
    scored = sum(not is_unscored(c) for c in failed)
    unscored = len(failed) - scored
    held = sum(_get(c, "status") == "review" for c in checks)
    parts = [_count(scored, "check to fix") if scored else "",
             _count(unscored, "unscored check to look at") if unscored else "",
             f"{held} held for review" if held else ""]
    return " · ".join(p for p in parts if p)
