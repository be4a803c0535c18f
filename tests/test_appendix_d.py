"""Appendix D reference (course exercise 5.1): warmup, cosine decay and gradient clipping.

The schedule is checked as a pure function (`lr_at_step`) and through `train_model` with an
SGD that records each step's learning rates and gradient norm.
Run: pytest tests/test_appendix_d.py
"""

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.appendix_d import clips_at_step, lr_at_step, train_model
from reference.ch04 import GPTModel
from reference.ch05 import train_model_simple

SCHEDULE = {"peak_lr": 1e-3, "initial_lr": 1e-5, "min_lr": 1e-6, "warmup_steps": 4, "total_steps": 20}


class RecordingSGD(torch.optim.SGD):
    """SGD that records, at every step, each group's learning rate and the total gradient norm."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.lrs, self.grad_norms = [], []

    def step(self, closure=None):
        self.lrs.append([group["lr"] for group in self.param_groups])
        grads = [p.grad.flatten() for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.grad_norms.append(torch.linalg.vector_norm(torch.cat(grads)).item())
        return super().step(closure)


def tiny_setup(cfg: dict, *, n: int = 5, seed: int = 0):
    """A seeded GPTModel and n random (inputs, targets) batches of size 2."""
    torch.manual_seed(seed)
    model = GPTModel(cfg)
    ids = torch.randint(0, cfg["vocab_size"], (n, 2, cfg["context_length"]))
    return model, list(zip(ids, ids.roll(-1, dims=-1)))


def test_warmup_rises_linearly_from_initial_to_peak():
    """Step 0 is at initial_lr, each warmup step adds (peak - initial) / warmup_steps, step warmup_steps is at peak."""
    lrs = [lr_at_step(step, **SCHEDULE) for step in range(5)]
    increment = (1e-3 - 1e-5) / 4
    assert lrs == pytest.approx([1e-5 + step * increment for step in range(4)] + [1e-3], rel=1e-12)


def test_cosine_decays_to_min_lr():
    """After warmup the rate follows a half cosine: min + (peak - min) * (1 + cos(pi * progress)) / 2."""
    assert lr_at_step(8, **SCHEDULE) == pytest.approx(1e-6 + (1e-3 - 1e-6) * (1 + math.sqrt(0.5)) / 2, rel=1e-12)
    assert lr_at_step(12, **SCHEDULE) == pytest.approx((1e-3 + 1e-6) / 2, rel=1e-12)
    assert lr_at_step(20, **SCHEDULE) == pytest.approx(1e-6, rel=1e-12)


@st.composite
def schedules(draw, *, max_steps: int = 60):
    """Schedules with initial_lr and min_lr below peak_lr and warmup shorter than training."""
    peak_lr = draw(st.floats(1e-5, 1.0))
    total_steps = draw(st.integers(2, max_steps))
    return {"peak_lr": peak_lr, "initial_lr": draw(st.floats(0.0, peak_lr)), "min_lr": draw(st.floats(0.0, peak_lr)),
            "warmup_steps": draw(st.integers(0, total_steps - 1)), "total_steps": total_steps}


@given(schedules())
def test_lr_is_monotone_within_each_phase(schedule):
    """The rate never falls during warmup and never rises during the cosine decay."""
    lrs = [lr_at_step(step, **schedule) for step in range(schedule["total_steps"] + 1)]
    warmup = schedule["warmup_steps"]
    assert all(a <= b * (1 + 1e-12) for a, b in itertools.pairwise(lrs[: warmup + 1]))
    assert all(a * (1 + 1e-12) >= b for a, b in itertools.pairwise(lrs[warmup:]))
    assert lrs[warmup] == pytest.approx(schedule["peak_lr"]) and lrs[-1] == pytest.approx(schedule["min_lr"])


@pytest.mark.parametrize("inclusive, first_clipped", [(False, 5), (True, 4)])
def test_clips_at_step_readings(inclusive, first_clipped):
    """The book clips when step > warmup_steps; the inclusive reading from step == warmup_steps."""
    assert [clips_at_step(step, 4, inclusive=inclusive) for step in range(8)] == [s >= first_clipped for s in range(8)]


def test_train_model_lrs_follow_lr_at_step(tiny_cfg):
    """track_lrs holds lr_at_step for every step, with the optimizer's lr at call time as the peak."""
    model, batches = tiny_setup(tiny_cfg, n=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    *_, track_lrs = train_model(model, batches, batches, optimizer, "cpu", 2, 3, 1, None, None, warmup_steps=3)
    schedule = {"peak_lr": 2e-3, "initial_lr": 3e-05, "min_lr": 1e-6, "warmup_steps": 3, "total_steps": 10}
    assert track_lrs == [lr_at_step(step, **schedule) for step in range(10)]


def test_train_model_sets_every_param_group_before_each_step(tiny_cfg):
    """Every parameter group gets the step's learning rate before optimizer.step()."""
    model, batches = tiny_setup(tiny_cfg, n=6)
    groups = [{"params": model.trf_blocks.parameters()}, {"params": model.out_head.parameters()}]
    optimizer = RecordingSGD(groups, lr=0.1)
    *_, track_lrs = train_model(model, batches, batches, optimizer, "cpu", 1, 10, 1, None, None, warmup_steps=2)
    assert optimizer.lrs == [[lr, lr] for lr in track_lrs]


@pytest.mark.parametrize("inclusive, clipped_steps", [(False, [3, 4, 5]), (True, [2, 3, 4, 5])])
def test_gradients_are_clipped_only_after_warmup(tiny_cfg, inclusive, clipped_steps):
    """With huge gradients and warmup_steps=2, the norm reaching the optimizer is 1.0 only after warmup."""
    model, batches = tiny_setup(tiny_cfg, n=1)
    with torch.no_grad():
        model.out_head.weight.mul_(100.0)  # confident, wrong predictions: large gradients
    optimizer = RecordingSGD(model.parameters(), lr=0.0)  # with every rate 0 the gradient repeats each step
    train_model(model, batches * 6, batches, optimizer, "cpu", 1, 10, 1, None, None, warmup_steps=2,
                initial_lr=0.0, min_lr=0.0, clip_after_warmup_inclusive=inclusive)
    unclipped = optimizer.grad_norms[0]
    assert unclipped > 10.0
    expected = [1.0 if step in clipped_steps else unclipped for step in range(6)]
    assert optimizer.grad_norms == pytest.approx(expected, rel=1e-4)


def test_train_model_with_a_flat_schedule_is_train_model_simple(tiny_cfg):
    """With initial = peak = min lr and no clipping, train_model records what train_model_simple records."""
    results = []
    for train in ("simple", "appendix_d"):
        model, batches = tiny_setup(tiny_cfg, n=4, seed=3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        if train == "simple":
            results.append(train_model_simple(model, batches, batches, optimizer, "cpu", 2, 3, 2, None, None))
        else:
            out = train_model(model, batches, batches, optimizer, "cpu", 2, 3, 2, None, None, warmup_steps=8,
                              initial_lr=0.05, min_lr=0.05)
            results.append(out[:3])
    assert results[0] == results[1]


def test_train_model_lowers_the_loss(tiny_cfg):
    """A short warmup-and-decay run with AdamW on one repeated batch lowers its training loss."""
    model, batches = tiny_setup(tiny_cfg, n=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_losses, *_ = train_model(model, batches * 30, batches, optimizer, "cpu", 1, 29, 1, None, None,
                                   warmup_steps=5)
    assert train_losses[-1] < train_losses[0] - 1.0
    assert train_losses[0] == pytest.approx(math.log(tiny_cfg["vocab_size"]), abs=0.5)
