"""Exercises 4.1 (GPT-2 sizes) and 4.3 (KV cache); one you did not attempt is skipped, never failed.

- 4.3: `generate_text_simple_cached(model, idx, max_new_tokens, context_size=None)` must give
  the same ids as the book's greedy loop on your own GPTModel.
- 4.1: configuration dicts (keys emb_dim, n_layers, n_heads; globals or a dict of them, e.g.
  GPT2_SIZES = {"gpt2-medium": {...}}) for at least two model sizes from 768 wide up: your
  GPTModel built from each (on the meta device, no memory used) has the book's parameter count.
  Keys a size leaves out are taken from GPT_CONFIG_124M.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from student_tests.a3.common import config_text, gpt_configs

CACHED = "generate_text_simple_cached"
MIN_SIZE_WIDTH = 768  # narrower configs are taken for test models, not GPT sizes


@st.composite
def cached_generations(draw):
    """(cfg, prompt ids, max_new_tokens): prompt plus new tokens fit into the context."""
    cfg = draw(gpt_configs(min_context=8))
    batch = draw(st.integers(1, 2))
    tokens = draw(st.integers(1, cfg["context_length"] // 2))
    ids = draw(st.lists(st.integers(0, cfg["vocab_size"] - 1), min_size=batch * tokens, max_size=batch * tokens))
    return cfg, torch.tensor(ids).reshape(batch, tokens), draw(st.integers(1, cfg["context_length"] - tokens))


@pytest.mark.check(component="generate_text_simple_cached", section="exercise 4.3")
@settings(max_examples=4)
@given(case=cached_generations())
def test_cached_generation_gives_the_same_ids(nb, case):
    """Exercise 4.3: generate_text_simple_cached gives the same ids as greedy decoding without a cache."""
    display = nb.exercise(CACHED).display
    cfg, idx, new = case
    payload = {"fn": CACHED, "cfg": cfg, "seed": 0, "idx": idx, "max_new_tokens": new, "context_size": None,
               "mistakes": False}
    result = nb.run("a3.generate", payload, what=f"{display} on your GPTModel ({config_text(cfg)})")
    expect(torch.equal(result["ids"], result["book"]),
           f"{display} with prompt {idx.tolist()} and max_new_tokens={new} returned {result['ids'].tolist()}; "
           f"greedy decoding without a cache (the book's generate_text_simple loop) on the same model gives "
           f"{result['book'].tolist()}. Check the positions of the new tokens and the causal mask offset once "
           f"keys and values are cached. See exercise 4.3 and section 4.7.")


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


def _reference_count(cfg: dict) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in GPTModel(cfg).parameters())


def _wrong_counts(nb, sizes: dict, display: str) -> list[str]:
    """One line per size whose parameter count (student's GPTModel on the meta device) is not the book's."""
    wrong = []
    for (emb_dim, n_layers, n_heads), (where, cfg) in sizes.items():
        count = nb.run("a3.meta_parameter_count", {"cfg": cfg}, what=f"building {display} from {where}")["count"]
        expected = _reference_count(cfg)  # e.g. 406,212,608 for GPT-2 medium
        if count != expected:
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
