"""Exercises 4.1 (GPT-2 sizes) and 4.3 (KV cache); one you did not attempt is skipped, never failed.

- 4.3: `generate_text_simple_cached(model, idx, max_new_tokens, context_size=None)` must give
  the same ids as the book's greedy loop on your own GPTModel (built with dropout, in eval mode),
  also when called a second time on the same model with another prompt.
- 4.1: configuration dicts (keys emb_dim, n_layers, n_heads; globals or a dict of them, e.g.
  GPT2_SIZES = {"gpt2-medium": {...}}) for at least two model sizes from 768 wide up: your
  GPTModel built from each (on the meta device, no memory used) has the book's parameter count
  (a head tied to the token embedding counts as the book's head).
  Keys a size leaves out are taken from GPT_CONFIG_124M.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch04 import GPT_CONFIG_124M, gpt_parameter_count
from student_tests.a3.common import config_text, gpt_configs

CACHED = "generate_text_simple_cached"
MIN_SIZE_WIDTH = 768  # narrower configs are taken for test models, not GPT sizes


def _prompts(draw, cfg, batch, tokens):
    """Token ids of shape (batch, tokens) with at least two different ids when there are two places."""
    ids = draw(st.lists(st.integers(0, cfg["vocab_size"] - 1), min_size=batch * tokens, max_size=batch * tokens))
    if len(ids) > 1 and len(set(ids)) == 1:
        ids[-1] = (ids[-1] + 1) % cfg["vocab_size"]
    return torch.tensor(ids).reshape(batch, tokens)


@st.composite
def cached_generations(draw):
    """(cfg with dropout, an earlier prompt, the prompt, max_new_tokens): each prompt plus the new tokens fits."""
    cfg = {**draw(gpt_configs(min_context=8)), "drop_rate": 0.5}  # the model is in eval mode: no dropout acts
    batch = draw(st.integers(1, 2))
    tokens, earlier = draw(st.integers(1, cfg["context_length"] // 2)), draw(st.integers(1, cfg["context_length"] // 2))
    new = draw(st.integers(1, cfg["context_length"] - max(tokens, earlier)))
    return cfg, _prompts(draw, cfg, batch, earlier), _prompts(draw, cfg, batch, tokens), new


@pytest.mark.check(component="generate_text_simple_cached", section="exercise 4.3")
@settings(max_examples=4)
@given(case=cached_generations())
def test_cached_generation_gives_the_same_ids(nb, case):
    """Exercise 4.3: generate_text_simple_cached gives the same ids as greedy decoding without a cache, also when
    called again on the same model (in eval mode) with another prompt."""
    display = nb.exercise(CACHED).display
    cfg, first, idx, new = case
    payload = {"fn": CACHED, "cfg": cfg, "seed": 0, "first_idx": first, "idx": idx, "max_new_tokens": new,
               "context_size": None, "mistakes": False}
    result = nb.run("a3.generate", payload, what=f"{display} on your GPTModel ({config_text(cfg)})")
    expect(torch.equal(result["first_ids"], result["first_book"]),
           f"{display} with prompt {first.tolist()} and max_new_tokens={new} returned {result['first_ids'].tolist()}; "
           f"greedy decoding without a cache (the book's generate_text_simple loop) on the same model in eval mode "
           f"gives {result['first_book'].tolist()}. Check the positions of the new tokens and the causal mask offset "
           f"once keys and values are cached (if GPTModel's test_is_causal fails too, fix that first: without a "
           f"causal model the two cannot agree). See exercise 4.3 and section 4.7.")
    expect(torch.equal(result["ids"], result["book"]),
           f"{display}, called a second time on the same model, with prompt {idx.tolist()}, returned "
           f"{result['ids'].tolist()}; without a cache the model gives {result['book'].tolist()} (the first call, "
           f"with prompt {first.tolist()}, was right). Empty the cache (and the position counter) at the start of "
           f"every generation. See exercise 4.3.")


def _size_configs(nb) -> dict[tuple[int, int, int], tuple[str, dict]]:
    """Distinct (emb_dim, n_layers, n_heads) of the notebook's GPT-sized configs -> (where, full cfg)."""
    found = nb.run("a3.gpt_configs", {}, what="looking for GPT configurations")["configs"]
    sizes = {}
    for entry in found:
        cfg = {**GPT_CONFIG_124M, **entry["cfg"]}
        key = (cfg["emb_dim"], cfg["n_layers"], cfg["n_heads"])
        if cfg["emb_dim"] >= MIN_SIZE_WIDTH and cfg["emb_dim"] % cfg["n_heads"] == 0 and key not in sizes:
            sizes[key] = (entry["where"], cfg)
    return sizes


def _wrong_counts(nb, sizes: dict, display: str) -> list[str]:
    """One line per size whose parameter count (student's GPTModel on the meta device) is not the book's."""
    wrong = []
    for (emb_dim, n_layers, n_heads), (where, cfg) in sizes.items():
        counted = nb.run("a3.meta_parameter_count", {"cfg": cfg}, what=f"building {display} from {where}")
        count, expected = counted["count"], gpt_parameter_count(cfg)  # e.g. 406,212,608 for GPT-2 medium
        if count + counted.get("tied", 0) != expected:  # a head tied to the token embedding counts as the book's
            wrong.append(f"{where} (emb_dim={emb_dim}, n_layers={n_layers}, n_heads={n_heads}): {count:,} "
                         f"where the book's recipe gives {expected:,}")
    return wrong


@pytest.mark.check(component="GPT sizes", section="exercise 4.1")
def test_gpt_sizes_have_the_book_parameter_counts(nb):
    """Exercise 4.1: your GPTModel built from each of your GPT size configs has the book's parameter count."""
    sizes = _size_configs(nb)
    if len(sizes) < 2:
        pytest.skip("exercise not attempted: fewer than two GPT size configurations (dicts with emb_dim, "
                    "n_layers, n_heads; emb_dim >= 768) in the notebook")
    display = nb.require("GPTModel").display
    wrong = _wrong_counts(nb, sizes, display)
    expect(not wrong, f"{display} on your size configurations: " + "; ".join(wrong) +
           ". If GPTModel's own parameter-count check fails too, fix that first. See exercise 4.1 and section 4.6.")
