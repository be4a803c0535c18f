"""Compare tensors with tolerances: the largest difference, where it is, and both values there.

(Moving the book's weights into a student's module is grader/bind.py's work.)
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Comparison:
    """How far `actual` is from `expected`; `ok` when every element is within tolerance."""

    ok: bool
    max_abs: float
    max_rel: float
    worst_index: tuple[int, ...]
    actual_value: float | None
    expected_value: float | None
    shape_problem: str | None = None

    def describe(self, what: str = "output", against: str = "the reference") -> str:
        if self.shape_problem:
            return f"{what}: {self.shape_problem}"
        return (f"{what} differs from {against} by up to {self.max_abs:.3g} (relative {self.max_rel:.3g}); "
                f"worst at index {list(self.worst_index)}: got {self.actual_value:.6g}, "
                f"expected {self.expected_value:.6g}")


def compare_tensors(actual, expected, *, atol: float = 1e-5, rtol: float = 1e-4) -> Comparison:
    """Element-wise comparison in float64 reporting the largest difference and where it is."""
    actual = torch.as_tensor(actual).detach().cpu()
    expected = torch.as_tensor(expected).detach().cpu()
    if actual.shape != expected.shape:
        problem = f"shape {tuple(actual.shape)} where {tuple(expected.shape)} was expected"
        return Comparison(False, float("inf"), float("inf"), (), None, None, problem)
    if actual.numel() == 0:
        return Comparison(True, 0.0, 0.0, (), None, None)
    a, e = actual.double(), expected.double()
    diff = (a - e).abs()
    diff = torch.where(torch.isnan(a) & torch.isnan(e), torch.zeros_like(diff), diff)
    diff = torch.nan_to_num(diff, nan=float("inf"))
    excess = diff - (atol + rtol * torch.nan_to_num(e.abs(), nan=0.0))
    flat = int(torch.argmax(excess))
    worst = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape))
    rel = diff / e.abs().clamp_min(1e-12)
    return Comparison(
        ok=bool((excess <= 0).all()),
        max_abs=float(diff.max()),
        max_rel=float(rel.max()),
        worst_index=worst,
        actual_value=float(a[worst]),
        expected_value=float(e[worst]),
    )
