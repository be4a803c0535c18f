"""train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq,
eval_iter, start_context, tokenizer) (section 5.2): the pretraining loop.

Your loop trains a tiny reference GPTModel on the grader's device from fixed weights, with
loaders built from fixed tensors (shuffle=False) and AdamW at a fixed learning rate; the
book's calc_loss_batch, evaluate_model and generate_and_print_sample stand in for yours, so
only the loop itself is graded. The returned (train_losses, val_losses, track_tokens_seen)
and the final weights must equal the book's loop on the same setup: an evaluation whenever
the optimizer-step counter (starting at -1, incremented after each step) is a multiple of
eval_freq. A model with dropout handed over in eval mode must train in train mode (the
book's loop calls model.train() at the start of every epoch). A `patience` (early stopping)
parameter, when your loop has one, is checked too.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import re

import pytest
from hypothesis import given, settings

from grader.checks import expect
from student_tests.a4.common import (
    DROPOUT,
    reference_training,
    rounded,
    run_training,
    setup_text,
    training_payload,
    training_setups,
    weights_gap,
    weights_tolerance,
)

pytestmark = pytest.mark.check(component="train_model_simple", section="5.2")
NAME = "train_model_simple"
SIGNATURE = ["model", "train_loader", "val_loader", "optimizer", "device", "num_epochs", "eval_freq", "eval_iter",
             "start_context", "tokenizer"]
BOOK_LOOP = ("for each epoch: model.train(); for each batch: optimizer.zero_grad(), loss = calc_loss_batch(...), "
             "loss.backward(), optimizer.step(), tokens_seen += input_batch.numel(), global_step += 1 (from -1); "
             "if global_step % eval_freq == 0: evaluate_model(...) and append both losses and tokens_seen; "
             "after each epoch generate_and_print_sample(...)")
FIXED = {"num_epochs": 2, "batch_size": 2, "train_sequences": 6, "val_sequences": 2, "eval_freq": 2,
         "eval_iter": 1, "lr": 4e-3, "weight_decay": 0.1, "seed": 5}


_FIXED_RUNS: dict[int, dict] = {}


def _train(nb, payload, what=""):
    component = nb.require(NAME)
    result = run_training(nb, "a4.train", payload, f"running {component.display}{what}")
    return component, result


def _fixed_run(nb):
    """The run on FIXED, made once per session (two checks read it)."""
    if id(nb) not in _FIXED_RUNS:
        payload = training_payload(FIXED, device=nb.device)
        _FIXED_RUNS[id(nb)] = {"payload": payload, "result": _train(nb, payload)[1]}
    return nb.require(NAME), _FIXED_RUNS[id(nb)]["payload"], _FIXED_RUNS[id(nb)]["result"]


def test_exists_with_the_book_signature(nb):
    """train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter,
    start_context, tokenizer) exists."""
    component = nb.require(NAME)
    expect(list(component.params[:10]) == SIGNATURE,
           f"{component.display} takes {list(component.params)}; the book's signature is "
           f"train_model_simple({', '.join(SIGNATURE)}) (section 5.2)")


@settings(max_examples=4)
@given(setup=training_setups())
def test_returns_the_books_losses_and_tokens_seen(nb, setup):
    """It returns the book's (train_losses, val_losses, track_tokens_seen) for drawn epochs, batches and eval_freq."""
    payload = training_payload(setup, device=nb.device)
    component, result = _train(nb, payload)
    expected = reference_training(payload)["returned"]
    got = result["returned"][:3]
    names = ("train_losses", "val_losses", "track_tokens_seen")
    for name, mine, book in zip(names, got + [None] * (3 - len(got)), expected):
        ok = mine is not None and len(mine) == len(book) and all(
            m is not None and abs(m - b) <= 1e-4 + 1e-4 * abs(b) for m, b in zip(mine, book))
        expect(ok, f"{component.display} with {setup_text(setup)} returned {name} = {rounded(mine)}; the book's "
                   f"loop gives {rounded(book)}. The book's loop: {BOOK_LOOP}. See section 5.2")


