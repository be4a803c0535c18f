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

    def describe(self, what: str = "output", against: str = "the reference") -> str:
        if self.shape_problem:
            return f"{what}: {self.shape_problem}"
        return (f"{what} differs from {against} by up to {self.max_abs:.3g} (relative {self.max_rel:.3g}); "
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
    mapped, i, j = {}, 0, 0
    while j < len(student):
        if i >= len(reference):
            return None
        step = _fit_one(reference, i, student, j) or _fit_fused(reference, i, student, j)
        if step is None:
            return None
        pairs, used_reference = step
        mapped.update(pairs)
        i, j = i + used_reference, j + len(pairs)
    return mapped if i == len(reference) else None


def _fit_one(reference, i, student, j):
    value = _fit(reference[i][1], student[j][1])
    return ({student[j][0]: value}, 1) if value is not None else None


def _same_shapes(tensors) -> bool:
    return len({tuple(t.shape) for t in tensors}) == 1


def _fit_fused(reference, i, student, j):
    """Query/key/value projections fused into one student parameter (and one bias after it)."""
    triple = [t for _, t in reference[i : i + 3]]
    if len(triple) == 3 and _same_shapes(triple):  # weights only: W_q, W_k, W_v
        value = _fit(torch.cat(triple, dim=0), student[j][1])  # (3 * out, ...)
        return ({student[j][0]: value}, 3) if value is not None else None
    six = [t for _, t in reference[i : i + 6]]
    if len(six) < 6 or j + 1 >= len(student) or not (_same_shapes(six[0::2]) and _same_shapes(six[1::2])):
        return None  # with biases: W_q, b_q, W_k, b_k, W_v, b_v
    weight = _fit(torch.cat(six[0::2], dim=0), student[j][1])
    bias = _fit(torch.cat(six[1::2], dim=0), student[j + 1][1])
    if weight is None or bias is None:
        return None
    return {student[j][0]: weight, student[j + 1][0]: bias}, 6


def _fit(tensor: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | None:
    """The tensor itself, or its transpose, when it has the wanted shape."""
    if tuple(tensor.shape) == shape:
        return tensor.clone()
    if tensor.dim() == 2 and tuple(tensor.shape)[::-1] == shape:
        return tensor.T.clone()
    return None
