"""LoRALayer (appendix E.4): a low-rank update scale * (x @ A @ B), with B starting at zero.

Checks the signature LoRALayer(in_dim, out_dim, rank, alpha); as built, the output is zero (B all
zeros, so a wrapped layer starts out as the pretrained one) but not once the weights are random, and
a gradient reaches the weights (A random, not zero); on the reference's A and B (B drawn at random),
the output is the low-rank update scaled by alpha (the printed book) or alpha / rank (the book's
repository), both accepted, with rank > 1 and alpha != rank so the readings differ; and, on any
weights, that the layer is a linear map of rank at most `rank` with outputs of shape (..., out_dim).

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect, expect_working
from grader.compare import compare_tensors
from student_tests.a5.lora.common import (
    MISTAKES,
    PROBES,
    READINGS,
    SECTION,
    lora_sizes,
    low_rank_update,
    random_lora,
    readings,
    signature_problem,
)

pytestmark = pytest.mark.check(component="LoRALayer", section=SECTION)
NAME = "LoRALayer"
INIT = {"in_dim": 7, "out_dim": 5, "rank": 3, "alpha": 8}


def _args(init: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in init.items())


def _built(nb, init=INIT, x=None) -> dict:
    x = torch.rand(4, init["in_dim"], generator=torch.Generator().manual_seed(1)) if x is None else x
    return nb.run(f"{PROBES}.lora_layer", {"init": init, "x": x, "seed": 0},
                  what=f"building {nb.require(NAME).display} with ({_args(init)})")


def _reading(nb, in_dim, out_dim, rank, alpha, seed) -> tuple[str | None, str]:
    """Which scaling the student's output on the reference's A and B matches, and a description of the run."""
    reference = random_lora(in_dim, out_dim, rank, alpha, seed=seed)
    x = torch.rand(3, in_dim, generator=torch.Generator().manual_seed(seed))
    init = {"in_dim": in_dim, "out_dim": out_dim, "rank": rank, "alpha": alpha}
    candidates = readings(low_rank_update(reference, x), base=torch.zeros(3, out_dim), rank=rank, alpha=alpha)
    output = nb.forward(NAME, init=init, reference=reference, inputs=[x], expected=[candidates[r] for r in READINGS])
    found = next((name for name, expected in candidates.items() if compare_tensors(output, expected).ok), None)
    return found, f"{nb.require(NAME).display} with ({_args(init)})"


def test_exists_with_the_book_signature(nb):
    """LoRALayer(in_dim, out_dim, rank, alpha) exists."""
    problem = signature_problem(nb.require(NAME), ["in_dim", "out_dim", "rank", "alpha"])
    expect(problem is None, f"{problem}; the book's signature is LoRALayer(in_dim, out_dim, rank, alpha) "
                            f"(appendix {SECTION})")


def test_starts_with_a_zero_update(nb):
    """As built, the layer outputs zeros (B starts at zero), but not once its weights are non-zero."""
    built = _built(nb)
    output = built["output"]
    shapes = ", ".join(f"{p['name']} {tuple(p['shape'])}" for p in built["parameters"])
    expect(torch.count_nonzero(output) == 0,
           f"{nb.require(NAME).display} built with ({_args(INIT)}) gives outputs up to "
           f"{float(output.abs().max()):.3g} in size "
           f"for random inputs; expected all zeros. B (rank x out_dim) starts at zero (torch.zeros), so that "
           f"adding the layer leaves the pretrained model's outputs unchanged at the start of training. "
           f"Your parameters: {shapes}. See appendix {SECTION}.")
    x = torch.rand(4, INIT["in_dim"], generator=torch.Generator().manual_seed(1))
    [later] = nb.run(f"{PROBES}.lora_layer_randomized", {"init": INIT, "xs": [x], "fill_seed": 1},
                     what=f"running {nb.require(NAME).display} with random weights")["outputs"]
    expect_working(later, what=f"{nb.require(NAME).display} built with ({_args(INIT)}), its parameters ({shapes}) then "
                               f"filled with random values: it should return scale * (x @ A @ B), zero only while B "
                               f"is zero. See appendix {SECTION}")


def test_a_starts_random_not_zero(nb):
    """At the start a gradient reaches the LoRA weights, and the input side A starts random while B starts at zero."""
    x = torch.rand(4, INIT["in_dim"], generator=torch.Generator().manual_seed(1))
    built = _built(nb, x=x)
    unused = nb.unused_parameters(NAME, init=INIT, inputs=[x])
    names = [p["name"] for p in built["parameters"]]
    expect(bool(names) and len(unused) < len(names),
           f"{nb.require(NAME).display} built with ({_args(INIT)}): no gradient reaches any of its parameters "
           f"{[(p['name'], p['shape']) for p in built['parameters']]} at the start, so training can never move them. "
           f"With B zero, B's gradient is (x @ A)^T times the output's: it is zero only when A is zero too (or the "
           f"output does not come from A and B). The book initialises A like nn.Linear's weights "
           f"(nn.init.kaiming_uniform_(A, a=math.sqrt(5))) and only B with zeros. See appendix {SECTION}.")
    # with in_dim 7, out_dim 5 and rank 3 a weight's shape says its side: A (in_dim, rank) or nn.Linear's (rank, in_dim)
    zero_inputs = [(n, tuple(t.shape)) for n, t in built["tensors"].items()
                   if not t.any() and INIT["in_dim"] in t.shape and INIT["out_dim"] not in t.shape]
    expect(not zero_inputs,
           f"{nb.require(NAME).display} built with ({_args(INIT)}) starts its input-side weight {zero_inputs} at zero, "
           f"so the output-side one must be random: A and B are swapped. The update is still zero at the start, but "
           f"LoRA starts A (in_dim x rank) like nn.Linear's weights (nn.init.kaiming_uniform_(A, a=math.sqrt(5))) "
           f"and B (rank x out_dim) at zero. See appendix {SECTION}.")


@settings(max_examples=5)
@given(sizes=lora_sizes(), seed=st.integers(0, 2**16))
def test_scales_the_update_by_alpha_or_alpha_over_rank(nb, sizes, seed):
    """On the reference's A and B the output is alpha * x @ A @ B (printed book) or alpha / rank * x @ A @ B (repository)."""  # noqa: E501 (a check's title)
    found, what = _reading(nb, *sizes, seed)
    hint = (f" It is {MISTAKES[found]}." if found in MISTAKES else
            " Compute x @ A @ B and multiply by alpha (or alpha / rank).")
    expect(found in READINGS, f"{what}, on the reference's A and B (seed {seed}), matches neither "
                              f"alpha * (x @ A @ B) nor alpha / rank * (x @ A @ B).{hint} See appendix {SECTION}.")


