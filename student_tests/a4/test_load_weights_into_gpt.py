"""load_weights_into_gpt(gpt, params) (section 5.5): OpenAI's GPT-2 weights into your GPTModel.

The grader makes a `params` dict in OpenAI's layout (numpy arrays as the book's
load_gpt2_params_from_tf_ckpt returns them: wte, wpe, blocks[i].attn.c_attn / c_proj,
blocks[i].mlp.c_fc / c_proj with w of shape (in, out) and b, blocks[i].ln_1 / ln_2 with g and b,
and the final g and b) from a tiny random GPT-2, loads it into your GPTModel (qkv_bias=True)
with your function, and compares your model's logits with the reference model loaded from the
same params. When they differ, the report names the weights that went to the wrong place and
which common mistake (a missing transpose, query/key/value split in another order) your logits match.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import itertools
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from reference.ch04 import GPTModel
from reference.ch05 import load_weights_into_gpt

pytestmark = pytest.mark.check(component="load_weights_into_gpt", section="5.5")
NAME = "load_weights_into_gpt"
QKV = ("query", "key", "value")
OUTPUT = "your GPTModel's output"
LAYOUT_HINT = ("OpenAI stores each weight as (in, out), nn.Linear as (out, in): transpose every w (c_attn after "
               "np.split(w, 3, axis=-1) into query, key, value in that order, c_proj, c_fc, mlp c_proj); GPT-2 ties "
               "the output head to wte")


@st.composite
def gpt2_configs(draw):
    """A tiny GPT-2 config (qkv_bias=True, as GPT-2 has), with a seed for its random weights."""
    n_heads, head_dim = draw(st.integers(1, 2)), draw(st.sampled_from([4, 8]))
    return {"vocab_size": draw(st.integers(20, 40)), "context_length": 8, "emb_dim": n_heads * head_dim,
            "n_heads": n_heads, "n_layers": draw(st.integers(1, 2)), "drop_rate": 0.0, "qkv_bias": True}, \
        draw(st.integers(0, 2**16))


def openai_params(cfg: dict, seed: int) -> dict[str, torch.Tensor]:
    """Flat OpenAI-layout weights ("blocks.0.attn.c_attn.w", ...) of a random GPT-2 with this config."""
    torch.manual_seed(seed)
    model, flat = GPTModel(cfg), {}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # scales and shifts away from 1 and 0, so swaps show
    flat.update(wte=model.tok_emb.weight, wpe=model.pos_emb.weight, g=model.final_norm.scale, b=model.final_norm.shift)
    for i, block in enumerate(model.trf_blocks):
        att, ff, prefix = block.att, block.ff.layers, f"blocks.{i}"
        flat[f"{prefix}.attn.c_attn.w"] = torch.cat([att.W_query.weight.T, att.W_key.weight.T, att.W_value.weight.T], 1)
        flat[f"{prefix}.attn.c_attn.b"] = torch.cat([att.W_query.bias, att.W_key.bias, att.W_value.bias])
        flat.update({f"{prefix}.attn.c_proj.w": att.out_proj.weight.T, f"{prefix}.attn.c_proj.b": att.out_proj.bias,
                     f"{prefix}.mlp.c_fc.w": ff[0].weight.T, f"{prefix}.mlp.c_fc.b": ff[0].bias,
                     f"{prefix}.mlp.c_proj.w": ff[2].weight.T, f"{prefix}.mlp.c_proj.b": ff[2].bias,
                     f"{prefix}.ln_1.g": block.norm1.scale, f"{prefix}.ln_1.b": block.norm1.shift,
                     f"{prefix}.ln_2.g": block.norm2.scale, f"{prefix}.ln_2.b": block.norm2.shift})
    return {k: v.detach().clone().contiguous() for k, v in flat.items()}


def _nested(flat: dict) -> dict:
    params = {"blocks": []}
    for key, value in flat.items():
        parts, node = key.split("."), params
        if parts[0] == "blocks":
            while len(params["blocks"]) <= int(parts[1]):
                params["blocks"].append({})
            node, parts = params["blocks"][int(parts[1])], parts[2:]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return params


def reference_loaded(cfg: dict, flat: dict) -> GPTModel:
    model = GPTModel(cfg)
    load_weights_into_gpt(model, _nested(flat))
    return model.eval()


def _chunks(flat, fn):
    return {k: (torch.cat(fn(v.chunk(3, dim=-1)), dim=-1) if ".c_attn." in k else v) for k, v in flat.items()}


def _swap_scale_shift(key: str) -> str:
    parts = key.split(".")
    if parts[-1] in ("g", "b") and (len(parts) == 1 or parts[-2] in ("ln_1", "ln_2")):
        parts[-1] = "b" if parts[-1] == "g" else "g"
    return ".".join(parts)


def mistakes(flat: dict) -> dict[str, dict]:
    """Common loading mistakes as the params the book's loader would need to reproduce them."""
    variants = {}
    for order in itertools.permutations(range(3)):
        if order != (0, 1, 2):
            named = ", ".join(QKV[i] for i in order)
            variants[f"c_attn split as {named} (instead of query, key, value)"] = _chunks(
                flat, lambda parts, order=order: [parts[order.index(i)] for i in range(3)])
    variants["the query, key and value weights not transposed"] = {
        k: (torch.cat([c.T for c in v.chunk(3, dim=-1)], dim=-1) if k.endswith("c_attn.w") else v)
        for k, v in flat.items()}
    variants["attn.c_proj.w not transposed"] = {k: (v.T if k.endswith("attn.c_proj.w") else v) for k, v in flat.items()}
    variants["ln_1 and ln_2 swapped"] = {k.replace("ln_1", "ln_x").replace("ln_2", "ln_1").replace("ln_x", "ln_2"): v
                                         for k, v in flat.items()}
    variants["g (scale) and b (shift) swapped in the layer norms"] = {_swap_scale_shift(k): v for k, v in flat.items()}
    return variants


