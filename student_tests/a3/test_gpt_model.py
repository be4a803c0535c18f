"""GPTModel (sections 4.6-4.7): embeddings, the blocks, a final LayerNorm and the vocabulary head.

Checks the logits against the reference on the same weights, their shape, causality, the
parameter count, dropout, and the book's seeded "Hello, I am" continuation.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from student_tests.a3.common import (
    TINY_CFG,
    config_text,
    fix_parts_first,
    gpt_configs,
    parameter_difference,
    token_batches,
)

pytestmark = pytest.mark.check(component="GPTModel", section="4.6")
NAME = "GPTModel"
HELLO = [15496, 11, 314, 716]  # "Hello, I am"
BOOK_IDS = [15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267, 49706, 43231, 47062, 34657]
PARTS = fix_parts_first("LayerNorm", "GELU", "FeedForward", "MultiHeadAttention (a2)", "TransformerBlock")
SEEDED_NEW_TOKENS = 2  # each step runs the 163M-parameter model once; the first two are the book's


def _known_mistake(actual: torch.Tensor, ids: torch.Tensor, model: GPTModel) -> str:
    """A hint when the logits equal the reference without a part, else ''."""
    with torch.no_grad():
        positions = model.pos_emb(torch.arange(ids.shape[1]))
        variants = {"no final_norm before the output head": (model.tok_emb(ids) + positions, False),
                    "no position embeddings added to the token embeddings": (model.tok_emb(ids), True)}
        for mistake, (x, final_norm) in variants.items():
            x = model.trf_blocks(x)
            if actual.shape == (*ids.shape, model.out_head.out_features) and \
                    compare_tensors(actual, model.out_head(model.final_norm(x) if final_norm else x)).ok:
                return f"Your logits match the book's model with {mistake}."
    return ""


def _parameter_shapes(nb, cfg):
    return [shape for _, shape, is_buffer in nb.state_shapes(NAME, {"cfg": cfg}) if not is_buffer]


def test_exists_with_the_book_signature(nb):
    """GPTModel(cfg) exists."""
    component = nb.require(NAME)
    expect("cfg" in component.params,
           f"{component.display} takes no argument `cfg`; the book's signature is GPTModel(cfg) (section 4.6)")


@settings(max_examples=6)
@given(cfg=gpt_configs(), seed=st.integers(0, 2**16), data=st.data())
def test_logits_match_the_reference_on_the_same_weights(nb, cfg, seed, data):
    """On the reference's weights, the logits equal the reference's (float32, eval mode)."""
    torch.manual_seed(seed)
    reference = GPTModel(cfg).eval()
    ids = data.draw(token_batches(cfg), label="ids")
    actual = nb.forward(NAME, init={"cfg": cfg}, reference=reference, inputs=[ids])
    with torch.no_grad():
        result = compare_tensors(actual, reference(ids))
    what = f"{nb.require(NAME).display} output for ids of shape {tuple(ids.shape)} ({config_text(cfg)})"
    expect(result.ok, f"{result.describe(what)}. {_known_mistake(actual, ids, reference) or PARTS} See section 4.6.")


@settings(max_examples=4)
@given(cfg=gpt_configs(), data=st.data())
def test_logits_have_shape_batch_tokens_vocab(nb, cfg, data):
    """For ids of shape (batch, tokens) the logits have shape (batch, tokens, vocab_size)."""
    ids = data.draw(token_batches(cfg), label="ids")
    out = nb.forward_with(NAME, init={"cfg": cfg}, state_dict=None, inputs=[ids])
    expected = (*ids.shape, cfg["vocab_size"])
    expect(tuple(out.shape) == expected,
           f"{nb.require(NAME).display} gave logits of shape {tuple(out.shape)} for ids of shape {tuple(ids.shape)}; "
           f"expected {expected} ({config_text(cfg)}). See section 4.6.")


@settings(max_examples=4)
@given(cfg=gpt_configs(min_context=2), seed=st.integers(0, 2**16))
def test_is_causal(nb, cfg, seed):
    """Changing the last token leaves the logits at every earlier position unchanged."""
    ids = torch.randint(0, cfg["vocab_size"], (1, cfg["context_length"]), generator=torch.Generator().manual_seed(seed))
    changed = ids.clone()
    changed[0, -1] = (changed[0, -1] + 1) % cfg["vocab_size"]
    out = nb.forward_with(NAME, init={"cfg": cfg}, state_dict=None, inputs=[torch.cat([ids, changed])])
    leak = compare_tensors(out[1, :-1], out[0, :-1])
    expect(leak.ok, f"{nb.require(NAME).display} is not causal: changing the last of {ids.shape[1]} tokens changed "
                    f"the logits at earlier positions (by up to {leak.max_abs:.3g}); ids {ids.tolist()}. "
                    f"See sections 3.5 and 4.6.")


@settings(max_examples=4)
@given(cfg=gpt_configs())
def test_has_the_parameter_count_of_the_reference(nb, cfg):
    """It has exactly as many parameters as the book's model (no weight tying)."""
    shapes = _parameter_shapes(nb, cfg)
    reference = [tuple(p.shape) for p in GPTModel(cfg).parameters()]
    count, expected = sum(torch.Size(s).numel() for s in shapes), sum(torch.Size(s).numel() for s in reference)
    expect(count == expected,
           f"{nb.require(NAME).display} has {count:,} parameters where the book's has {expected:,} "
           f"({config_text(cfg)}): {parameter_difference(shapes, reference)}. See section 4.6.")


