"""GPTModel (sections 4.6-4.7): embeddings, the blocks, a final LayerNorm and the vocabulary head.

Checks the logits against the reference on the same weights, their shape, causality, the
parameter count (an output head tied to the token embedding, as in GPT-2, counts as the book's
head), dropout (off in eval mode; in training mode after the embeddings and in every block, equal
to the book's under the same seed), and the book's seeded "Hello, I am" continuation.

Run: pytest student_tests/a3 --submission assignments/a3/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_working
from grader.compare import compare_tensors
from reference.ch04 import GPT_CONFIG_124M, GPTModel
from student_tests.a3.common import (
    TINY_CFG,
    check_dropout_places,
    config_text,
    dropout_labels,
    fix_parts_first,
    gpt_configs,
    parameter_difference,
    token_batches,
    with_random_norms,
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
    reference = with_random_norms(GPTModel(cfg)).eval()
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
    expect_working(out, what=f"{nb.require(NAME).display} on ids of shape {tuple(ids.shape)}", inputs=ids)
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
    both = torch.cat([ids, changed])
    out = nb.forward_with(NAME, init={"cfg": cfg}, state_dict=None, inputs=[both])
    display = nb.require(NAME).display
    expect_working(out, what=f"{display} on ids of shape {tuple(both.shape)}", inputs=both)
    expect(tuple(out.shape) == (*both.shape, cfg["vocab_size"]),
           f"{display} gave logits of shape {tuple(out.shape)} for ids of shape {tuple(both.shape)}; expected "
           f"{(*both.shape, cfg['vocab_size'])}. See section 4.6.")
    leak = compare_tensors(out[1, :-1], out[0, :-1])
    expect(leak.ok, f"{display} is not causal: changing the last of {ids.shape[1]} tokens changed "
                    f"the logits at earlier positions (by up to {leak.max_abs:.3g}); ids {ids.tolist()}. "
                    f"See sections 3.5 and 4.6.")


def _tied_elements(nb, cfg) -> int:
    """Elements of the student's parameters that share a tensor with an earlier one (a tied output head)."""
    tree = nb.module_tree(NAME, {"cfg": cfg})
    shapes = {p.name: p.shape for p in tree.params}
    return sum(torch.Size(shapes[source]).numel() for source in tree.ties.values() if source in shapes)


@settings(max_examples=4)
@given(cfg=gpt_configs())
def test_has_the_parameter_count_of_the_reference(nb, cfg):
    """It has as many parameters as the book's model (a head tied to the token embedding counts), each of them used."""
    shapes = _parameter_shapes(nb, cfg)
    reference = [tuple(p.shape) for p in GPTModel(cfg).parameters()]
    count, expected = sum(torch.Size(s).numel() for s in shapes), sum(torch.Size(s).numel() for s in reference)
    display = nb.require(NAME).display
    tied = _tied_elements(nb, cfg) if count != expected else 0
    expect(count + tied == expected,
           f"{display} has {count:,} parameters where the book's has {expected:,} ({config_text(cfg)}): "
           f"{parameter_difference(shapes, reference)}. See section 4.6.")
    ids = torch.arange(cfg["context_length"]).reshape(1, -1) % cfg["vocab_size"]
    unused = nb.unused_parameters(NAME, init={"cfg": cfg}, inputs=[ids])
    expect(not unused, f"{display}: the parameters {unused} do not change its logits ({config_text(cfg)}); every "
                       f"embedding, block, norm and head weight takes part. See section 4.6.")


def test_moves_with_the_model_to_another_device(nb):
    """Moved with .to(device), it runs there: its blocks' masks are buffers and the positions are made on the
    input's device (torch.arange(seq_len, device=in_idx.device)); tried on PyTorch's meta device, standing for a GPU."""
    ids = torch.arange(8).reshape(2, 4) % TINY_CFG["vocab_size"]
    nb.expect_moves_with_the_module(NAME, init={"cfg": TINY_CFG}, inputs=[ids], section="4.6")


