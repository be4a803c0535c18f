"""Assertion helpers for check authors: failures read as feedback, not as pytest internals."""

import pytest

from grader.compare import compare_tensors


def expect(condition: bool, message: str) -> None:
    """Fail the check with `message` (what was expected, what came out, where to look) unless condition holds."""
    if not condition:
        pytest.fail(message, pytrace=False)


def expect_close(actual, expected, *, what: str, hint: str = "", against: str = "the reference",
                 atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Fail with the largest difference, where it is and both values, unless the tensors agree."""
    result = compare_tensors(actual, expected, atol=atol, rtol=rtol)
    expect(result.ok, result.describe(what, against) + (f". {hint}" if hint else ""))
