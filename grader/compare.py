"""Compare tensors with tolerances, and move one set of weights into differently named modules.

Weight transplant (`map_weights`) pairs the reference's parameters with the student's:

1. by name, when the student used the book's parameter names and shapes;
2. otherwise by shape and order: the reference's parameters are walked in the order the
   book creates them and each takes the next unused student parameter of the same shape,
   of the transposed shape (a raw `nn.Parameter(d_in, d_out)` against `nn.Linear`'s
   `(d_out, d_in)` weight), or, for a run of equally shaped query/key/value weights, one
   fused parameter three times as large (`(3 * d_out, d_in)`, or transposed).

When neither works, `map_weights` says why and the caller falls back to properties that
hold for any correct implementation.
"""

from collections.abc import Mapping, Sequence
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

    def describe(self, what: str = "output") -> str:
        if self.shape_problem:
            return f"{what}: {self.shape_problem}"
        return (f"{what} differs from the reference by up to {self.max_abs:.3g} (relative {self.max_rel:.3g}); "
                f"worst at index {list(self.worst_index)}: got {self.actual_value:.6g}, expected {self.expected_value:.6g}")


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
    excess = diff - (atol + rtol * e.abs())
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


@dataclass(frozen=True)
class WeightMapping:
    """The student's state dict made from the reference's weights, and how it was matched."""

    state_dict: dict[str, torch.Tensor] | None
    method: str  # "names", "shape-and-order" or "none"
    problem: str | None = None


def map_weights(reference: Mapping[str, torch.Tensor], student: Sequence[tuple[str, Sequence[int]]]) -> WeightMapping:
    """Re-key (and re-shape) the reference's parameters for a student module; see the module docstring."""
    shapes = {name: tuple(shape) for name, shape in student}
    if set(shapes) == set(reference) and all(tuple(reference[k].shape) == shapes[k] for k in reference):
        return WeightMapping({name: reference[name].clone() for name in shapes}, "names")
    by_order = _map_by_shape_and_order(list(reference.items()), list(shapes.items()))
    if by_order is not None:
        return WeightMapping(by_order, "shape-and-order")
    ours = ", ".join(f"{k} {tuple(v.shape)}" for k, v in reference.items())
    theirs = ", ".join(f"{k} {v}" for k, v in shapes.items()) or "none"
    return WeightMapping(None, "none", f"could not match your parameters ({theirs}) to the book's ({ours})")


def _map_by_shape_and_order(reference, student):
    """Walk both parameter lists in creation order; None as soon as a pair does not fit."""
    mapped, i = {}, 0
    for student_name, student_shape in student:
        if i >= len(reference):
            return None
        single = _fit(reference[i][1], student_shape)
        if single is not None:
            mapped[student_name], i = single, i + 1
            continue
        triple = reference[i : i + 3]
        if len(triple) < 3 or len({tuple(t.shape) for _, t in triple}) != 1:
            return None
        fused = _fit(torch.cat([t for _, t in triple], dim=0), student_shape)  # (3 * out, ...)
        if fused is None:
            return None
        mapped[student_name], i = fused, i + 3
    return mapped if i == len(reference) else None


def _fit(tensor: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | None:
    """The tensor itself, or its transpose, when it has the wanted shape."""
    if tuple(tensor.shape) == shape:
        return tensor.clone()
    if tensor.dim() == 2 and tuple(tensor.shape)[::-1] == shape:
        return tensor.T.clone()
    return None
