"""The tensor comparison helper: the largest difference, where it is and both values (binding is in test_bind.py)."""

import torch

from grader.compare import compare_tensors


def test_equal_tensors_compare_ok():
    assert compare_tensors(torch.arange(6.0), torch.arange(6.0)).ok


def test_comparison_names_the_worst_element_and_both_values():
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[1, 2] = 0.5
    result = compare_tensors(actual, expected)
    assert not result.ok
    assert (result.worst_index, result.actual_value, result.expected_value, result.max_abs) == ((1, 2), 0.5, 0.0, 0.5)
    assert "[1, 2]" in result.describe()


def test_differences_within_tolerance_pass():
    assert compare_tensors(torch.ones(3) + 5e-6, torch.ones(3), atol=1e-5).ok


def test_shape_mismatch_is_reported():
    result = compare_tensors(torch.zeros(2, 3), torch.zeros(3, 2))
    assert not result.ok and "(2, 3)" in result.describe() and "(3, 2)" in result.describe()


def test_nan_in_the_output_fails():
    assert not compare_tensors(torch.tensor([float("nan")]), torch.tensor([0.0])).ok


def test_nan_where_the_reference_has_nan_agrees():
    nan = float("nan")
    assert compare_tensors(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0])).ok
