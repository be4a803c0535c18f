"""calc_loss_batch(input_batch, target_batch, model, device) (section 5.1.3): mean next-token cross-entropy.

Your function runs on a fixed model the grader sends (the reference GPTModel with set weights,
or a model whose logits are fixed), so a problem in your GPTModel does not show up here; the
result is compared with the reference's calc_loss_batch on the same model and batch. The
book's seeded number (10.7940 for its two example sentences) is checked on your own GPTModel.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import math

import pytest
import torch
from hypothesis import given, settings

from grader.checks import expect, expect_close
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from reference.ch05 import calc_loss_batch
from student_tests.a4.common import TINY_CFG, model_spec, reference_model, token_batches, token_data

pytestmark = pytest.mark.check(component="calc_loss_batch", section="5.1.3")
NAME = "calc_loss_batch"
BOOK_INPUTS = torch.tensor([[16833, 3626, 6100], [40, 1107, 588]])  # "every effort moves", "I really like"
BOOK_TARGETS = torch.tensor([[3626, 6100, 345], [1107, 588, 11311]])  # " effort moves you", " really like chocolate"
BOOK_LOSS = 10.7940
RECIPE = ("logits = model(input_batch) of shape (batch, tokens, vocab); "
          "F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())")


def _loss(nb, model, inputs, targets):
    component = nb.require(NAME)
    result = nb.run("a4.loss_batch", {"model": model, "inputs": inputs, "targets": targets, "device": nb.device},
                    what=f"calling {component.display}")
    return component, result


def _creates_weights_in_book_order(nb) -> bool:
    theirs = [shape for _, shape, buffer in nb.state_shapes("GPTModel", {"cfg": TINY_CFG}) if not buffer]
    return theirs == [tuple(p.shape) for p in GPTModel(TINY_CFG).parameters()]


def test_exists_with_the_book_signature(nb):
    """calc_loss_batch(input_batch, target_batch, model, device) exists."""
    component = nb.require(NAME)
    expected = ["input_batch", "target_batch", "model", "device"]
    expect(list(component.params[:4]) == expected,
           f"{component.display} takes {list(component.params)}; the book's signature is "
           f"calc_loss_batch(input_batch, target_batch, model, device) (section 5.1.3)")


@settings(max_examples=6)
@given(batch=token_batches())
def test_matches_the_reference_on_a_fixed_model(nb, batch):
    """On the same model and batch, the loss equals the reference's for any batch size and length."""
    inputs, targets, seed = batch
    model = reference_model(seed=seed)
    component, result = _loss(nb, model_spec(model), inputs, targets)
    expect(result["type"] == "Tensor", f"{component.display} returned a {result['type']}, not a tensor")
    with torch.no_grad():
        expected = calc_loss_batch(inputs, targets, model, "cpu")
    expect_close(result["loss"], expected, atol=1e-5 if nb.device == "cpu" else 1e-4,
                 what=f"{component.display} on a batch of shape {tuple(inputs.shape)} (seed {seed})",
                 hint=f"The loss is the mean cross-entropy over every position of every sequence: {RECIPE}. "
                      "See section 5.1.3")


def test_uniform_logits_give_the_log_of_the_vocabulary_size(nb):
    """A model predicting equal logits for all 48 tokens gives loss ln(48) for any targets."""
    vocab = TINY_CFG["vocab_size"]
    inputs, targets = token_data(3, 5, seed=4)
    component, result = _loss(nb, {"kind": "fixed", "row": torch.zeros(vocab)}, inputs, targets)
    expect(result["type"] == "Tensor", f"{component.display} returned a {result['type']}, not a tensor")
    expect_close(result["loss"], torch.tensor(math.log(vocab)),
                 what=f"{component.display} with equal logits over {vocab} tokens (batch 3 x 5 tokens)",
                 hint="Equal logits mean probability 1/48 for every target, so the loss is ln(48) = 3.8712. "
                      "The softmax (inside cross_entropy) must run over the vocabulary, the last dimension of "
                      "the logits, not over the tokens. See sections 5.1.2 and 5.1.3")


def test_returns_a_scalar_that_backpropagates(nb):
    """It returns a 0-dimensional tensor attached to the model's graph: loss.backward() gives the weights gradients."""
    inputs, targets = token_data(2, 4, seed=2)
    component, result = _loss(nb, model_spec(reference_model()), inputs, targets)
    expect(result["type"] == "Tensor" and result["loss"].dim() == 0 and result["requires_grad"],
           f"{component.display} returned "
           + (f"a {result['type']}" if result["type"] != "Tensor" else
              f"a tensor of shape {tuple(result['loss'].shape)} with requires_grad={result['requires_grad']}")
           + "; the training loop calls loss.backward(), which needs one number (a 0-d tensor) computed from the "
             "model's output with gradients on: don't call .item() or use torch.no_grad() here. See section 5.2")
    expect(result["reaches_weights"],
           f"{component.display} returned a 0-d tensor with gradients on, but loss.backward() left every weight of "
           f"the model with a zero gradient: the loss must be computed from model(input_batch), the logits. "
           f"Recipe: {RECIPE}. See section 5.1.3")


def test_seeded_loss_matches_the_book(nb):
    """Under torch.manual_seed(123), your GPTModel (context 256) gives the book's loss 10.7940 on its two sentences."""
    component, model = nb.require(NAME), nb.require("GPTModel")
    cfg = {**GPT_CONFIG_124M, "context_length": 256}
    loss = nb.run("a4.seeded_loss", {"cfg": cfg, "seed": 123, "inputs": BOOK_INPUTS, "targets": BOOK_TARGETS},
                  what=f"building {model.display} with GPT_CONFIG_124M and calling {component.display}",
                  timeout=90)["loss"]
    if loss is not None and abs(loss - BOOK_LOSS) <= 1e-4:
        return
    if not _creates_weights_in_book_order(nb):
        pytest.skip(f"informational: your GPTModel creates its weights in a different order than the book, so "
                    f"seeded numbers differ (your loss {loss}; the book's {BOOK_LOSS})")
    pytest.fail(f"{component.display} on {model.display} built under torch.manual_seed(123) (GPT_CONFIG_124M, "
                f"context 256, eval mode) gives {loss} for inputs {BOOK_INPUTS.tolist()} and targets "
                f"{BOOK_TARGETS.tolist()}; the book prints {BOOK_LOSS}. Your model creates its weights in the "
                f"book's order, so the same seed gives the same weights: check the loss ({RECIPE}), "
                f"and GPTModel against assignment 3's checks. "
                "See section 5.1.2", pytrace=False)
