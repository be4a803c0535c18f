"""replace_linear_with_lora (appendix E.4): wrap every nn.Linear of a model, at any depth.

Your replace_linear_with_lora(model, rank, alpha) runs on models the grader builds: a small test
model with Linear layers at depths 1 to 3 (inside a custom module, a Sequential and a
ModuleList) and a tiny GPTModel (the reference's, with a 2-class head). Checks the signature;
that every Linear layer ends up wrapped (the function must recurse into child modules); that
the wrapped GPT still gives its original outputs; the trainable parameters after the book's
recipe (freeze everything, then add LoRA) on drawn GPT sizes; and the book's count for GPT-2
small with rank 16: 2,666,528.

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from reference.ch04 import GPT_CONFIG_124M
from student_tests.a5.lora.common import (
    PROBES,
    SECTION,
    TINY_CFG,
    expected_trainable,
    lora_count_breakdown,
    reference_classifier,
    signature_problem,
)

pytestmark = pytest.mark.check(component="replace_linear_with_lora", section=SECTION)
NAME = "replace_linear_with_lora"
BOOK_TRAINABLE = 2_666_528  # GPT-2 small, 2-class head, all frozen, rank 16 (appendix E.4)


def _gpt_payload(cfg=TINY_CFG, *, seed=0) -> dict:
    model = reference_classifier(cfg, seed=seed)
    return {"model": "gpt", "cfg": cfg, "num_classes": 2, "state_dict": model.state_dict(),
            "x": torch.randint(0, cfg["vocab_size"], (2, cfg["context_length"]),
                               generator=torch.Generator().manual_seed(seed))}


def _replace(nb, payload: dict, *, rank=2, alpha=4, freeze=True) -> dict:
    what = f"calling {nb.require(NAME).display}(model, rank={rank}, alpha={alpha}) on a {payload['model']} model"
    return nb.run(f"{PROBES}.replace", {**payload, "rank": rank, "alpha": alpha, "freeze": freeze}, what=what)


def _unwrapped(result: dict) -> list[str]:
    return [f"{item['path']} ({item['type']})" for item in result["linears"] if not item["wrapped"]]


def test_exists_with_the_book_signature(nb):
    """replace_linear_with_lora(model, rank, alpha) exists."""
    problem = signature_problem(nb.require(NAME), ["model", "rank", "alpha"])
    expect(problem is None, f"{problem}; the book's signature is replace_linear_with_lora(model, rank, alpha) "
                            f"(appendix {SECTION})")


def test_wraps_linear_layers_at_every_depth(nb):
    """In a model with Linear layers 1 to 3 levels deep, every one is replaced by a LoRA-wrapped layer."""
    result = _replace(nb, {"model": "nested", "x": torch.randn(2, 4, generator=torch.Generator().manual_seed(0))})
    missed = _unwrapped(result)
    expect(not missed,
           f"{nb.require(NAME).display} left {len(missed)} of {len(result['linears'])} Linear layers unwrapped: "
           f"{', '.join(missed)} (a test model with Linear layers at `embed`, `inner.proj`, `inner.deeper.1`, "
           f"`blocks.0`, `blocks.1`, `head`). Call the function again on every child that is not a Linear layer, "
           f"so that nested layers are reached: `else: replace_linear_with_lora(module, rank, alpha)`. "
           f"See appendix {SECTION}.")


def test_wraps_every_linear_layer_of_a_gpt_model(nb):
    """In a tiny GPTModel every Linear layer (q, k, v, out_proj, both feed-forward layers, out_head) is wrapped."""
    result = _replace(nb, _gpt_payload())
    missed = _unwrapped(result)
    expect(not missed,
           f"{nb.require(NAME).display} on a GPTModel ({TINY_CFG['n_layers']} blocks) left {len(missed)} of "
           f"{len(result['linears'])} Linear layers unwrapped, e.g. {', '.join(missed[:6])}. The book wraps every "
           f"Linear layer, at any depth: the attention projections and feed-forward layers sit inside "
           f"trf_blocks[i].att and trf_blocks[i].ff. See appendix {SECTION}.")


def test_wrapped_gpt_model_starts_with_its_original_outputs(nb):
    """Right after wrapping its Linear layers, the GPT model's logits are unchanged (every LoRA update starts at zero)."""  # noqa: E501 (a check's title)
    result = _replace(nb, _gpt_payload(seed=1))
    wrapped = sum(item["wrapped"] for item in result["linears"])
    expect(wrapped > 0, f"{nb.require(NAME).display} wrapped none of a tiny GPTModel's {len(result['linears'])} Linear "
                        f"layers, so there is nothing whose start to check. See appendix {SECTION}.")
    same = compare_tensors(result["after"], result["before"])
    expect(same.ok, f"{nb.require(NAME).display} changed a tiny GPTModel's outputs: its logits after wrapping differ "
                    f"from those before by up to {same.max_abs:.3g}. Nothing may change until training, because "
                    f"every B starts at zero. If LoRALayer's checks fail too, fix those first. See appendix {SECTION}.")


@settings(max_examples=3)
@given(n_layers=st.integers(1, 3), emb_dim=st.sampled_from([8, 12, 16]), rank=st.integers(1, 4))
def test_trainable_parameters_after_freezing(nb, n_layers, emb_dim, rank):
    """Freeze every weight, then add LoRA: only rank x (in + out) per Linear layer is trainable."""
    cfg = {**TINY_CFG, "n_layers": n_layers, "emb_dim": emb_dim}
    result = _replace(nb, _gpt_payload(cfg), rank=rank, alpha=2 * rank)
    expected = expected_trainable(cfg, rank=rank)
    expect(result["trainable"] == expected,
           f"{nb.require(NAME).display}(model, rank={rank}, alpha={2 * rank}) on a frozen GPTModel with "
           f"{n_layers} block(s), emb_dim {emb_dim}: {result['trainable']:,} trainable parameters "
           f"({result['lora_trainable']:,}"
           f" of them new); expected {expected:,}, one A (in x rank) and one B (rank x out) per Linear layer: "
           f"{lora_count_breakdown(cfg, rank=rank)}. See appendix {SECTION}.")


def test_gpt2_small_has_the_books_trainable_parameter_count(nb):
    """GPT-2 small (124M, 2-class head), frozen, then rank 16: 2,666,528 trainable parameters, as in the book."""
    cfg = {**GPT_CONFIG_124M, "qkv_bias": True, "drop_rate": 0.0}
    count = nb.run(f"{PROBES}.book_count", {"cfg": cfg, "num_classes": 2, "rank": 16, "alpha": 16},
                   what=f"calling {nb.require(NAME).display} on GPT-2 small", timeout=120)["count"]
    expect(count == BOOK_TRAINABLE,
           f"{nb.require(NAME).display}(model, rank=16, alpha=16) on the frozen GPT-2 small classifier leaves "
           f"{count:,} parameters trainable; the book prints {BOOK_TRAINABLE:,} (appendix {SECTION}).")
