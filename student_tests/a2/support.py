"""Shared helpers for the assignment 2 checks: strategies, runs in the kernel, bug recognition.

Not a check module (its name does not start with `test_`); the check modules import it.
"""

import math
from unittest import mock

import pytest
import torch
from hypothesis import strategies as st

from grader.checks import expect, expect_close, expect_working
from grader.compare import compare_tensors
from reference import ch03

# "Your journey starts with one step": the book's 6 x 3 toy input (section 3.3).
TOY_INPUTS = torch.tensor([[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64],
                           [0.22, 0.58, 0.33], [0.77, 0.25, 0.10], [0.05, 0.80, 0.55]])
BOOK_ATOL = 1e-4  # the book prints 4 decimals


# ---------------------------------------------------------------- strategies

@st.composite
def attention_sizes(draw, *, max_dim=8, min_tokens=1, max_tokens=8):
    """(d_in, d_out, tokens) with d_in != d_out, so a transposed weight cannot pass unnoticed."""
    d_in = draw(st.integers(2, max_dim))
    d_out = draw(st.integers(2, max_dim).filter(lambda d: d != d_in))
    return d_in, d_out, draw(st.integers(min_tokens, max_tokens))


@st.composite
def head_layouts(draw, *, min_heads=1, max_heads=4, min_head_dim=1, max_head_dim=4):
    """(num_heads, head_dim); d_out = num_heads * head_dim."""
    return draw(st.integers(min_heads, max_heads)), draw(st.integers(min_head_dim, max_head_dim))


@st.composite
def kv_layouts(draw, *, max_heads=8, max_head_dim=4):
    """(num_heads, num_kv_groups, head_dim) with num_kv_groups dividing num_heads."""
    num_heads = draw(st.sampled_from([h for h in (1, 2, 3, 4, 6, 8) if h <= max_heads]))
    groups = draw(st.sampled_from([g for g in range(1, num_heads + 1) if num_heads % g == 0]))
    return num_heads, groups, draw(st.integers(1, max_head_dim))


@st.composite
def multihead_inits(draw, *, min_heads=1, max_heads=4, max_head_dim=4, context_length=8, min_tokens=1):
    """(constructor keywords of MultiHeadAttention, tokens) with d_in != d_out and tokens <= context_length."""
    num_heads, head_dim = draw(head_layouts(min_heads=min_heads, max_heads=max_heads, max_head_dim=max_head_dim))
    d_out = num_heads * head_dim
    d_in = draw(st.integers(2, 8).filter(lambda d: d != d_out))
    init = {"d_in": d_in, "d_out": d_out, "context_length": context_length, "dropout": 0.0, "num_heads": num_heads}
    return init, draw(st.integers(min_tokens, context_length))


# ---------------------------------------------------------------- running the student's module

def forward_runs(nb, name: str, runs: list[dict], *, allow_nan: bool = False) -> tuple[list, list]:
    """Build `name` once per run (init, seed, state_dict, eval, inputs, capture) in one kernel call.

    Outputs with NaN fail the check with the usual cause unless `allow_nan` (checks of shapes)."""
    component = nb.require(name)
    data = nb.run("attention.forward_runs", {"name": name, "runs": runs}, what=f"running {component.display}")
    for run, output in zip(runs, data["outputs"]):
        expect(isinstance(output, torch.Tensor), f"{component.display} returned a {type(output).__name__}, "
                                                 "not a tensor")
        if torch.isnan(output).any() and not allow_nan:
            expect(False, f"{component.display} with {run['init']}: {nan_hint(output)}")
    return data["outputs"], data["captured"]


def nan_hint(output: torch.Tensor) -> str:
    """Where the output is NaN, and the usual reason in attention code."""
    where = torch.isnan(output).nonzero()[0].tolist()
    return (f"the output is NaN (first at index {where}). A query whose scores are all masked (-inf everywhere) "
            "gets NaN from the softmax: mask only the positions above the diagonal, "
            "torch.triu(..., diagonal=1) (section 3.5.1)")


