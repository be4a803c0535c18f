"""Tests of reference/appendix_e.py: LoRALayer, LinearWithLoRA, replacing, freezing, training and merging.

Run: python -m pytest tests/test_appendix_e.py -q
"""

import copy
import math

import pytest
import torch
from torch import nn

from reference.appendix_e import (
    LinearWithLoRA,
    LoRALayer,
    count_trainable_parameters,
    freeze_all,
    merge_lora,
    replace_linear_with_lora,
)
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from reference.ch06 import replace_head_for_classification


@pytest.fixture
def tiny_gpt(tiny_cfg) -> GPTModel:
    return GPTModel(tiny_cfg).eval()


@pytest.fixture
def one_thread():
    """Train on one CPU thread: fast on a busy machine, and repeatable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


# ---------------------------------------------------------------- book fact

def test_lora_rank_16_on_frozen_gpt2_classifier_trains_2_666_528_parameters():
    """Book: GPT-2 124M with a 2-class head, all frozen, then rank 16 / alpha 16 LoRA -> 2,666,528 trainable.

    Per block 4 x 16 x (768 + 768) + 2 x 16 x (768 + 3072); 12 blocks plus 16 x (768 + 2) for the head.
    Built on the meta device, so no memory is allocated.
    """
    with torch.device("meta"):
        model = replace_head_for_classification(GPTModel({**GPT_CONFIG_124M, "qkv_bias": True}), 2, 768)
        freeze_all(model)
        assert count_trainable_parameters(model) == 0
        replace_linear_with_lora(model, rank=16, alpha=16)
    assert count_trainable_parameters(model) == 12 * (4 * 16 * 1536 + 2 * 16 * 3840) + 16 * 770 == 2_666_528


# ---------------------------------------------------------------- LoRALayer

def test_lora_layer_shapes_and_initialisation():
    """A is (in_dim, rank) from kaiming_uniform_(a=sqrt(5)) (bound 1/sqrt(rank)); B is (rank, out_dim) zeros."""
    torch.manual_seed(123)
    layer = LoRALayer(10, 6, rank=4, alpha=8)
    torch.manual_seed(123)
    expected_a = nn.init.kaiming_uniform_(torch.empty(10, 4), a=math.sqrt(5))
    assert torch.equal(layer.A, expected_a) and layer.A.abs().max() <= 1 / math.sqrt(4)
    assert torch.equal(layer.B, torch.zeros(4, 6))


def test_lora_layer_computes_scaled_low_rank_product():
    """forward(x) = alpha * (x @ A @ B) with the printed book's default scaling."""
    layer = LoRALayer(5, 3, rank=2, alpha=4)
    nn.init.normal_(layer.B)
    x = torch.randn(2, 7, 5)
    torch.testing.assert_close(layer(x), 4 * (x @ layer.A @ layer.B))


def test_the_two_scalings_differ_by_a_factor_of_rank():
    """With alpha != rank and rank > 1, "alpha" outputs are exactly rank times the "alpha/rank" outputs."""
    torch.manual_seed(0)
    by_alpha = LoRALayer(6, 4, rank=4, alpha=2, scaling="alpha")
    torch.manual_seed(0)
    by_ratio = LoRALayer(6, 4, rank=4, alpha=2, scaling="alpha/rank")
    for layer in (by_alpha, by_ratio):
        nn.init.constant_(layer.B, 0.5)
    x = torch.randn(3, 6)
    torch.testing.assert_close(by_alpha(x), 4 * by_ratio(x))
    assert (by_alpha.scale, by_ratio.scale) == (2, 0.5)


def test_unknown_scaling_is_rejected():
    """A scaling other than "alpha" or "alpha/rank" raises ValueError."""
    with pytest.raises(ValueError, match="scaling"):
        LoRALayer(4, 4, rank=2, alpha=2, scaling="rsqrt")


# ---------------------------------------------------------------- wrapping the model

