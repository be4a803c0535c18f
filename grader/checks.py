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


def hold_for_review(message: str) -> None:
    """End the check as `needs review`: it could not be graded automatically, so its points are held
    for the course staff (never given, never taken). Say why and what the student can do."""
    pytest.skip(REVIEW + message)