def test_final_weights_match_the_books_loop(nb):
    """After two epochs with AdamW, the model's weights equal those the book's loop gives from the same start."""
    component, payload, result = _fixed_run(nb)
    expected = reference_training(payload)["state"]
    diff, where = weights_gap(nb, payload, result, expected)
    tolerance = weights_tolerance(nb, result)
    expect(diff <= tolerance,
           f"{component.display} with {setup_text(FIXED)}: the trained weights differ from the book's loop by up to "
           f"{diff:.3g} (at {where}). Every batch must make exactly one optimizer step on the loss of that batch, "
           f"with the gradients zeroed before each backward pass. The book's loop: {BOOK_LOOP}. See section 5.2")


def test_trains_in_train_mode_with_dropout(nb):
    """Every training step runs the model in train mode (dropout on), even when the model arrives in eval mode."""
    payload = {**training_payload({**FIXED, "num_epochs": 1}, device=nb.device, drop_rate=DROPOUT), "start_eval": True}
    component, result = _train(nb, payload, f" on a model with drop_rate={DROPOUT} handed over in eval mode")
    steps = result["step_modes"]
    in_eval = sum(not training for training in steps)
    expect(steps and not in_eval,
           f"{component.display} on a model with drop_rate={DROPOUT} handed over in eval mode (as after generating "
           f"a sample) ran {len(steps)} forward passes with gradients on, {in_eval} of them in eval mode"
           + ("" if steps else ": it never trained the model")
           + "; call model.train() at the start of every epoch (evaluate_model and generate_and_print_sample switch "
             "to eval mode and back), so dropout acts while training. See section 5.2")


def test_prints_losses_and_a_generated_sample(nb):
    """While training it prints the train and val loss at each evaluation and a generated sample after each epoch."""
    component, payload, result = _fixed_run(nb)
    printed = result["printed"]
    numbers = [float(n) for n in re.findall(r"\d+\.\d+", printed)]
    train_losses, val_losses, _ = reference_training(payload)["returned"]
    first = (train_losses[0], val_losses[0])  # the first evaluation's losses, printed to 2 decimals or more
    shown = all(any(abs(n - loss) <= 0.006 for n in numbers) for loss in first)
    samples = re.findall(r"[a-z]{20,}", printed)  # the stand-in tokenizer decodes ids as letters a-z
    expect(shown and len(samples) >= 1,
           f"{component.display} printed {len(numbers)} decimal number(s)"
           + ("" if shown else f" without the first evaluation's train and val loss ({first[0]:.3f}, {first[1]:.3f})")
           + f" and {len(samples)} generated sample(s) during 2 epochs ({printed[:300]!r}); print the train and val "
             f"loss at every evaluation and call generate_and_print_sample(model, tokenizer, device, start_context) "
             f"after each epoch to monitor progress. See section 5.2")


def test_stops_early_when_the_validation_loss_stops_improving(nb):
    """With a patience parameter, training stops after that many evaluations without a new best validation loss."""
    component = nb.require(NAME)
    patience = next((p for p in component.params if "patience" in p.lower()), None)
    if patience is None:
        pytest.skip(f"{component.display} has no patience parameter (early stopping); nothing to check")
    setup = {**FIXED, "num_epochs": 4, "train_sequences": 4, "eval_freq": 1, "lr": 1e-2}
    full = training_payload(setup, device=nb.device, val_targets_shift=1)  # training makes val loss worse
    _, without = _train(nb, full, " without early stopping")
    _, stopped = _train(nb, {**full, "extra": {patience: 2}}, f" with {patience}=2")
    evals, full_evals = len(stopped["returned"][1] or []), len(without["returned"][1] or [])
    expect(2 <= evals <= 3 and full_evals > evals,
           f"{component.display} with {patience}=2 on data where the validation loss rises after the first "
           f"evaluation ({rounded(without['returned'][1])} without early stopping) recorded {evals} evaluations "
           f"({rounded(stopped['returned'][1])}); it should stop after 2 evaluations in a row without a new lowest "
           f"validation loss, i.e. after the 3rd. See section 5.2")
