"""train_classifier_simple (section 6.7): a training smoke test on a tiny classifier and a small spam set.

Your train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
eval_freq, eval_iter) trains a tiny reference GPT classifier (the grader's weights) on a small
synthetic SMS spam set for a few epochs, on the grader's device, with AdamW and loaders that do
not shuffle; the book's calc_loss_batch, calc_loss_loader, calc_accuracy_loader and evaluate_model
stand in for yours while it runs, so the loop is graded on its own (those have their own checks).
The reference trains an identical copy on the same data in the same order. Checks:
the training loss falls; the training steps run in training mode (the model is handed over in
eval mode: the loop calls model.train()); the five results (train/val losses every eval_freq steps, train/val
accuracies after each epoch, examples seen) equal the reference's; the weights end where the
reference's do.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import contextlib
import io

import pytest
import torch

from grader.checks import expect, expect_close
from reference.assets import gpt2_encoding
from reference.ch06 import make_synthetic_spam, train_classifier_simple
from student_tests.a5.classification.common import (
    classifier_payload,
    reference_classifier,
    run_on_classifier,
    signature_problem,
)

pytestmark = pytest.mark.check(component="train_classifier_simple", section="6.7")
NAME, SECTION = "train_classifier_simple", "6.7"
SETTINGS = {"batch_size": 8, "lr": 1e-3, "weight_decay": 0.1, "num_epochs": 3, "eval_freq": 2, "eval_iter": 2,
            "seed": 123}
NAMES = ("train_losses", "val_losses", "train_accs", "val_accs")


def _spam_tensors():
    """Synthetic spam messages as padded ids over a compact vocabulary (the model stays tiny), and labels."""
    rows = make_synthetic_spam(num_rows=48, spam_frac=0.5, seed=7)
    encoded = [gpt2_encoding().encode(text) for _, text in rows]
    vocab = {token: i for i, token in enumerate(sorted({t for ids in encoded for t in ids} | {50256}))}
    length = max(map(len, encoded))
    ids = torch.tensor([[vocab[t] for t in e] + [vocab[50256]] * (length - len(e)) for e in encoded])
    labels = torch.tensor([1 if label == "spam" else 0 for label, _ in rows])
    cfg = {"vocab_size": len(vocab), "context_length": length, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
           "drop_rate": 0.0, "qkv_bias": True}
    return cfg, ids, labels


@pytest.fixture(scope="module")
def runs(nb):
    """(the student's results, the reference's results, the reference's final head weight); one training each."""
    component = nb.require(NAME)
    cfg, ids, labels = _spam_tensors()
    model = reference_classifier(cfg, seed=5)
    data = {"train_inputs": ids[:32], "train_targets": labels[:32], "val_inputs": ids[32:], "val_targets": labels[32:]}
    theirs = run_on_classifier(nb, "train_classifier",
                               {**classifier_payload(model, cfg, num_classes=2, device=nb.device), **data, **SETTINGS},
                               what=f"training with {component.display}", section=SECTION, timeout=120)
    loader = lambda x, y: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                                      batch_size=SETTINGS["batch_size"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=SETTINGS["lr"], weight_decay=SETTINGS["weight_decay"])
    torch.manual_seed(SETTINGS["seed"])
    with contextlib.redirect_stdout(io.StringIO()):
        ours = train_classifier_simple(model.train(), loader(data["train_inputs"], data["train_targets"]),
                                       loader(data["val_inputs"], data["val_targets"]), optimizer, "cpu",
                                       SETTINGS["num_epochs"], SETTINGS["eval_freq"], SETTINGS["eval_iter"])
    ours = dict(zip((*NAMES, "examples_seen"), ours))
    if theirs.get("train_losses"):
        nb.plot_lines("train_classifier_simple smoke test: training loss at each evaluation",
                      {"yours": theirs["train_losses"], "reference": ours["train_losses"]})
    return theirs, ours, model.out_head.weight.detach()


def test_exists_with_the_book_signature(nb):
    """train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter) exists."""  # noqa: E501 (a check's title)
    params = ["model", "train_loader", "val_loader", "optimizer", "device", "num_epochs", "eval_freq", "eval_iter"]
    problem = signature_problem(nb.require(NAME), params, {})
    expect(problem is None, f"{problem}; the book's signature is train_classifier_simple(model, train_loader, "
                            f"val_loader, optimizer, device, num_epochs, eval_freq, eval_iter) (section {SECTION})")


def test_training_loss_falls(nb, runs):
    """Over 3 epochs on the small spam set the evaluated training loss ends lower than it starts."""
    theirs, _, _ = runs
    losses = theirs["train_losses"]
    expect(theirs["finite"] and len(losses) >= 2 and losses[-1] < losses[0],
           f"{nb.require(NAME).display} returned training losses {[round(v, 4) for v in losses]} over "
           f"{SETTINGS['num_epochs']} epochs (lr {SETTINGS['lr']}, eval_freq {SETTINGS['eval_freq']}); "
           "expected them to "
           f"fall. Each step: optimizer.zero_grad(), loss = calc_loss_batch(...), loss.backward(), optimizer.step() "
           f"(section {SECTION}).")


def test_results_match_the_reference(nb, runs):
    """Losses every eval_freq steps, accuracies per epoch and examples seen equal the reference's, from the same start."""  # noqa: E501 (a check's title)
    theirs, ours, _ = runs
    for name in NAMES:
        got, want = [round(v, 5) for v in theirs[name]], [round(v, 5) for v in ours[name]]
        same = len(got) == len(want) and all(abs(a - b) <= 1e-4 + 1e-4 * abs(b) for a, b in zip(got, want))
        expect(same, f"{nb.require(NAME).display}: {name} is {got}; the reference, trained from the same weights on "
                     f"the same batches, gives {want} ({SETTINGS['num_epochs']} epochs of 4 batches, eval_freq "
                     f"{SETTINGS['eval_freq']}, eval_iter {SETTINGS['eval_iter']}; "
                     "the book's loss and accuracy helpers "
                     f"stood in for yours). Evaluate every eval_freq steps (global_step % eval_freq == 0, counting "
                     f"from 0) and measure the accuracies after each epoch. See section {SECTION}.")
    expect(theirs["examples_seen"] == ours["examples_seen"],
           f"{nb.require(NAME).display} counted {theirs['examples_seen']} examples seen; expected "
           f"{ours['examples_seen']} (the batch sizes of every training step). See section {SECTION}.")


def test_weights_end_where_the_reference_s_do(nb, runs):
    """After training, the head's weights equal those of the reference trained the same way."""
    theirs, _, head = runs
    expect_close(theirs["head_weight"], head, atol=1e-4, rtol=1e-3,
                 what=f"{nb.require(NAME).display}: out_head.weight after training",
                 hint=f"One optimizer step per batch, for num_epochs epochs. See section {SECTION}")


def test_trains_in_training_mode(nb, runs):
    """Every training step's forward pass runs in training mode (model.train()), the model handed over in eval mode."""
    modes = runs[0]["modes"]
    expect(modes["grad_calls"] > 0 and modes["grad_calls_in_eval_mode"] == 0,
           f"{nb.require(NAME).display}, handed a model in eval mode, ran {modes['grad_calls_in_eval_mode']} of its "
           f"{modes['grad_calls']} training forward passes (those with gradients) in eval mode, where dropout does "
           f"not act. Call model.train() at the start of every epoch: evaluating switches the model to eval mode "
           f"(section {SECTION}).")