def test_reports_the_scaling_it_uses(nb):
    """Which scaling the layer uses: alpha (printed book) or alpha / rank (repository) (informational)."""
    found, what = _reading(nb, 6, 4, 2, 8, 0)
    reading = READINGS.get(found, "neither accepted scaling (see the check of the scaling)")
    pytest.skip(f"informational: {what} scales the low-rank update by {reading}")


@settings(max_examples=4)
@given(sizes=lora_sizes(), batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_is_a_linear_map_of_rank_at_most_rank(nb, sizes, batch, seed):
    """With any weights, the layer maps (batch, n, in_dim) to (batch, n, out_dim), linearly, with rank <= rank."""
    in_dim, out_dim, rank, alpha = sizes
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(batch, in_dim + 2, in_dim, generator=g), torch.randn(batch, in_dim + 2, in_dim, generator=g)
    init = {"in_dim": in_dim, "out_dim": out_dim, "rank": rank, "alpha": alpha}
    fx, fy, fsum = nb.run(f"{PROBES}.lora_layer_randomized", {"init": init, "xs": [x, y, x + 2 * y], "fill_seed": seed},
                          what=f"running {nb.require(NAME).display} with ({_args(init)}) and random weights")["outputs"]
    display = f"{nb.require(NAME).display} with ({_args(init)}) and random weights (seed {seed})"
    expect_working(fx, what=display, inputs=x)
    expect(tuple(fx.shape) == (batch, in_dim + 2, out_dim),
           f"{display} gave shape {tuple(fx.shape)} for inputs of shape {tuple(x.shape)}; expected "
           f"{(batch, in_dim + 2, out_dim)}. See appendix {SECTION}.")
    expect(compare_tensors(fsum, fx + 2 * fy, atol=1e-3, rtol=1e-3).ok,
           f"{display} is not linear: f(x + 2y) != f(x) + 2 f(y). LoRA adds scale * (x @ A @ B), no bias or "
           f"activation. See appendix {SECTION}.")
    found = int(torch.linalg.matrix_rank(fx.reshape(-1, out_dim).double(), rtol=1e-4))
    expect(found <= rank, f"{display}: its outputs for {batch * (in_dim + 2)} inputs span {found} dimensions; a "
                          f"rank-{rank} update x @ A @ B spans at most {rank}. See appendix {SECTION}.")
