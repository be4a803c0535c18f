"""Assertion helpers for check authors: failures read as feedback, not as pytest internals."""

import pytest

from grader.compare import compare_tensors

REVIEW = "needs review: "  # a skip with this prefix is held for the course staff (status "review")


def expect(condition: bool, message: str) -> None:
    """Fail the check with `message` (what was expected, what came out, where to look) unless condition holds."""
    if not condition:
        pytest.fail(message, pytrace=False)


def expect_close(actual, expected, *, what: str, hint: str = "", against: str = "the reference",
                 atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Fail with the largest difference, where it is and both values, unless the tensors agree."""
    result = compare_tensors(actual, expected, atol=atol, rtol=rtol)
    expect(result.ok, result.describe(what, against) + (f". {hint}" if hint else ""))


def degenerate(output, *, inputs=None) -> str | None:
    """Why an output cannot come from a working component, or None: it is constant (zeros included), not
    finite, or the input handed back unchanged. Property checks call this, so a stub earns nothing."""
    import torch

    if not isinstance(output, torch.Tensor):
        return f"it returned a {type(output).__name__}, not a tensor"
    if output.numel() > 1 and output.is_floating_point() and bool((output == output.reshape(-1)[0]).all()):
        return f"every element of the output is {float(output.reshape(-1)[0]):g}: it does not depend on the input"
    if output.is_floating_point() and not bool(torch.isfinite(output).all()):
        return "the output holds NaN or infinite values"
    if inputs is not None and isinstance(inputs, torch.Tensor) and output.shape == inputs.shape \
            and torch.equal(output, inputs):
        return "the output is the input, unchanged"
    return None


def expect_working(output, *, what: str, inputs=None) -> None:
    """Fail unless `output` could come from a working component (see degenerate)."""
    problem = degenerate(output, inputs=inputs)
    expect(problem is None, f"{what}: {problem}")


def hold_for_review(message: str) -> None:
    """End the check as `needs review`: it could not be graded automatically, so its points are held
    for the course staff (never given, never taken). Say why and what the student can do."""
    pytest.skip(REVIEW + message)
