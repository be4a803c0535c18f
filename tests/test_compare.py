"""The tensor comparison helper and the weight transplant between differently built modules."""

import torch
from torch import nn

from grader.compare import compare_tensors, map_weights
from reference.ch03 import MultiHeadAttention, SelfAttention_v1, SelfAttention_v2


def _params(module: nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.named_parameters())


def _shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(p.shape)) for name, p in module.named_parameters()]


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


def test_book_names_map_by_name():
    module = MultiHeadAttention(4, 6, 5, 0.0, num_heads=2)
    mapping = map_weights(_params(module), _shapes(module))
    assert mapping.method == "names"


class _RenamedAttention(nn.Module):
    """SelfAttention_v2 with other names: the transplant must still give the same outputs."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(d_in, d_out, bias=False) for _ in range(3))

    def forward(self, x):
        w = torch.softmax(self.q(x) @ self.k(x).T / self.k.out_features**0.5, dim=-1)
        return w @ self.v(x)


def test_other_names_map_by_shape_and_order_and_reproduce_outputs():
    reference, student = SelfAttention_v2(3, 2), _RenamedAttention(3, 2)
    mapping = map_weights(_params(reference), _shapes(student))
    student.load_state_dict(mapping.state_dict)
    x = torch.rand(5, 3)
    assert mapping.method == "shape-and-order"
    assert torch.allclose(student(x), reference(x))


def test_raw_parameters_map_onto_linear_layers_transposed():
    reference, student = SelfAttention_v1(3, 2), SelfAttention_v2(3, 2)
    mapping = map_weights(_params(reference), _shapes(student))
    student.load_state_dict(mapping.state_dict)
    x = torch.rand(4, 3)
    assert torch.allclose(student(x), reference(x), atol=1e-6)


def test_fused_qkv_takes_the_three_projections_stacked():
    reference = MultiHeadAttention(4, 4, 6, 0.0, num_heads=2)
    weights = {k: v for k, v in _params(reference).items()}
    mapping = map_weights(weights, [("qkv.weight", (12, 4)), ("proj.weight", (4, 4)), ("proj.bias", (4,))])
    expected = torch.cat([reference.W_query.weight, reference.W_key.weight, reference.W_value.weight])
    assert torch.equal(mapping.state_dict["qkv.weight"], expected)


def test_unmatchable_parameters_say_so():
    mapping = map_weights(_params(SelfAttention_v2(3, 2)), [("w", (7, 7))])
    assert mapping.state_dict is None and mapping.method == "none"
    assert "w (7, 7)" in mapping.problem and "W_query.weight (2, 3)" in mapping.problem


def test_fused_qkv_with_biases_takes_weights_and_biases_stacked():
    reference = MultiHeadAttention(4, 6, 5, 0.0, num_heads=2, qkv_bias=True)
    shapes = [("qkv.weight", (18, 4)), ("qkv.bias", (18,)), ("proj.weight", (6, 6)), ("proj.bias", (6,))]
    mapping = map_weights(_params(reference), shapes)
    expected = torch.cat([reference.W_query.bias, reference.W_key.bias, reference.W_value.bias])
    assert mapping.method == "shape-and-order" and torch.equal(mapping.state_dict["qkv.bias"], expected)


def test_nan_where_the_reference_has_nan_agrees():
    nan = float("nan")
    assert compare_tensors(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0])).ok