def expect_same(actual: torch.Tensor, expected: torch.Tensor, *, what: str, hint: str) -> None:
    """Fail unless two outputs of the student's own module agree (a property, not the reference)."""
    result = compare_tensors(actual, expected)
    if result.shape_problem:
        expect(False, f"{what}: {result.shape_problem}. {hint}")
    expect(result.ok, f"{what}: they differ by up to {result.max_abs:.3g}; worst at index "
                      f"{list(result.worst_index)}: {result.actual_value:.6g} where {result.expected_value:.6g} "
                      f"was expected. {hint}")


def attention_maps(captured: list, tokens: int) -> list[torch.Tensor]:
    """The softmax results shaped (..., tokens, tokens): the attention weights."""
    return [t for t in captured if t.dim() >= 2 and tuple(t.shape[-2:]) == (tokens, tokens)]


def change_future(x: torch.Tensor, position: int, seed: int) -> torch.Tensor:
    """A copy of x (..., T, d) whose tokens after `position` are replaced by other random ones."""
    g = torch.Generator().manual_seed(seed)
    changed = x.clone()
    changed[..., position + 1:, :] = torch.rand(changed[..., position + 1:, :].shape, generator=g) * 4 - 2
    return changed


def parameter_count(shapes) -> int:
    return sum(math.prod(shape) for _, shape, is_buffer in shapes if not is_buffer)


def reference_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def rows(t: torch.Tensor, limit: int = 6) -> str:
    """A short printout of a tensor's last two dims (first batch item), 4 decimals like the book."""
    while t.dim() > 2:
        t = t[0]
    return ", ".join(str([round(v, 4) for v in row.tolist()]) for row in t.reshape(-1, t.shape[-1])[:limit])


# ---------------------------------------------------------------- recognising the usual bugs

def _unscaled(queries, keys, values, mask=None, dropout=None):
    scores = queries @ keys.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ values


def _softmax_over_queries(queries, keys, values, mask=None, dropout=None):
    scores = queries @ keys.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-2).nan_to_num() @ values


