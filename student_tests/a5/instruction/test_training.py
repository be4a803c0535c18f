"""Training smoke test (sections 7.5-7.6): your calc_loss_batch and custom_collate_fn train a tiny GPT.

The grader's own tiny GPT (the reference model with fixed weights, vocabulary 50257, one layer)
gets a batch of four instruction entries collated by your custom_collate_fn. Your
calc_loss_batch(input_batch, target_batch, model, device) must give the cross-entropy over the
targets that are not -100 only (padding, and the prompt when it is masked too), and a few AdamW
steps on that loss must lower it. With dropout 0.1, the loss in training mode and in eval mode equals
the reference's on the same seed, and the model stays in the mode it was in. Runs on the grader's
device.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import math

import pytest
import torch
from torch.nn import functional as F

from grader.checks import expect
from reference.ch04 import GPTModel
from reference.ch07 import custom_collate_fn, custom_collate_fn_masked
from student_tests.a5.instruction.common import DATA, expected_ids, prompt_length

NAME, SECTION = "calc_loss_batch", "7.6"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)
TINY_CFG = {"vocab_size": 50257, "context_length": 128, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
            "drop_rate": 0.0, "qkv_bias": False}
DROPOUT_CFG = {**TINY_CFG, "drop_rate": 0.1}  # the same weights; dropout shows which mode the model ran in
ENTRIES = [DATA[i] for i in (1, 2, 50, 7)]  # different lengths, with and without input
STEPS, LR = 5, 5e-3
_RUNS, _LOSSES = {}, {}


def _model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel(TINY_CFG).eval()


def _smoke(nb) -> dict:
    """One probe run per session: the collated batch, the student's losses before and during training."""
    if id(nb) not in _RUNS:
        nb.require("custom_collate_fn")
        component = nb.require(NAME)
        batch = [expected_ids(e) for e in ENTRIES]
        masked = custom_collate_fn_masked([(prompt_length(e), ids) for e, ids in zip(ENTRIES, batch)])[1]
        payload = {"cfg": TINY_CFG, "weights": dict(_model().state_dict()), "batch": batch, "device": nb.device,
                   "steps": STEPS, "lr": LR, "masked_targets": masked}
        _RUNS[id(nb)] = nb.run("a5_instruction.train_smoke", payload, timeout=120,
                               what=f"training a tiny GPT with your custom_collate_fn and {component.display}")
        if _RUNS[id(nb)].get("losses"):
            nb.plot_lines("Instruction smoke test: loss at each step", {"yours": _RUNS[id(nb)]["losses"]})
    return _RUNS[id(nb)]


