"""LoRALayer (appendix E.4): a low-rank update scale * (x @ A @ B), with B starting at zero.

Checks the signature LoRALayer(in_dim, out_dim, rank, alpha); A (in_dim x rank) and B (rank x
out_dim) as built: B all zeros, so a wrapped layer starts out as the pretrained one, and A random,
not zero; on the reference's A and B (B drawn at random), the output is the low-rank update scaled
by alpha (the printed book) or alpha / rank (the book's repository), both accepted, with rank > 1
and alpha != rank so the readings differ; and, on any weights, that the layer is a linear map of
rank at most `rank` with outputs of shape (..., out_dim).

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from grader.compare import compare_tensors
from student_tests.a5.lora.common import (
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


def _by_shape(built: dict, *shapes) -> list[torch.Tensor]:
    return [built["tensors"][p["name"]] for p in built["parameters"] if tuple(p["shape"]) in shapes]


def _reading(nb, in_dim, out_dim, rank, alpha, seed) -> tuple[str | None, str]:
    """Which scaling the student's output on the reference's A and B matches, and a description of the run."""
    reference = random_lora(in_dim, out_dim, rank, alpha, seed=seed)
    x = torch.rand(3, in_dim, generator=torch.Generator().manual_seed(seed))
    init = {"in_dim": in_dim, "out_dim": out_dim, "rank": rank, "alpha": alpha}
    output = nb.forward(NAME, init=init, reference=reference, inputs=[x])
    candidates = readings(low_rank_update(reference, x), base=torch.zeros(3, out_dim), rank=rank, alpha=alpha)
    found = next((name for name, expected in candidates.items() if compare_tensors(output, expected).ok), None)
    return found, f"{nb.require(NAME).display} with ({_args(init)})"


def test_exists_with_the_book_signature(nb):
    """LoRALayer(in_dim, out_dim, rank, alpha) exists."""
    problem = signature_problem(nb.require(NAME), ["in_dim", "out_dim", "rank", "alpha"])
    expect(problem is None, f"{problem}; the book's signature is LoRALayer(in_dim, out_dim, rank, alpha) "
                            f"(appendix {SECTION})")


def test_starts_with_a_zero_update(nb):
    """As built, the layer outputs zeros (B starts at zero), so the wrapped model starts as the pretrained one."""
    built = _built(nb)
    output = built["output"]
    shapes = ", ".join(f"{p['name']} {tuple(p['shape'])}" for p in built["parameters"])
    expect(torch.count_nonzero(output) == 0,
           f"{nb.require(NAME).display} built with ({_args(INIT)}) gives outputs up to {float(output.abs().max()):.3g} in size "
           f"for random inputs; expected all zeros. B (rank x out_dim) starts at zero (torch.zeros), so that "
           f"adding the layer leaves the pretrained model's outputs unchanged at the start of training. "
           f"Your parameters: {shapes}. See appendix {SECTION}.")


def test_a_starts_random_not_zero(nb):
    """A (in_dim x rank) starts random, not zero (with A and B both zero, no gradient would ever reach them)."""
    built = _built(nb)
    a = _by_shape(built, (INIT["in_dim"], INIT["rank"]), (INIT["rank"], INIT["in_dim"]))
    expect(bool(a) and all(torch.count_nonzero(t) > 0 for t in a),
           f"{nb.require(NAME).display} built with ({_args(INIT)}) has "
           + ("no parameter of shape (in_dim, rank) = (7, 3)" if not a else "A all zeros")
           + f"; the book initialises A like nn.Linear's weights (nn.init.kaiming_uniform_(A, a=math.sqrt(5))) "
             f"and only B with zeros. Parameters: {[(p['name'], p['shape']) for p in built['parameters']]}. "
             f"See appendix {SECTION}.")


@settings(max_examples=5)
@given(sizes=lora_sizes(), seed=st.integers(0, 2**16))
def test_scales_the_update_by_alpha_or_alpha_over_rank(nb, sizes, seed):
    """On the reference's A and B the output is alpha * x @ A @ B (printed book) or alpha / rank * x @ A @ B (repository)."""
    found, what = _reading(nb, *sizes, seed)
    hint = (" It is rank / alpha * x @ A @ B: the fraction is upside down." if found == "rank/alpha" else
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
    expect(tuple(fx.shape) == (batch, in_dim + 2, out_dim),
           f"{display} gave shape {tuple(fx.shape)} for inputs of shape {tuple(x.shape)}; expected "
           f"{(batch, in_dim + 2, out_dim)}. See appendix {SECTION}.")
    expect(compare_tensors(fsum, fx + 2 * fy, atol=1e-3, rtol=1e-3).ok,
           f"{display} is not linear: f(x + 2y) != f(x) + 2 f(y). LoRA adds scale * (x @ A @ B), no bias or "
           f"activation. See appendix {SECTION}.")
    found = int(torch.linalg.matrix_rank(fx.reshape(-1, out_dim).double(), rtol=1e-4))
    expect(found <= rank, f"{display}: its outputs for {batch * (in_dim + 2)} inputs span {found} dimensions; a "
                          f"rank-{rank} update x @ A @ B spans at most {rank}. See appendix {SECTION}.")