def _mask_after_softmax(queries, keys, values, mask=None, dropout=None):
    weights = torch.softmax(queries @ keys.transpose(-2, -1) / keys.shape[-1] ** 0.5, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(mask, 0.0)
    return weights @ values


BUGS = {
    "scores not scaled by sqrt(d_k)? Divide the scores by keys.shape[-1] ** 0.5 before the softmax (section 3.4.1)":
        _unscaled,
    "softmax over the wrong dimension? Normalise each query's row of scores: softmax(..., dim=-1) (section 3.3.1)":
        _softmax_over_queries,
    "mask applied after the softmax? Fill the future scores with -inf before the softmax (section 3.5.2)":
        _mask_after_softmax,
}


def _split_without_transpose(self, t):
    return t.view(t.shape[0], self.num_heads, t.shape[1], self.head_dim)


def _repeat_instead_of_interleave(self, repeats, dim=None, **kwargs):
    return self.repeat(*[repeats if d == dim % self.dim() else 1 for d in range(self.dim())])


PATCHES = {hint: mock.patch.object(ch03, "scaled_attention", fn) for hint, fn in BUGS.items()}
PATCHES["heads split without the transpose? View the projections as (b, tokens, num_heads, head_dim), then "
        ".transpose(1, 2) (section 3.6.2)"] = mock.patch.object(ch03.MultiHeadAttention, "_split_heads",
                                                               _split_without_transpose)
PATCHES["key/value groups copied with .repeat? Query head h must use group h // (num_heads // num_kv_groups): "
        ".repeat_interleave(group_size, dim=1) (exercise 3.3)"] = mock.patch.object(
            torch.Tensor, "repeat_interleave", _repeat_instead_of_interleave)


def diagnose(actual: torch.Tensor, reference: torch.nn.Module, inputs: list[torch.Tensor]) -> str:
    """A hint naming the known bug whose reference variant reproduces `actual`, or ''."""
    if torch.isnan(torch.as_tensor(actual)).any():
        return "In your output, " + nan_hint(torch.as_tensor(actual))
    for hint, patch in PATCHES.items():
        with patch, torch.no_grad():
            variant = reference(*inputs)
        if compare_tensors(actual, variant).ok:
            return f"Your output equals the reference's with {hint}"
    return ""


# ---------------------------------------------------------------- seeded book outputs

def check_seeded_book_output(nb, name: str, *, init: dict, seed: int, inputs: torch.Tensor,
                             book: torch.Tensor, reference_class, section: str) -> None:
    """Pass when the student's own module built under `seed` prints the book's numbers. When it does not, the
    book's weights for that seed (the reference built under the seed) are bound to it: if it then prints the
    book's numbers, it only creates its weights in another order, layout or initialisation (informational);
    if not, it computes something else (a failure)."""
    component = nb.require(name)
    output = nb.forward_with(name, init=init, state_dict=None, inputs=[inputs], seed=seed)
    if compare_tensors(output, book, atol=BOOK_ATOL, rtol=0).ok:
        return
    torch.manual_seed(seed)
    reference = reference_class(**init).eval()
    bound = nb.forward(name, init=init, reference=reference, inputs=[inputs])
    result = compare_tensors(bound, book, atol=BOOK_ATOL, rtol=0)
    expect(result.ok, f"{component.display} given the book's weights for torch.manual_seed({seed}) should print the "
                      f"book's numbers on the toy input (section {section}), but it does not (largest difference "
                      f"{result.max_abs:.3g}, at index {list(result.worst_index)}): yours: "
                      f"{rows(torch.as_tensor(bound))}; the book's: {rows(book)}")
    pytest.skip(f"informational: {component.display} creates its weights in another order, layout or "
                f"initialisation than the book, so under torch.manual_seed({seed}) it prints other numbers "
                f"({rows(torch.as_tensor(output))}); given the book's weights it prints the book's")


# ---------------------------------------------------------------- check bodies shared by the components

def check_matches_reference(nb, name: str, *, init: dict, reference: torch.nn.Module, x: torch.Tensor,
                            what: str, section: str, expected: torch.Tensor | None = None, hint: str = "") -> None:
    """The student's module on the reference's weights (transplanted) gives the reference's output
    (or `expected`, the same output computed another way)."""
    reference.eval()
    output = nb.forward(name, init=init, reference=reference, inputs=[x])
    if expected is None:
        with torch.no_grad():
            expected = reference(x)
    if not compare_tensors(output, expected).ok:  # name the likely bug only when there is one
        expect_close(output, expected, what=f"{nb.require(name).display}{what}",
                     hint=diagnose(output, reference, [x]) or hint or f"See section {section}")


def check_identical_tokens(nb, name: str, *, init: dict, token: torch.Tensor, tokens: int, width: int,
                           section: str, seed: int) -> None:
    """`tokens` copies of one token (shape (..., 1, d_in)) give that token's one-token output at every position."""
    many_x = token.repeat_interleave(tokens, dim=-2)
    (many, one), _ = forward_runs(nb, name, [{"init": init, "inputs": [many_x]}, {"init": init, "inputs": [token]}])
    display, want = nb.require(name).display, (*many_x.shape[:-1], width)
    expect(tuple(many.shape) == want, f"{display} with {init}: output shape {tuple(many.shape)} for inputs of shape "
                                      f"{tuple(many_x.shape)}; expected {want} (section {section})")
    expect_working(one, what=f"{display} with {init} on one token (seed {seed})", inputs=token)
    expect_same(many, one.expand_as(many), what=f"{display} with {init}: outputs for {tokens} copies of one token "
                                               f"(seed {seed}) against its one-token output",
                hint="Equal tokens get equal scores, so every output should be that token's own output: "
                     f"do each query's attention weights sum to 1? (section {section})")


def check_softmax_rows(nb, name: str, *, init: dict, x: torch.Tensor, section: str) -> None:
    """The softmax results shaped (tokens, tokens) sum to 1 along each query's row."""
    tokens = x.shape[-2]
    _, [captured] = forward_runs(nb, name, [{"init": init, "inputs": [x], "capture": True}])
    maps, display = attention_maps(captured, tokens), nb.require(name).display
    if not maps:
        pytest.skip(f"{display} calls no softmax on a ({tokens}, {tokens}) score matrix that the grader could "
                    "observe; the row sums are checked through the outputs instead")
    nb.plot_matrix(f"{nb.require(name).book_name}: attention weights of the first head ({tokens} tokens)",
                   maps[0].reshape(-1, tokens, tokens)[0].clamp(0, 1))
    sums = torch.stack([m.sum(dim=-1) for m in maps])
    expect_same(sums, torch.ones_like(sums), what=f"{display} with {init}: the sums over the keys of the attention "
                                                  f"weights ({tokens} tokens) against 1",
                hint="Each query's weights must sum to 1: take the softmax over the last dimension, dim=-1 "
                     "(section 3.3.1)")


def check_causal(nb, name: str, *, init: dict, x: torch.Tensor, position: int, seed: int, section: str) -> None:
    """Changing the tokens after `position` leaves the outputs up to `position` unchanged."""
    changed = change_future(x, position, seed)
    (before, after), _ = forward_runs(nb, name, [{"init": init, "inputs": [x]}, {"init": init, "inputs": [changed]}])
    tokens = x.shape[-2]
    expect_working(before, what=f"{nb.require(name).display} with {init} on {tokens} tokens (inputs seed {seed})",
                   inputs=x)
    expect_same(after[..., : position + 1, :], before[..., : position + 1, :],
                what=f"{nb.require(name).display} with {init}: outputs of tokens 0..{position} before and after "
                     f"changing tokens {position + 1}..{tokens - 1} of {tokens} (inputs seed {seed})",
                hint="A token may only attend to itself and earlier tokens: mask the scores above the diagonal "
                     f"with -inf before the softmax (section {section})")


def check_qkv_bias(nb, name: str, *, init: dict, reference_class, x: torch.Tensor, section: str) -> None:
    """qkv_bias=True adds exactly the reference's query/key/value biases; False adds none; and every parameter
    (without biases) shapes the output on `x`."""
    display = nb.require(name).display
    counts = {flag: parameter_count(nb.state_shapes(name, {**init, "qkv_bias": flag})) for flag in (False, True)}
    want = {flag: reference_count(reference_class(**init, qkv_bias=flag)) for flag in (False, True)}
    expect(counts[True] - counts[False] == want[True] - want[False],
           f"{display} with {init}: qkv_bias=True adds {counts[True] - counts[False]} parameters to qkv_bias=False, "
           f"the book's adds {want[True] - want[False]} (one bias per query, key and value output; section {section})")
    expect_parameters_used(nb, name, init={**init, "qkv_bias": False}, x=x, section=section)


def expect_parameters_used(nb, name: str, *, init: dict, x: torch.Tensor, section: str) -> None:
    """Fail unless every parameter of the module built with `init` shapes its output on `x` (a module that
    ignores its weights has the book's parameters and nothing else of the book)."""
    unused = nb.unused_parameters(name, init=init, inputs=[x])
    expect(not unused, f"{nb.require(name).display} with {init}: the parameter(s) {unused[:6]} do not change its "
                       f"output on inputs of shape {tuple(x.shape)} (their gradient is zero): the query, key and "
                       f"value projections (and the output projection) must all be used (section {section})")


def check_dropout_off_in_eval(nb, name: str, *, init: dict, x: torch.Tensor, seed: int, section: str) -> None:
    """In eval mode a module built with dropout=0.5 gives the outputs of the same module with dropout=0.0."""
    (dropped, plain), _ = forward_runs(nb, name, [{"init": {**init, "dropout": 0.5}, "inputs": [x], "seed": seed},
                                                  {"init": {**init, "dropout": 0.0}, "inputs": [x], "seed": seed}])
    expect_working(plain, what=f"{nb.require(name).display} with {init} in eval mode (seed {seed})", inputs=x)
    expect_same(dropped, plain, what=f"{nb.require(name).display} in eval mode: outputs with dropout=0.5 and with "
                                     f"dropout=0.0 (same weights, seed {seed})",
                hint=f"Dropout must only act in training: use nn.Dropout (it is off after .eval()) (section {section})")


def check_dropout_on_in_training(nb, name: str, *, init: dict, x: torch.Tensor, section: str) -> None:
    """In training mode dropout=0.5 changes the outputs (it drops attention weights): they differ from those of
    the same module built with dropout=0.0 (same weights; compared with that, not with eval mode, so a dropout that
    also acts in eval mode is test_dropout_is_off_in_eval_mode's finding, not this one's)."""
    runs = [{"init": {**init, "dropout": 0.5}, "inputs": [x], "eval": False},
            {"init": {**init, "dropout": 0.0}, "inputs": [x], "eval": True}]
    (train, plain), _ = forward_runs(nb, name, runs, allow_nan=True)
    expect(not compare_tensors(train, plain).ok,
           f"{nb.require(name).display} with dropout=0.5 gives in training mode the outputs of the same module "
           f"built with dropout=0.0; expected dropout on the attention weights while training (section {section})")


# ---------------------------------------------------------------- training mode: where dropout acts, and its scale

DROPOUT = 0.5  # the rate the training-mode checks build modules with


def check_dropout_position(nb, name: str, *, init: dict, x: torch.Tensor, section: str,
                           optional: bool = False) -> None:
    """In training mode every dropout that acts has the module's rate and acts on attention weights,
    (batch, tokens, tokens) or (batch, heads, tokens, tokens). `optional`: a module without dropout is
    informational (an exercise whose book version has none)."""
    display = nb.require(name).display
    output, calls = nb.forward_with(name, init={**init, "dropout": DROPOUT}, state_dict=None, inputs=[x], eval=False,
                                    seed=11, trace_dropout=True)
    expect_working(output, what=f"{display} with dropout={DROPOUT} in training mode", inputs=x)
    if not calls:
        pytest.skip(f"informational: {display} calls no dropout the grader can observe (nn.Dropout, F.dropout or "
                    "scaled_dot_product_attention's dropout_p); "
                    + ("its dropout is not checked" if optional else "the first token's output checks it instead"))
    batch, tokens = x.shape[0], x.shape[-2]
    wrong = [tuple(c["shape"]) for c in calls
             if len(c["shape"]) not in (3, 4) or c["shape"][0] != batch or tuple(c["shape"][-2:]) != (tokens, tokens)]
    expect(not wrong, f"{display} with dropout={DROPOUT} in training mode, on inputs of shape {tuple(x.shape)}: "
                      f"dropout acts on a tensor of shape {wrong[0] if wrong else None}; "
                      "the book drops attention weights "
                      f"only, shape {(batch, tokens, tokens)} or ({batch}, num_heads, {tokens}, {tokens}): apply "
                      f"self.dropout to the softmax's result, not to the inputs, values or outputs (section {section})")
    scores = [tuple(c["shape"]) for c in calls if not c.get("fused") and c.get("weights") is False]
    expect(not scores, f"{display} with dropout={DROPOUT} in training mode, on inputs of shape {tuple(x.shape)}: "
                       f"dropout acts on a {scores[0] if scores else None} tensor whose rows do not each sum to 1, so "
                       "not on the softmax's attention weights (on the scores before it?); apply self.dropout once, "
                       f"to the softmax's result (section {section})")
    rates = sorted({round(c["p"], 6) for c in calls} - {DROPOUT})
    expect(not rates, f"{display} built with dropout={DROPOUT} drops attention weights with p={rates[:1]}: pass the "
                      f"constructor's dropout rate to nn.Dropout (section {section})")


def _first_token_hint(got: torch.Tensor, plain: torch.Tensor) -> str:
    if compare_tensors(got, plain).ok:
        return ("it equals the output without dropout, unscaled: is dropout applied at all in training, and are "
                "kept weights scaled by 1/(1-p)? nn.Dropout does both")
    return ("it is neither: dropout seems to act elsewhere (on the inputs, the values or the outputs) or by element "
            "instead of on the attention weights")


def check_first_token_dropout(nb, name: str, *, init: dict, x: torch.Tensor, head_width: int, section: str) -> None:
    """Token 0 attends only to itself (attention weight 1). With dropout p on the attention weights, in training
    each head's output for token 0 is 0 (weight dropped) or 1/(1-p) times its output without dropout (kept,
    scaled). The module's own weights: every run builds it under the same seed."""
    built, off = {**init, "dropout": DROPOUT}, {**init, "dropout": 0.0}
    runs = [{"init": off, "inputs": [x], "seed": 5, "eval": True}, {"init": built, "inputs": [x], "seed": 5,
                                                                        "eval": False},
            {"init": off, "inputs": [x[:, :1]], "seed": 5, "eval": True}]
    (plain, trained, alone), _ = forward_runs(nb, name, runs)
    display = nb.require(name).display
    expect_working(plain, what=f"{display} with {off} in eval mode", inputs=x)
    if not compare_tensors(plain[:, :1], alone).ok:
        pytest.skip("informational: token 0's output depends on the tokens after it (see test_is_causal), so this "
                    "check, which needs token 0 to attend only to itself, cannot tell where dropout acts")
    expect(trained.shape == plain.shape, f"{display}: output shape {tuple(trained.shape)} in training mode, "
                                         f"{tuple(plain.shape)} in eval mode")
    plain0 = plain[:, 0, :].reshape(x.shape[0], -1, head_width)
    got0 = trained[:, 0, :].reshape(x.shape[0], -1, head_width)
    dropped = got0.abs().amax(-1) <= 1e-6
    kept = (got0 - plain0 / (1 - DROPOUT)).abs().amax(-1) <= 1e-5 + 1e-4 * plain0.abs().amax(-1) / (1 - DROPOUT)
    bad = (~(dropped | kept)).nonzero().tolist()
    if bad:
        b, h = bad[0]
        expect(False, f"{display} with dropout={DROPOUT} in training mode: token 0 attends only to itself, so each "
                      f"head's output for it should be 0 (its one weight dropped) or {1 / (1 - DROPOUT):g} x its "
                      f"output without dropout (kept, scaled by 1/(1-p)); in batch row {b}, head {h} it is "
                      f"{[round(v, 4) for v in got0[b, h].tolist()]}, without dropout it is "
                      f"{[round(v, 4) for v in plain0[b, h].tolist()]}: {_first_token_hint(got0[b, h], plain0[b, h])} "
                      f"(section {section})")


def first_token_outputs(reference: torch.nn.Module, x: torch.Tensor, p: float) -> torch.Tensor:
    """(2^heads, batch, d_out): the reference's training-mode outputs for token 0, one per pattern of kept
    and dropped heads (a kept head's single attention weight is scaled by 1/(1-p))."""
    import itertools

    batch, heads = x.shape[0], reference.num_heads
    with torch.no_grad():
        values = reference.W_value(x[:, :1, :]).reshape(batch, -1, reference.head_dim)  # (b, kv heads, head_dim)
        values = values.repeat_interleave(heads // values.shape[1], dim=1)  # query head h reads its group's values
        outputs = [reference.out_proj((values * torch.tensor(kept).view(1, heads, 1) / (1 - p)).reshape(batch, -1))
                   for kept in itertools.product((0.0, 1.0), repeat=heads)]
    return torch.stack(outputs)


def check_first_token_dropout_bound(nb, name: str, *, init: dict, reference: torch.nn.Module, x: torch.Tensor,
                                   section: str, optional: bool = False) -> None:
    """On the reference's weights (bound in eval mode), the training-mode output of token 0 is one of the
    reference's: each head's single attention weight dropped (0) or kept and scaled by 1/(1-p), then out_proj."""
    display = nb.require(name).display
    init = {**init, "dropout": DROPOUT}
    plain = nb.forward(name, init=init, reference=reference, inputs=[x])
    state = nb.bound_state(name)
    if state is None:
        pytest.skip(f"informational: {display} does not give the reference's outputs in eval mode (see "
                    "test_matches_the_reference_on_the_same_weights), so its dropout is not compared with the "
                    "reference's")
    trained = nb.forward_with(name, init=init, state_dict=state, inputs=[x], eval=False, seed=5)
    if optional and compare_tensors(trained, plain).ok:
        pytest.skip(f"informational: {display} applies no dropout in training mode (the book's version of this "
                    "exercise has none)")
    allowed = first_token_outputs(reference, x, DROPOUT)
    got = torch.as_tensor(trained)[:, 0, :]
    scale = allowed.abs().amax(-1)
    close = ((allowed - got[None]).abs().amax(-1) <= 1e-5 + 1e-4 * scale).any(dim=0)
    bad = (~close).nonzero().flatten().tolist()
    if bad:
        b = bad[0]
        expect(False, f"{display} with dropout={DROPOUT} in training mode, on the reference's weights: token 0 "
                      f"attends only to itself, so each head's single attention weight is dropped (0) or kept and "
                      f"scaled by 1/(1-p) before out_proj; in batch row {b} your output for it is "
                      f"{[round(v, 4) for v in got[b].tolist()[:6]]}, none of the reference's "
                      f"{len(allowed)} possible outputs (all heads kept: "
                      f"{[round(v, 4) for v in allowed[-1, b].tolist()[:6]]}): "
                      f"{_first_token_hint(got[b], torch.as_tensor(plain)[b, 0])} (section {section})")
