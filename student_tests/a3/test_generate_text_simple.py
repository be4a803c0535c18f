"""generate_text_simple (section 4.7): greedy decoding that crops the input to the last context_size tokens.

Your function runs on your own GPTModel (a tiny config, built in the kernel) and is compared
with the book's loop on the same model, so a problem in GPTModel does not show up here.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from student_tests.a3.common import config_text, gpt_configs

pytestmark = pytest.mark.check(component="generate_text_simple", section="4.7")
NAME = "generate_text_simple"
BOOK_LOOP = ("for each new token: logits = model(idx[:, -context_size:])[:, -1, :], "
             "append argmax(logits) to idx")


@st.composite
def generations(draw, *, longer_than_context: bool):
    """(cfg, prompt ids, max_new_tokens, context_size); the prompt exceeds context_size when asked."""
    cfg = draw(gpt_configs(min_context=10))  # prompt (at most half) + 5 new tokens fit
    context_size = draw(st.integers(2, cfg["context_length"] // 2)) if longer_than_context else cfg["context_length"]
    low, high = (context_size + 1, cfg["context_length"]) if longer_than_context else (1, cfg["context_length"] // 2)
    prompt = draw(st.lists(st.integers(0, cfg["vocab_size"] - 1), min_size=max(low, 2), max_size=high))
    if len(set(prompt)) == 1:  # at least two different ids, so no constant output can pass for the prompt
        prompt[-1] = (prompt[-1] + 1) % cfg["vocab_size"]
    return cfg, torch.tensor([prompt]), draw(st.integers(1, 5)), context_size


def _generate(nb, cfg, idx, max_new_tokens, context_size, seed=0):
    display = nb.require(NAME).display
    payload = {"fn": NAME, "cfg": cfg, "seed": seed, "idx": idx, "max_new_tokens": max_new_tokens,
               "context_size": context_size}
    return display, nb.run("a3.generate", payload, what=f"{display} on your GPTModel ({config_text(cfg)})")


def _mistake(result) -> str:
    if torch.equal(result["ids"], result["first_position"]):
        return "Your ids match taking the logits of the first position, logits[:, 0, :]; the last one, " \
               "logits[:, -1, :], predicts the next token. "
    if torch.equal(result["ids"], result["first_tokens"]):
        return "Your ids match cropping to the first context_size tokens, idx[:, :context_size]; keep the last " \
               "ones, idx[:, -context_size:]. "
    return ""


def test_exists_with_the_book_signature(nb):
    """generate_text_simple(model, idx, max_new_tokens, context_size) exists."""
    component = nb.require(NAME)
    missing = {"model", "idx", "max_new_tokens", "context_size"} - set(component.params)
    expect(not missing, f"{component.display} takes no argument(s) {sorted(missing)}; the book's signature is "
                        f"generate_text_simple(model, idx, max_new_tokens, context_size) (section 4.7)")


@settings(max_examples=5)
@given(case=generations(longer_than_context=False))
def test_returns_the_prompt_followed_by_the_new_tokens(nb, case):
    """It returns ids of shape (batch, prompt + max_new_tokens) that start with the prompt."""
    cfg, idx, new, size = case
    display, result = _generate(nb, cfg, idx, new, size)
    ids = result["ids"]
    expect(tuple(ids.shape) == (1, idx.shape[1] + new) and torch.equal(ids[:, : idx.shape[1]], idx),
           f"{display} with prompt {idx.tolist()} and max_new_tokens={new} returned {ids.tolist()}; expected "
           f"shape {(1, idx.shape[1] + new)} starting with the prompt. See section 4.7.")


@settings(max_examples=5)
@given(case=generations(longer_than_context=False))
def test_picks_the_most_likely_next_token(nb, case):
    """On a prompt that fits the context, its ids equal the book's greedy loop on the same model."""
    cfg, idx, new, size = case
    display, result = _generate(nb, cfg, idx, new, size)
    expect(torch.equal(result["ids"], result["book"]),
           f"{display} with prompt {idx.tolist()}, max_new_tokens={new}, context_size={size} returned "
           f"{result['ids'].tolist()}; the book's loop on the same model gives {result['book'].tolist()} "
           f"({BOOK_LOOP}). {_mistake(result)}See section 4.7.")


@settings(max_examples=5)
@given(case=generations(longer_than_context=True))
def test_crops_to_the_last_context_size_tokens(nb, case):
    """With a prompt longer than context_size, only its last context_size tokens go into the model."""
    cfg, idx, new, size = case
    display, result = _generate(nb, cfg, idx, new, size)
    expect(torch.equal(result["ids"], result["book"]),
           f"{display} with a prompt of {idx.shape[1]} tokens {idx.tolist()} and context_size={size} returned "
           f"{result['ids'].tolist()}; the book's loop, which feeds the model idx[:, -context_size:], gives "
           f"{result['book'].tolist()}. {_mistake(result)}See section 4.7.")
