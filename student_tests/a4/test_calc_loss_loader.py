"""calc_loss_loader(data_loader, model, device, num_batches=None) (section 5.1.3): the average batch loss.

Your function runs on a fixed reference model and loaders built from fixed tensors
(shuffle=False, the last batch may be smaller); the book's calc_loss_batch stands in for
yours, so only the averaging is graded here. Checks: all batches by default, the first
num_batches when given, all of them when num_batches exceeds the loader, NaN (or an error, never a
number) for an empty loader.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch05 import calc_loss_loader
from student_tests.a4.common import loader, loader_spec, model_spec, reference_model, token_data

pytestmark = pytest.mark.check(component="calc_loss_loader", section="5.1.3")
NAME = "calc_loss_loader"
RECIPE = ("num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader)); "
          "add calc_loss_batch(...).item() of the first num_batches batches and divide by num_batches")


@st.composite
def loaders(draw, *, max_sequences: int = 7, max_batch_size: int = 3):
    """(loader_spec, number of batches): random sequences of 2 to 6 tokens, last batch possibly smaller."""
    sequences, batch_size = draw(st.integers(1, max_sequences)), draw(st.integers(1, max_batch_size))
    tokens, seed = draw(st.integers(2, 6)), draw(st.integers(0, 2**16))
    return loader_spec(*token_data(sequences, tokens, seed=seed), batch_size), math.ceil(sequences / batch_size)


def _runs(nb, spec, num_batches_values):
    component = nb.require(NAME)
    model = reference_model(seed=1)
    payload = {"model": model_spec(model), "device": nb.device,
               "runs": [{"loader": spec, "num_batches": n} for n in num_batches_values]}
    results = nb.run("a4.loss_loader", payload, what=f"calling {component.display}")["results"]
    with torch.no_grad():
        expected = [calc_loss_loader(loader(spec), model, "cpu", None if n == "absent" else n)
                    for n in num_batches_values]
    return component, results, expected


def _agrees(result, expected) -> bool:
    value = result.get("value")
    if value is None or "error" in result:
        return False
    return (math.isnan(value) and math.isnan(expected)) or abs(value - expected) <= 1e-5 + 1e-4 * abs(expected)


def _described(result) -> str:
    return f"raised {result['error']}: {result['message']}" if "error" in result else f"returned {result['value']}"


def _shape(spec) -> str:
    return f"{len(spec['inputs'])} sequences of {spec['inputs'].shape[1]} tokens in batches of {spec['batch_size']}"


def test_exists_with_the_book_signature(nb):
    """calc_loss_loader(data_loader, model, device, num_batches=None) exists."""
    component = nb.require(NAME)
    expect(list(component.params[:4]) == ["data_loader", "model", "device", "num_batches"]
           and component.defaults.get("num_batches", "missing") is None,
           f"{component.display} takes {list(component.params)} with defaults {component.defaults}; the book's "
           f"signature is calc_loss_loader(data_loader, model, device, num_batches=None) (section 5.1.3)")


@settings(max_examples=5)
@given(case=loaders())
def test_averages_all_batches_by_default(nb, case):
    """Without num_batches (or with None) it averages the losses of every batch, a smaller last batch included."""
    spec, batches = case
    component, results, expected = _runs(nb, spec, ["absent", None])
    for result, label in zip(results, ("without num_batches", "with num_batches=None")):
        expect(_agrees(result, expected[0]),
               f"{component.display} {label} on {_shape(spec)} ({batches} batches) {_described(result)}; the "
               f"average of the {batches} batch losses is {expected[0]:.6f} ({RECIPE}). See section 5.1.3")


@settings(max_examples=5)
@given(case=loaders(), data=st.data())
def test_num_batches_limits_the_batches_used(nb, case, data):
    """With num_batches=n (at most the loader's length) it averages the losses of the first n batches."""
    spec, batches = case
    n = data.draw(st.integers(1, batches), label="num_batches")
    component, [result], [expected] = _runs(nb, spec, [n])
    expect(_agrees(result, expected),
           f"{component.display} with num_batches={n} on {_shape(spec)} ({batches} batches) {_described(result)}; "
           f"the average of the first {n} batch losses is {expected:.6f} ({RECIPE}). See section 5.1.3")


@settings(max_examples=3)
@given(case=loaders(max_sequences=4), extra=st.integers(1, 5))
def test_num_batches_beyond_the_loader_uses_every_batch(nb, case, extra):
    """A num_batches larger than the loader averages every batch (min(num_batches, len(data_loader)))."""
    spec, batches = case
    component, [result], [expected] = _runs(nb, spec, [batches + extra])
    expect(_agrees(result, expected),
           f"{component.display} with num_batches={batches + extra} on a loader of {batches} batches "
           f"({_shape(spec)}) {_described(result)}; the average of all {batches} batch losses is {expected:.6f}: "
           f"cap num_batches at len(data_loader) before dividing. See section 5.1.3")


# Refusing an empty loader is correct too: with a clear ValueError/AssertionError, or the ZeroDivisionError of
# the book's earlier calc_loss_loader (before it returned NaN). Any number would hide the empty loader.
REFUSALS = ("ValueError", "AssertionError", "ZeroDivisionError")


def test_empty_loader_gives_nan(nb):
    """An empty loader gives float("nan"), as in the book, or an error: never a number that hides it."""
    empty = loader_spec(torch.zeros(0, 4, dtype=torch.long), torch.zeros(0, 4, dtype=torch.long), 2)
    component, [result], _ = _runs(nb, empty, ["absent"])
    refused = result.get("error") in REFUSALS
    expect(refused or (result.get("value") is not None and math.isnan(result["value"])),
           f"{component.display} on an empty loader {_described(result)}; the book returns float(\"nan\") when "
           f"len(data_loader) == 0 (raising a ValueError that says the loader is empty is fine too); a number "
           f"such as 0.0 looks like a real loss. "
           f"See section 5.1.3")
    spec = loader_spec(*token_data(3, 4, seed=9), 2)
    _, [other], [expected] = _runs(nb, spec, ["absent"])
    expect(_agrees(other, expected),
           f"{component.display} gives NaN for an empty loader, but on {_shape(spec)} it {_described(other)}; the "
           f"average of the batch losses is {expected:.6f}. NaN is only for a loader without batches. "
           f"See section 5.1.3")
