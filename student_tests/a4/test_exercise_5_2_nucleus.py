"""Exercise 5.2: nucleus (top-p) sampling keeps the smallest set of tokens whose probability reaches p.

The grader grades `generate(..., top_p=...)` when your generate takes top_p, else a function
of yours whose name mentions top_p or nucleus, else a sampling, generation or filter function
that takes a top_p argument, and says which one it graded. A generation function is called
with temperature=1.0 on a model with fixed logits and many draws; a function of logits (called
as fn(logits, p) with logits of shape (1, vocab)) may return filtered logits (-inf outside the
nucleus), probabilities (0 outside) or a sampled token. Drawn tokens must come from the nucleus
and follow the softmax renormalised over it (chi-square test, alpha = 1e-3). Not attempted:
skipped, never failed.

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from student_tests.a4.common import ALPHA, chi_square, distribution_text

pytestmark = pytest.mark.check(component="nucleus sampling", section="5.3 (exercise 5.2)")
DRAWS = 2000


@st.composite
def nucleus_cases(draw, *, min_vocab: int = 5, max_vocab: int = 16):
    """(logits, top_p, nucleus size m): p lies well inside (cumulative[m-1], cumulative[m]], away from ties."""
    vocab, seed = draw(st.integers(min_vocab, max_vocab)), draw(st.integers(0, 2**16))
    logits = torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * draw(st.sampled_from([1.0, 2.0]))
    probs = torch.softmax(logits.double(), dim=-1).sort(descending=True).values
    cumulative = probs.cumsum(0)
    sizes = [m for m in range(1, vocab) if probs[m - 1] > 0.04]
    m = draw(st.sampled_from(sizes))
    before = float(cumulative[m - 2]) if m > 1 else 0.0
    return logits, before + draw(st.floats(0.25, 0.75)) * float(probs[m - 1]), m


def _nucleus(nb, logits, top_p):
    result = nb.run("a4.nucleus", {"row": logits, "top_p": top_p, "rows": DRAWS, "seed": 0},
                    what="calling your nucleus-sampling function")
    if result["graded"] is None:
        pytest.skip("exercise not attempted: no generate(..., top_p=...) and no function whose name mentions "
                    "top_p or nucleus")
    return result


def _expect_filter(result, expected_set, graded, shown):
    kept = sorted(torch.nonzero(result["kept"].reshape(-1)).flatten().tolist())
    expect(kept == expected_set,
           f"{graded} with {shown} kept tokens {kept} ({result['kind']}); the smallest set of most likely tokens "
           f"whose probabilities sum to at least top_p is {expected_set}. Sort the probabilities, take the "
           f"cumulative sum, and keep a token when the tokens before it sum to less than top_p. See exercise 5.2")


def _expect_samples(result, logits, nucleus, graded, shown):
    expect(result["tokens"].numel() == result["requested"],
           f"{graded} with {shown} gave {result['tokens'].numel()} sampled tokens where {result['requested']} were "
           f"requested (one new token per row of the prompt batch, or per call). See exercise 5.2")
    counts = torch.bincount(result["tokens"].clamp(0, len(logits) - 1), minlength=len(logits))
    probs = torch.softmax(torch.where(nucleus, logits, torch.tensor(float("-inf"))), dim=-1)
    statistic, p_value = chi_square(counts, probs)
    expected_set = torch.nonzero(nucleus).flatten().tolist()
    outside = sorted(set(torch.nonzero(counts).flatten().tolist()) - set(expected_set))
    expect(not outside and p_value >= ALPHA,
           f"{graded} with {shown} (temperature 1): {DRAWS} draws gave the frequencies "
           f"{distribution_text(counts / counts.sum())}"
           + (f", including tokens {outside} outside the nucleus {expected_set}" if outside else "")
           + f"; expected {distribution_text(probs)}, the softmax renormalised over the smallest set of most likely "
             f"tokens reaching top_p (chi-square {statistic:.1f}, p = {p_value:.2g}, alpha {ALPHA}). See exercise 5.2")


@settings(max_examples=5)
@given(case=nucleus_cases())
def test_nucleus_sampling_keeps_the_smallest_set_reaching_top_p(nb, case):
    """Exercise 5.2: only the most likely tokens whose probabilities first reach top_p are kept, in softmax proportions."""  # noqa: E501 (a check's title)
    logits, top_p, m = case
    result = _nucleus(nb, logits, top_p)
    nucleus = torch.zeros(len(logits), dtype=torch.bool)
    nucleus[torch.argsort(logits, descending=True)[:m]] = True
    graded = f"`{result['graded']}` (graded as nucleus sampling: {result['why']})"
    shown = f"logits {[round(v, 3) for v in logits.tolist()]} and top_p={top_p:.4f}"
    if result["kind"] == "sampled":
        _expect_samples(result, logits, nucleus, graded, shown)
    else:
        _expect_filter(result, torch.nonzero(nucleus).flatten().tolist(), graded, shown)


def test_which_nucleus_function_was_graded(nb):
    """Which function the grader graded for exercise 5.2 (informational)."""
    result = _nucleus(nb, torch.tensor([2.0, 1.0, 0.0, -1.0]), 0.8)
    others = f"; also found {', '.join(result['others'])}" if result["others"] else ""
    pytest.skip(f"informational: exercise 5.2 graded `{result['name']}` ({result['why']}){others}")
