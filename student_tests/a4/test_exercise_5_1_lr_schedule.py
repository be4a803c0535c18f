"""Exercise 5.1 (appendix D): linear warmup, cosine decay and gradient clipping in `train_model`.

The grader grades `train_model` (or GRADER_NAMES["train_model"]), else a training function of
yours (one that takes a loader, an optimizer or a number of epochs) with a warmup parameter,
with appendix D's signature train_model(model, train_loader, val_loader, optimizer, device,
n_epochs, eval_freq, eval_iter, start_context, tokenizer, warmup_steps, initial_lr=3e-05,
min_lr=1e-6) returning (train_losses, val_losses,
track_tokens_seen, track_lrs). It trains a tiny reference GPTModel with AdamW (peak learning
rate = the optimizer's) and records the learning rate at every optimizer.step(). Gradient
clipping "after warmup" has two readings, both accepted: global_step > warmup_steps (the
printed book) and >= warmup_steps. Not attempted: skipped, never failed.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import pytest

from grader.checks import expect
from reference.appendix_d import lr_at_step
from student_tests.a4.common import (
    reference_schedule_training,
    run_training,
    setup_text,
    training_payload,
    weights_gap,
    weights_tolerance,
)

pytestmark = pytest.mark.check(component="train_model", section="appendix D (exercise 5.1)")
SETUP = {"num_epochs": 2, "batch_size": 2, "train_sequences": 8, "val_sequences": 2, "eval_freq": 2, "eval_iter": 1,
         "lr": 1e-2, "weight_decay": 0.1, "seed": 7}
WARMUP, INITIAL_LR, MIN_LR = 3, 1e-4, 1e-5
_RUNS: dict[int, tuple] = {}


def _run(nb):
    """The notebook's schedule loop on SETUP (made once per session), its payload and the lrs it should use."""
    if id(nb) not in _RUNS:
        payload = training_payload(SETUP, device=nb.device, extra={"initial_lr": INITIAL_LR, "min_lr": MIN_LR})
        payload["model"]["state"]["out_head.weight"] *= 8  # confident wrong predictions: gradient norms above 1
        result = run_training(nb, "a4.schedule", {**payload, "warmup_steps": WARMUP}, "running your train_model")
        _RUNS[id(nb)] = (payload, result)
    payload, result = _RUNS[id(nb)]
    if result["graded"] is None:
        pytest.skip("exercise not attempted: no `train_model` and no training function with a warmup parameter")
    initial = INITIAL_LR if "initial_lr" in result["params"] else result["defaults"].get("initial_lr", 3e-05)
    minimum = MIN_LR if "min_lr" in result["params"] else result["defaults"].get("min_lr", 1e-6)
    steps = SETUP["num_epochs"] * SETUP["train_sequences"] // SETUP["batch_size"]
    lrs = [lr_at_step(s, peak_lr=SETUP["lr"], initial_lr=initial, min_lr=minimum, warmup_steps=WARMUP,
                      total_steps=steps) for s in range(steps)]
    return payload, result, lrs, (initial, minimum)


def _text(values):
    return [f"{v:.3g}" if isinstance(v, float) else v for v in values] if isinstance(values, list) else values


def test_learning_rates_warm_up_then_follow_the_cosine(nb):
    """Exercise 5.1: each optimizer step uses the warmup-then-cosine learning rate, and track_lrs lists them."""
    payload, result, lrs, (initial, minimum) = _run(nb)
    graded = f"`{result['graded']}`"
    close = lambda got: got is not None and len(got) == len(lrs) and all(
        g is not None and abs(g - e) <= 1e-9 + 1e-6 * e for g, e in zip(got, lrs))
    returned = result["returned"][3] if len(result["returned"]) >= 4 else None
    schedule = (f"peak {SETUP['lr']} (the optimizer's), initial_lr={initial}, min_lr={minimum}, warmup_steps={WARMUP}, "
                f"{len(lrs)} steps")
    expect(close(result["steps_lr"]),
           f"{graded} ({schedule}) stepped the optimizer at learning rates {_text(result['steps_lr'])}; expected "
           f"{_text(lrs)}: before each step set lr = initial_lr + step * (peak - initial_lr) / warmup_steps during "
           f"warmup, then min_lr + (peak - min_lr) * 0.5 * (1 + cos(pi * progress)). See appendix D.1-D.2")
    expect(close(returned),
           f"{graded} ({schedule}) returned track_lrs = {_text(returned)} as its 4th value; expected the learning "
           f"rate of every step, {_text(lrs)}. See appendix D.4")


def _clipping_readings(nb, payload, result, initial, minimum) -> dict:
    """Per clipping reading, how far the notebook's trained weights are from appendix D's loop with it."""
    readings = {}
    for inclusive, reading in ((False, "global_step > warmup_steps (the printed book)"),
                               (True, "global_step >= warmup_steps")):
        expected = reference_schedule_training(payload, warmup_steps=WARMUP, initial_lr=initial, min_lr=minimum,
                                               inclusive=inclusive)
        readings[reading] = weights_gap(nb, payload, result, expected["state"])
    return readings


def test_clips_gradients_after_warmup(nb):
    """Exercise 5.1: after warmup the gradients are clipped to norm 1.0 (global_step > or >= warmup_steps)."""
    payload, result, _, (initial, minimum) = _run(nb)
    readings = _clipping_readings(nb, payload, result, initial, minimum)
    tolerance = weights_tolerance(nb, result)
    matched = [reading for reading, (diff, _) in readings.items() if diff <= tolerance]
    expect(matched,
           f"`{result['graded']}` with {setup_text(SETUP)}, warmup_steps={WARMUP}: the trained weights differ from "
           f"appendix D's loop with either clipping reading ("
           + "; ".join(f"{r}: up to {d:.3g} at {w}" for r, (d, w) in readings.items())
           + "). After loss.backward(), once warmup is over, call torch.nn.utils.clip_grad_norm_(model.parameters(), "
             "max_norm=1.0) before optimizer.step(); and set the learning rate before the step. See appendix D.3-D.4")


def test_which_function_and_clipping_reading_were_graded(nb):
    """Which function the grader graded for exercise 5.1, and which clipping reading it follows (informational)."""
    payload, result, _, (initial, minimum) = _run(nb)
    readings = _clipping_readings(nb, payload, result, initial, minimum)
    matched = [reading for reading, (diff, _) in readings.items() if diff <= (1e-5 if nb.device == "cpu" else 1e-4)]
    clipping = f"it clips after warmup when {matched[0]}" if matched else "its weights match neither clipping reading"
    pytest.skip(f"informational: exercise 5.1 graded `{result['name']}` ({result['why']}); {clipping}")