def test_linear_with_lora_adds_the_update_to_the_linear_output():
    """LinearWithLoRA(x) = linear(x) + lora(x), the base layer kept as `.linear`."""
    linear = nn.Linear(5, 3)
    wrapped = LinearWithLoRA(linear, rank=2, alpha=2)
    nn.init.normal_(wrapped.lora.B)
    x = torch.randn(4, 5)
    assert wrapped.linear is linear
    torch.testing.assert_close(wrapped(x), linear(x) + wrapped.lora(x))


def test_replace_reaches_every_nested_linear(tiny_gpt):
    """Every nn.Linear, nested in attention, Sequential feed-forward or the head, gets exactly one wrapper."""
    before = _count(tiny_gpt, nn.Linear)
    replace_linear_with_lora(tiny_gpt, rank=2, alpha=2)
    assert before == 2 * 6 + 1 and _count(tiny_gpt, LinearWithLoRA) == before
    assert all(isinstance(m.linear, nn.Linear) for m in tiny_gpt.modules() if isinstance(m, LinearWithLoRA))
    replace_linear_with_lora(tiny_gpt, rank=2, alpha=2)
    assert _count(tiny_gpt, LinearWithLoRA) == before  # a second call wraps nothing twice


def test_wrapped_model_equals_base_model_at_initialisation(tiny_gpt):
    """B starts at zero, so the LoRA model's logits equal the base model's exactly."""
    base = copy.deepcopy(tiny_gpt)
    replace_linear_with_lora(tiny_gpt, rank=4, alpha=8)
    x = torch.randint(0, 100, (2, 9))
    assert torch.equal(tiny_gpt(x), base(x))


def test_frozen_then_lora_trains_only_a_and_b(tiny_gpt):
    """freeze_all then replace: the trainable parameters are exactly the .lora.A and .lora.B tensors."""
    replace_linear_with_lora(freeze_all(tiny_gpt), rank=2, alpha=2)
    trainable = {n for n, p in tiny_gpt.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith((".lora.A", ".lora.B")) for n in trainable)
    shapes = [(32, 32)] * 8 + [(32, 128), (128, 32)] * 2 + [(32, 100)]  # 2 blocks x (q, k, v, out, ff), head
    assert count_trainable_parameters(tiny_gpt) == sum(2 * (d_in + d_out) for d_in, d_out in shapes)


# ---------------------------------------------------------------- training and merging

def _train_lora(model: GPTModel, steps: int = 5) -> GPTModel:
    """A few AdamW steps of next-token loss on random tokens, only the trainable (LoRA) parameters."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    tokens = torch.randint(0, 100, (4, 10))
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(tokens[:, :-1])
        nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten()).backward()
        optimizer.step()
    return model.eval()


def test_training_changes_only_lora_parameters(tiny_gpt, one_thread):
    """After training, every base weight is bit-identical and every B has moved away from zero."""
    replace_linear_with_lora(freeze_all(tiny_gpt), rank=2, alpha=2)
    before = copy.deepcopy(tiny_gpt.state_dict())
    after = _train_lora(tiny_gpt).state_dict()
    base_names = [name for name in after if ".lora." not in name]
    assert all(torch.equal(after[name], before[name]) for name in base_names)
    assert all(after[name].abs().sum() > 0 for name in after if name.endswith(".lora.B"))


def test_merged_model_equals_unmerged_after_training(tiny_gpt, one_thread):
    """merge_lora folds scale * A @ B into each weight: plain Linear layers, same logits within 1e-5."""
    replace_linear_with_lora(freeze_all(tiny_gpt), rank=4, alpha=8)
    _train_lora(tiny_gpt)
    x = torch.randint(0, 100, (2, 12))
    with torch.no_grad():
        expected = tiny_gpt(x)
        merged = merge_lora(copy.deepcopy(tiny_gpt))
        torch.testing.assert_close(merged(x), expected, atol=1e-5, rtol=0)
    assert _count(merged, LinearWithLoRA) == 0 and _count(merged, nn.Linear) == 13