def _unmasked_cross_entropy(inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean cross-entropy of the grader's tiny GPT over the positions whose target is not -100."""
    with torch.no_grad():
        logits = _model()(inputs)
    keep = targets != -100
    return float(F.cross_entropy(logits[keep], targets[keep]))


def _losses(nb, *, train: bool) -> dict:
    """The student's loss on the reference batch (targets as collated, then prompt-masked) in the given mode.

    The model has dropout 0.1; the seed is set before each call, and the probe also returns the reference's loss
    (cross-entropy of the model's logits) computed the same way."""
    if (id(nb), train) not in _LOSSES:
        batch = [expected_ids(e) for e in ENTRIES]
        inputs, targets = custom_collate_fn(batch)
        masked = custom_collate_fn_masked([(prompt_length(e), ids) for e, ids in zip(ENTRIES, batch)])[1]
        payload = {"cfg": DROPOUT_CFG, "weights": dict(_model().state_dict()), "inputs": inputs,
                   "targets": [targets, masked], "device": nb.device, "train": train, "seed": 0}
        mode = "training" if train else "eval"
        _LOSSES[(id(nb), train)] = nb.run(
            "a5_instruction.losses", payload, timeout=60,
            what=f"calling {nb.require(NAME).display} on a batch of the grader's tiny GPT in {mode} mode")
    return _LOSSES[(id(nb), train)]


def test_exists_with_the_book_signature(nb):
    """calc_loss_batch(input_batch, target_batch, model, device) exists and returns a loss that depends on the
    targets."""
    component = nb.require(NAME)
    missing = [p for p in ("input_batch", "target_batch", "model", "device") if p not in component.params]
    expect(component.kind == "function" and not missing,
           f"{component.display} should be the function `calc_loss_batch(input_batch, target_batch, model, device)` "
           f"(section 5.1.3, reused in {SECTION}); found a {component.kind} taking ({', '.join(component.params)}).")
    full, masked = _losses(nb, train=False)["losses"]
    values = [full["value"], masked["value"]]
    expect(None not in values and all(map(math.isfinite, values)) and values[0] != values[1],
           f"{component.display} returned {full['type']} of shape {full['shape']} (value {full['value']}) for a "
           f"collated batch and {masked['value']} when the prompt's targets are -100 too; expected a finite scalar "
           f"loss tensor that changes with the targets. See sections 5.1.3 and {SECTION}.")


def test_loss_is_the_cross_entropy_over_unmasked_targets(nb):
    """On a collated batch, the loss is the cross-entropy over the targets that are not -100 only."""
    result, display = _smoke(nb), nb.require(NAME).display
    expected = _unmasked_cross_entropy(result["inputs"], result["targets"])
    expect(math.isclose(result["loss"], expected, rel_tol=1e-4, abs_tol=1e-4),
           f"{display} gave {result['loss']:.6f} on a batch of 4 collated entries (padding targets -100); the "
           f"cross-entropy over the targets that are not -100 is {expected:.6f}. Use "
           f"torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten()), whose ignore_index=-100 "
           f"skips masked targets. See sections 5.1.3 and {SECTION}.")


def test_loss_ignores_masked_prompt_targets_too(nb):
    """With the prompt's targets set to -100 as well, the loss covers the response tokens only."""
    result, display = _smoke(nb), nb.require(NAME).display
    masked = custom_collate_fn_masked([(prompt_length(e), expected_ids(e)) for e in ENTRIES])[1]
    if result["masked_loss"] is None:
        pytest.skip(f"your custom_collate_fn gave targets of shape {tuple(result['targets'].shape)}, not "
                    f"{tuple(masked.shape)}, so the prompt-masked targets do not fit its inputs")
    expected = _unmasked_cross_entropy(result["inputs"], masked)
    expect(math.isclose(result["masked_loss"], expected, rel_tol=1e-4, abs_tol=1e-4),
           f"{display} gave {result['masked_loss']:.6f} with the prompt and padding targets at -100; the "
           f"cross-entropy over the response targets only is {expected:.6f}. See sections 5.1.3, {SECTION} and "
           f"exercise 7.2.")


def test_a_few_training_steps_lower_the_loss(nb):
    """Five AdamW steps on your loss lower it (the gradients flow and the loss tracks the targets)."""
    losses, display = _smoke(nb)["losses"], nb.require(NAME).display
    shown = ", ".join(f"{x:.4f}" for x in losses)
    expect(len(losses) == STEPS and all(map(math.isfinite, losses)) and losses[-1] < losses[0] - 0.1,
           f"Training the grader's tiny GPT for {STEPS} AdamW steps (lr {LR}) on one batch with {display} gave "
           f"losses {shown}; they should fall (by more than 0.1). calc_loss_batch must return the loss tensor of the "
           f"model's logits against target_batch, so loss.backward() reaches the weights. See section {SECTION}.")


@pytest.mark.parametrize("train", [True, False], ids=["training", "eval"])
def test_loss_leaves_the_models_mode_as_it_is(nb, train):
    """In training mode (dropout 0.1) and in eval mode, the loss is the reference's on the same seed, and the
    model is still in the mode it was in."""
    result, display = _losses(nb, train=train), nb.require(NAME).display
    mode, loss = ("training" if train else "eval"), result["losses"][0]["value"]
    expect(result["training_after"] == train,
           f"{display} switched the grader's model from {mode} mode to "
           f"{'eval' if train else 'training'} mode; the loss must not call model.train() or model.eval(): "
           f"train_model_simple sets the mode (dropout acts while training, not while evaluating). "
           f"See sections 5.2 and {SECTION}.")
    expect(loss is not None and math.isclose(loss, result["reference"], rel_tol=1e-4, abs_tol=1e-4),
           f"{display} gave {loss} on a batch of the grader's tiny GPT (dropout 0.1) in {mode} mode; the "
           f"cross-entropy of the model's logits in that mode, on the same seed, is {result['reference']:.6f}. Call "
           f"the model once, in the mode it is in. See sections 5.1.3 and {SECTION}.")
