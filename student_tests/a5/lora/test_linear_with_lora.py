"""LinearWithLoRA (appendix E.4): a linear layer plus a LoRA update of the same shape.

Your LinearWithLoRA(linear, rank, alpha) wraps an nn.Linear the grader builds (drawn sizes, with
and without bias). Checks the signature; that the wrapper holds the given layer and, as built,
gives exactly its outputs (B starts at zero); that the LoRA parameters are trainable (a gradient
reaches them through the output); and, on the
reference's weights (B drawn at random), linear(x) + scale * (x @ A @ B) with scale alpha or
alpha / rank (both accepted; rank > 1 and alpha != rank so they differ).

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from grader.notebook import linear_spec
from reference.appendix_e import LinearWithLoRA
from student_tests.a5.lora.common import (
    MISTAKES,
    PROBES,
    READINGS,
    SECTION,
    lora_sizes,
    low_rank_update,
    readings,
    signature_problem,
)

pytestmark = pytest.mark.check(component="LinearWithLoRA", section=SECTION)
NAME = "LinearWithLoRA"


def _payload(in_dim, out_dim, rank, alpha, *, bias: bool, seed: int) -> tuple[dict, torch.nn.Linear]:
    torch.manual_seed(seed)
    linear = torch.nn.Linear(in_dim, out_dim, bias=bias)
    x = torch.randn(2, 3, in_dim, generator=torch.Generator().manual_seed(seed))
    payload = {"in_dim": in_dim, "out_dim": out_dim, "bias": bias, "weight": linear.weight.detach(), "rank": rank,
               "alpha": alpha, "x": x, "seed": seed}
    if bias:
        payload["linear_bias"] = linear.bias.detach()
    return payload, linear


def _run(nb, payload) -> dict:
    what = (f"{nb.require(NAME).display}(nn.Linear({payload['in_dim']}, {payload['out_dim']}, bias={payload['bias']}), "
            f"rank={payload['rank']}, alpha={payload['alpha']})")
    return {**nb.run(f"{PROBES}.wrapper", payload, what=f"running {what}"), "what": what}


def test_exists_with_the_book_signature(nb):
    """LinearWithLoRA(linear, rank, alpha) exists."""
    problem = signature_problem(nb.require(NAME), ["linear", "rank", "alpha"])
    expect(problem is None, f"{problem}; the book's signature is LinearWithLoRA(linear, rank, alpha) "
                            f"(appendix {SECTION})")


@settings(max_examples=4)
@given(sizes=lora_sizes(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_starts_equal_to_the_wrapped_linear_layer(nb, sizes, bias, seed):
    """As built, the wrapper holds the given nn.Linear and gives exactly its outputs (the update starts at zero)."""
    result = _run(nb, _payload(*sizes, bias=bias, seed=seed)[0])
    same = compare_tensors(result["output"], result["plain"])
    problem = ("does not keep the given linear layer as a submodule" if not result["holds_linear"] else
               f"gives outputs up to {same.max_abs:.3g} away from the linear layer's own")
    expect(result["holds_linear"] and same.ok,
           f"{result['what']} as built {problem} (seed {seed}); it should return linear(x) + lora(x), with the LoRA "
           "update zero at the start (B = 0). If LoRALayer's checks fail too, fix those first. "
           f"See appendix {SECTION}.")


def test_lora_parameters_are_trainable(nb):
    """The wrapper's LoRA parameters (A and B) have requires_grad=True, and a gradient reaches them through its output."""  # noqa: E501 (a check's title)
    result = _run(nb, _payload(7, 5, 3, 8, bias=True, seed=0)[0])
    lora = [p for p in result["parameters"] if tuple(p["shape"]) in {(7, 3), (3, 7), (3, 5), (5, 3)}]
    unreached = [p["name"] for p in lora if p["name"] not in result["reached"]]
    expect(len(lora) >= 2 and all(p["requires_grad"] for p in lora) and not unreached,
           f"{result['what']}: LoRA parameters {[(p['name'], p['shape'], p['requires_grad']) for p in lora]}, of which "
           f"{unreached or 'none'} get no gradient from the output once A and B hold random values; expected A (7 x 3) "
           f"and B (3 x 5) with requires_grad=True (nn.Parameter) that shape the output (linear(x) + lora(x)), so "
           f"that training updates them. See appendix {SECTION}.")


@settings(max_examples=5)
@given(sizes=lora_sizes(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_adds_the_scaled_low_rank_update(nb, sizes, bias, seed):
    """On the reference's weights: linear(x) + alpha * x @ A @ B, or with alpha / rank (both readings accepted)."""
    _, _, rank, alpha = sizes
    payload, linear = _payload(*sizes, bias=bias, seed=seed)
    reference = LinearWithLoRA(linear, rank, alpha, scaling="alpha")
    with torch.no_grad():
        reference.lora.B.normal_()
        base = linear(payload["x"])
    candidates = readings(low_rank_update(reference.lora, payload["x"]), base=base, rank=rank, alpha=alpha)
    output = nb.forward(NAME, init={"linear": linear_spec(linear), "rank": rank, "alpha": alpha}, reference=reference,
                        inputs=[payload["x"]], expected=[candidates[r] for r in READINGS])
    what = (f"{nb.require(NAME).display}(nn.Linear({payload['in_dim']}, {payload['out_dim']}, bias={bias}), "
            f"rank={rank}, alpha={alpha})")
    found = next((n for n, expected in candidates.items() if compare_tensors(output, expected).ok), None)
    hint = f" It adds {MISTAKES[found]}." if found in MISTAKES else ""
    expect(found in READINGS,
           f"{what} on the reference's weights (seed {seed}): "
           f"{compare_tensors(output, candidates['alpha/rank']).describe('output')} for the alpha / rank "
           f"reading, and it does not match the alpha reading either.{hint} The wrapper returns linear(x) + lora(x). "
           f"See appendix {SECTION}.")