def test_dropout_acts_in_train_mode_only(nb):
    """With drop_rate 0.5, eval mode gives the drop_rate 0 logits and train mode changes them."""
    ids = torch.arange(12).reshape(2, 6) % TINY_CFG["vocab_size"]
    run = lambda rate, eval: nb.forward_with(NAME, init={"cfg": {**TINY_CFG, "drop_rate": rate}}, state_dict=None,
                                             inputs=[ids], seed=7, eval=eval)
    plain, evaluated, trained = run(0.0, True), run(0.5, True), run(0.5, False)
    display = nb.require(NAME).display
    expect(compare_tensors(evaluated, plain).ok,
           f"{display} with drop_rate=0.5 in eval mode gave other logits than with drop_rate=0.0; "
           f"use nn.Dropout modules, which are inactive after model.eval(). See section 4.6.")
    expect(not compare_tensors(trained, plain).ok,
           f"{display} with drop_rate=0.5 in train mode gave the same logits as without dropout; "
           f"apply cfg['drop_rate'] to the embeddings, attention weights and shortcuts. See section 4.6.")


def test_seeded_model_continues_hello_i_am_like_the_book(nb):
    """Built under torch.manual_seed(123) with GPT_CONFIG_124M, it continues "Hello, I am" with the book's ids."""
    display = nb.require(NAME).display
    ids = nb.run("a3.greedy", {"cfg": GPT_CONFIG_124M, "seed": 123, "idx": torch.tensor([HELLO]),
                              "max_new_tokens": SEEDED_NEW_TOKENS, "context_size": 1024},
                 what=f"building {display} with GPT_CONFIG_124M", timeout=60)["ids"][0].tolist()
    expected = BOOK_IDS[: len(HELLO) + SEEDED_NEW_TOKENS]
    if ids == expected:
        return
    book_order = [tuple(p.shape) for p in GPTModel(TINY_CFG).parameters()]
    if _parameter_shapes(nb, TINY_CFG) != book_order:
        pytest.skip(f"informational: your module creates its weights in a different order than the book, so seeded "
                    f"numbers differ (greedy ids {ids}; the book's {expected})")
    pytest.fail(f"{display} built under torch.manual_seed(123) with GPT_CONFIG_124M, in eval mode, continues "
                f"\"Hello, I am\" {HELLO} with ids {ids[len(HELLO):]}; the book's are {expected[len(HELLO):]}. "
                f"Your layers are created in the book's order, so the same seed should give the same weights. "
                f"{PARTS} See section 4.7.", pytrace=False)