def test_dropout_acts_in_train_mode_only(nb):
    """With drop_rate 0.5, eval mode gives the drop_rate 0 logits and train mode changes them."""
    ids = torch.arange(12).reshape(2, 6) % TINY_CFG["vocab_size"]
    run = lambda rate, eval: nb.forward_with(NAME, init={"cfg": {**TINY_CFG, "drop_rate": rate}}, state_dict=None,
                                             inputs=[ids], seed=7, eval=eval)
    plain, evaluated, trained = run(0.0, True), run(0.5, True), run(0.5, False)
    display = nb.require(NAME).display
    expect_working(plain, what=f"{display} with drop_rate=0.0 in eval mode")  # NaN logits compare equal to NaN
    expect(compare_tensors(evaluated, plain).ok,
           f"{display} with drop_rate=0.5 in eval mode gave other logits than with drop_rate=0.0; "
           f"use nn.Dropout modules, which are inactive after model.eval(). See section 4.6.")
    expect(not compare_tensors(trained, plain).ok,
           f"{display} with drop_rate=0.5 in train mode gave the same logits as without dropout; "
           f"apply cfg['drop_rate'] to the embeddings, attention weights and shortcuts. See section 4.6.")


def test_dropout_acts_where_the_book_puts_it(nb):
    """In training mode, dropout (p = drop_rate) acts after the embeddings and in every block where the book's does:
    with the book's weights and the same seed, the logits equal the book's."""
    cfg = {**TINY_CFG, "drop_rate": 0.5}
    torch.manual_seed(12)
    reference = with_random_norms(GPTModel(cfg)).eval()
    ids = torch.arange(12).reshape(2, 6) * 7 % cfg["vocab_size"]
    check_dropout_places(nb, NAME, cfg=cfg, reference=reference, inputs=ids, labels=dropout_labels(cfg["n_layers"]),
                         described=f"ids {tuple(ids.shape)}, {cfg['n_layers']} blocks of {cfg['n_heads']} heads",
                         compare_check="test_logits_match_the_reference_on_the_same_weights", sections="4.5 and 4.6")


def test_seeded_model_continues_hello_i_am_like_the_book(nb):
    """Built under torch.manual_seed(123) with GPT_CONFIG_124M, it continues "Hello, I am" with the book's ids."""
    display = nb.require(NAME).display
    ids = nb.run("a3.greedy", {"cfg": GPT_CONFIG_124M, "seed": 123, "idx": torch.tensor([HELLO]),
                              "max_new_tokens": SEEDED_NEW_TOKENS, "context_size": 1024},
                 what=f"building {display} with GPT_CONFIG_124M", timeout=60)["ids"][0].tolist()
    expected = BOOK_IDS[: len(HELLO) + SEEDED_NEW_TOKENS]
    if ids == expected:
        return
    if not _initialised_like_the_book(nb):
        pytest.skip(f"informational: your module's initial weights differ from the book's under the same seed (its "
                    f"layers are created in another order, or initialised its own way), so seeded numbers differ "
                    f"(greedy ids {ids}; the book's {expected})")
    pytest.fail(f"{display} built under torch.manual_seed(123) with GPT_CONFIG_124M, in eval mode, continues "
                f"\"Hello, I am\" {HELLO} with ids {ids[len(HELLO):]}; the book's are {expected[len(HELLO):]}. "
                f"Built under one seed with a small config, your model has the book's initial weights, so the "
                f"difference comes from what it computes. {PARTS} See section 4.7.", pytrace=False)


def _initialised_like_the_book(nb) -> bool:
    """Whether the student's GPTModel(TINY_CFG) built under seed 123 has the book's initial parameters, in order."""
    mine = nb.run("a3.initial_parameters", {"cfg": TINY_CFG, "seed": 123},
                  what=f"building {nb.require(NAME).display}")["parameters"]
    torch.manual_seed(123)
    book = list(GPTModel(TINY_CFG).parameters())
    return len(mine) == len(book) and all(a.shape == b.shape and torch.equal(a, b.detach()) for a, b in zip(mine, book))