def _misplaced(state: dict, expected: dict) -> list[str]:
    """Per parameter of the book's names that differs: what it holds instead."""
    notes = []
    for name, value in expected.items():
        mine = state.get(name)
        if mine is None or (mine.shape == value.shape and compare_tensors(mine, value).ok):
            continue
        holds = next((f"what belongs in {other}{' (transposed)' if t else ''}" for other, v in expected.items()
                      for t, w in ((False, v), (True, v.T if v.dim() == 2 else None))
                      if w is not None and w.shape == mine.shape and other != name
                      and compare_tensors(mine, w).ok), None)
        if holds is None and value.dim() == 2 and mine.shape == value.T.shape and compare_tensors(mine, value.T).ok:
            holds = "the right values, transposed"
        if holds is None and name == "out_head.weight":
            holds = "other values than wte (GPT-2 ties the output head to the token embedding)"
        notes.append(f"{name} holds {holds or 'other values'}")
    return notes


def _untransposed(message: str, flat: dict) -> str:
    """When an error names a shape and its transpose: which OpenAI weight went in without .T."""
    pairs = {(int(a), int(b)) for a, b in re.findall(r"(\d+),\s*(\d+)", message)}
    names = sorted({re.sub(r"^blocks\.\d+\.", "", key) for key, value in flat.items() if value.dim() == 2
                    and tuple(value.shape) in pairs and tuple(value.shape)[::-1] in pairs
                    and value.shape[0] != value.shape[1]})
    right = message.rfind("Right")  # the book's assign(): "Left: <parameter shape>, Right: <array shape>"
    given = {(int(a), int(b)) for a, b in re.findall(r"(\d+),\s*(\d+)", message[right:])} if right >= 0 else pairs
    names = [n for n in names if any(tuple(v.shape) in given for k, v in flat.items()
                                     if re.sub(r"^blocks\.\d+\.", "", k) == n)] or names
    if not names:
        return ""
    shape = next(tuple(v.shape) for k, v in flat.items() if re.sub(r"^blocks\.\d+\.", "", k) == names[0])
    return (f" The two shapes are transposes of each other: OpenAI's {' / '.join(names)} of shape {shape} "
            f"needs .T to fit nn.Linear's {shape[::-1]} weight.")


def _agrees(mine, value) -> bool:
    return mine is not None and mine.shape == value.shape and compare_tensors(mine, value).ok


def _misplaced_bound(nb, cfg, state: dict, expected_model) -> list[str]:
    """For a GPTModel with its own parameter names: bind the reference's loaded weights to it (grader.bind), take
    the binding most of the student's loaded weights agree with, and name the parameters that differ."""
    try:
        binding = nb.bind("GPTModel", {"cfg": cfg}, expected_model)
    except (Exception, pytest.fail.Exception, pytest.skip.Exception):  # noqa: BLE001 - a diagnosis, never the verdict
        return []
    if not binding.candidates:
        return []
    best = max(binding.candidates, key=lambda c: sum(_agrees(state.get(n), v) for n, v in c.state_dict.items()))
    book = {student: f"the book's {names}" for student, names, _ in best.pairs}
    return [f"{name} ({book.get(name, 'no book weight')}) holds "
            + ("the right values, transposed" if value.dim() == 2 and _agrees(state[name], value.T) else "other values")
            for name, value in best.state_dict.items() if name in state and not _agrees(state[name], value)]


def _diagnosis(nb, cfg, flat, inputs, result, expected_model) -> str:
    """Which common mistake the student's logits match, and which of their weights are out of place."""
    with torch.no_grad():
        matches = [name for name, params in mistakes(flat).items()
                   if compare_tensors(result["logits"], reference_loaded(cfg, params)(inputs), atol=1e-4).ok]
    book_state = {k: v for k, v in expected_model.state_dict().items() if "mask" not in k}
    misplaced = (_misplaced(result["state"], book_state) if set(book_state) <= set(result["state"])
                 else _misplaced_bound(nb, cfg, result["state"], expected_model))
    return ((f"Your logits match loading with {' or '.join(matches)}. " if matches else "")
            + (f"Your model's weights: {'; '.join(misplaced[:4])}. " if misplaced else ""))


def _load(nb, cfg, seed, inputs):
    component = nb.require(NAME)
    nb.require("GPTModel")
    flat = openai_params(cfg, seed)
    result = nb.run("a4.load_weights", {"cfg": cfg, "seed": seed, "params": flat, "inputs": inputs},
                    what=f"loading GPT-2-layout weights into your GPTModel with {component.display}")
    return component, flat, result


def test_exists_with_the_book_signature(nb):
    """load_weights_into_gpt(gpt, params) exists."""
    component = nb.require(NAME)
    expect(list(component.params[:2]) == ["gpt", "params"],
           f"{component.display} takes {list(component.params)}; the book's signature is "
           f"load_weights_into_gpt(gpt, params) (section 5.5)")


@settings(max_examples=3)
@given(case=gpt2_configs())
def test_loaded_model_gives_the_reference_logits(nb, case):
    """Loaded from the same OpenAI-layout params, your GPTModel gives the reference model's logits."""
    cfg, seed = case
    inputs = torch.randint(0, cfg["vocab_size"], (2, 6), generator=torch.Generator().manual_seed(seed))
    component, flat, result = _load(nb, cfg, seed, inputs)
    setup = f"a GPT-2 with {', '.join(f'{k}={v}' for k, v in cfg.items())} (seed {seed})"
    for failure in ("load_error", "forward_error"):
        expect(failure not in result,
               f"{component.display} on {setup}: "
               + ("loading raised" if failure == "load_error" else "the loaded model's forward pass raised")
               + f" {result.get(failure, {}).get('error')}: {result.get(failure, {}).get('message')}."
               + _untransposed(str(result.get(failure, {}).get("message")), flat) + f" {LAYOUT_HINT}. See section 5.5")
    expected_model = reference_loaded(cfg, flat)
    with torch.no_grad():
        comparison = compare_tensors(result["logits"], expected_model(inputs), atol=1e-4, rtol=1e-4)
    expect(comparison.ok, f"{component.display} on {setup}: {comparison.describe(OUTPUT)}. "
                          f"{_diagnosis(nb, cfg, flat, inputs, result, expected_model)}{LAYOUT_HINT}. See section 5.5")
