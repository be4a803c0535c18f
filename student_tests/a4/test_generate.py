"""generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None) (section 5.3).

Your function runs on models the grader builds in the kernel: a tiny reference GPTModel (greedy
decoding is compared id for id with the reference's generate), a model whose next-token logits
are fixed (sampling: many draws at once, seeded), and a model whose next token depends on the
last one (eos_id, checked when your generate takes it). In the eval-mode check a tiny GPT with
drop_rate 0.1 is handed over in eval mode and must stay there while generating. The sampling
checks are chi-square goodness-of-fit tests of the drawn tokens
against the distribution the book's recipe gives; each test uses alpha = 1e-3, the chance that
a correct implementation fails it (the draws are seeded, so a verdict never changes between runs).

Run: pytest student_tests/a4 --submission assignments/a4/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch05 import generate
from student_tests.a4.common import ALPHA, DROPOUT, TINY_CFG, chi_square, distribution_text, model_spec, reference_model

pytestmark = pytest.mark.check(component="generate", section="5.3")
NAME = "generate"
LOGITS = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0, -2.0])  # not sorted: a top-k position is not its token id
DRAWS = 2000
RECIPE = ("logits = model(idx[:, -context_size:])[:, -1, :]; with top_k, set logits below the k-th largest to -inf; "
          "with temperature > 0, probs = softmax(logits / temperature) and torch.multinomial(probs, 1); "
          "otherwise argmax")


def _generate(nb, model, idx, *, max_new_tokens=1, context_size=4, rows=1, seed=0, **keywords):
    component = nb.require(NAME)
    payload = {"model": model, "idx": idx, "max_new_tokens": max_new_tokens, "context_size": context_size,
               "rows": rows, "seed": seed, **keywords}
    shown = ", ".join(f"{k}={v}" for k, v in keywords.items())
    return component, nb.run("a4.generate", payload, what=f"calling {component.display} ({shown})")


def _draws(nb, logits, **keywords):
    """DRAWS single tokens sampled after a one-token prompt from a model with fixed logits."""
    component, result = _generate(nb, {"kind": "fixed", "row": logits}, torch.zeros(1, 1, dtype=torch.long),
                                  rows=DRAWS, **keywords)
    tokens = result["ids"]
    expect(tokens.numel() == DRAWS and bool(((tokens >= 0) & (tokens < logits.numel())).all()),
           f"{component.display} ({keywords}) gave {tokens.numel()} new tokens {tokens[:20].tolist()}... for "
           f"{DRAWS} requested from a model with {logits.numel()} tokens")
    return component, torch.bincount(tokens, minlength=logits.numel())


def _fits(nb, logits, probs, *, what, **keywords):
    component, counts = _draws(nb, logits, **keywords)
    statistic, p_value = chi_square(counts, probs)
    expect(p_value >= ALPHA,
           f"{component.display} with logits {logits.tolist()} and {what}: {DRAWS} draws gave the frequencies "
           f"{distribution_text(counts / DRAWS)}; the expected distribution is {distribution_text(probs)} "
           f"(chi-square {statistic:.1f}, p = {p_value:.2g} < alpha {ALPHA}). The recipe: {RECIPE}. "
           f"See sections 5.3.1 and 5.3.3")


@st.composite
def greedy_cases(draw, *, max_batch: int = 2):
    """(seed, prompt ids, max_new_tokens, context_size); prompts may be longer than context_size."""
    context_size = draw(st.integers(2, TINY_CFG["context_length"]))
    batch, length = draw(st.integers(1, max_batch)), draw(st.integers(1, 2 * context_size))
    seed = draw(st.integers(0, 2**16))
    idx = torch.randint(0, TINY_CFG["vocab_size"], (batch, length), generator=torch.Generator().manual_seed(seed))
    return seed, idx, draw(st.integers(1, 6)), context_size


@st.composite
def top_k_cases(draw, *, min_vocab: int = 5, max_vocab: int = 30):
    """(logits, k, temperature): close, distinct logits so the (k+1)-th token would show up if it were kept."""
    vocab, seed = draw(st.integers(min_vocab, max_vocab)), draw(st.integers(0, 2**16))
    logits = torch.rand(vocab, generator=torch.Generator().manual_seed(seed)) * draw(st.sampled_from([1.0, 2.0]))
    return logits, draw(st.integers(1, vocab - 1)), draw(st.sampled_from([0.7, 1.0, 1.5]))


@st.composite
def eos_cases(draw, *, min_vocab: int = 6, max_vocab: int = 12):
    """(logit table, prompt, chain, eos_id): greedy decoding follows `chain` and then meets eos_id."""
    vocab, seed = draw(st.integers(min_vocab, max_vocab)), draw(st.integers(0, 2**16))
    order = torch.randperm(vocab, generator=torch.Generator().manual_seed(seed)).tolist()
    eos_id, prompt_last, chain = order[0], order[1], order[2: 2 + draw(st.integers(0, 3))]
    table = torch.rand(vocab, vocab, generator=torch.Generator().manual_seed(seed + 1))
    path = [prompt_last, *chain, eos_id]
    for current, following in zip(path, path[1:]):
        table[current, following] = 5.0
    table[eos_id, order[-1]] = 5.0  # after eos_id the model would go on
    return table, torch.tensor([[order[-1], prompt_last]]), chain, eos_id


def test_exists_with_the_book_signature(nb):
    """generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None) exists."""
    component = nb.require(NAME)
    params, defaults = list(component.params), component.defaults
    ok = params[:4] == ["model", "idx", "max_new_tokens", "context_size"] and \
        defaults.get("temperature", "missing") == 0.0 and \
        all(defaults.get(k, "missing") is None for k in ("top_k", "eos_id"))
    expect(ok, f"{component.display} takes {params} with defaults {defaults}; the book's signature is generate(model, "
               f"idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None) (section 5.3.3)")


@settings(max_examples=5)
@given(case=greedy_cases())
def test_temperature_zero_is_greedy_decoding(nb, case):
    """With temperature=0.0 it appends the argmax token each step, cropping the input to the last context_size tokens."""  # noqa: E501 (a check's title)
    seed, idx, new, context_size = case
    model = reference_model(seed=seed)
    component, result = _generate(nb, model_spec(model), idx, max_new_tokens=new, context_size=context_size,
                                  temperature=0.0)
    expected = generate(model, idx, new, context_size, temperature=0.0)
    expect(torch.equal(result["ids"], expected),
           f"{component.display} with temperature=0.0, prompt {idx.tolist()}, max_new_tokens={new}, context_size="
           f"{context_size} returned {result['ids'].tolist()}; greedy decoding on the same model gives "
           f"{expected.tolist()} (logits = model(idx[:, -context_size:])[:, -1, :], append argmax). See section 5.3.3")


def test_temperature_one_samples_the_softmax_of_the_logits(nb):
    """With temperature=1.0 the drawn tokens follow softmax(logits) (chi-square test, alpha = 1e-3)."""
    _fits(nb, LOGITS, torch.softmax(LOGITS, dim=-1), what="temperature=1.0", temperature=1.0)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_temperature_divides_the_logits(nb, temperature):
    """With temperature 0.5 and 2.0 the drawn tokens follow softmax(logits / temperature) (chi-square, alpha = 1e-3)."""
    _fits(nb, LOGITS, torch.softmax(LOGITS / temperature, dim=-1), what=f"temperature={temperature}",
          temperature=temperature)


def test_low_temperature_concentrates_and_high_temperature_flattens(nb):
    """temperature=0.05 draws the most likely token almost always; temperature=20 draws every token about as often."""
    component, sharp = _draws(nb, LOGITS, temperature=0.05)
    _, flat = _draws(nb, LOGITS, temperature=20.0)
    share, spread = float(sharp[LOGITS.argmax()]) / DRAWS, (flat.float() / DRAWS * len(LOGITS))
    expect(share >= 0.99 and float(spread.min()) >= 0.6 and float(spread.max()) <= 1.5,
           f"{component.display} with logits {LOGITS.tolist()}: at temperature 0.05 the most likely token was drawn "
           f"{share:.1%} of the time (expected about 100%); at temperature 20 the frequencies were "
           f"{distribution_text(flat / DRAWS)} (expected each near 1/{len(LOGITS)}). Divide the logits by the "
           f"temperature before the softmax. See section 5.3.1")


@settings(max_examples=5)
@given(case=top_k_cases())
def test_top_k_never_samples_outside_the_k_largest_logits(nb, case):
    """With top_k=k, every drawn token is one of the k tokens with the largest logits."""
    logits, k, temperature = case
    component, counts = _draws(nb, logits, temperature=temperature, top_k=k)
    allowed = set(torch.topk(logits, k).indices.tolist())
    outside = {t: int(counts[t]) for t in range(len(logits)) if counts[t] and t not in allowed}
    ranks = {t: int((logits > logits[t]).sum()) + 1 for t in outside}
    drawn = int((counts > 0).sum())
    expect(drawn >= min(k, 2),
           f"{component.display} with top_k={k}, temperature={temperature}: {DRAWS} draws gave only token(s) "
           f"{torch.nonzero(counts).flatten().tolist()}; sampling from the {k} largest of these close logits draws "
           f"several of them. The recipe: {RECIPE}. See sections 5.3.1 and 5.3.2")
    expect(not outside,
           f"{component.display} with top_k={k}, temperature={temperature} and logits "
           f"{[round(v, 3) for v in logits.tolist()]} drew tokens outside the {k} largest logits: "
           + ", ".join(f"token {t} (rank {ranks[t]}) {n} times" for t, n in outside.items())
           + ". Keep exactly k: top_logits, _ = torch.topk(logits, top_k); min_val = top_logits[:, -1]; set "
             "logits < min_val to -inf. See section 5.3.2")


def test_top_k_samples_follow_the_softmax_of_the_k_largest(nb):
    """With top_k=3 and temperature=1.0, the drawn tokens follow softmax over the 3 largest logits (alpha = 1e-3)."""
    masked = torch.where(LOGITS < torch.topk(LOGITS, 3).values[-1], torch.tensor(float("-inf")), LOGITS)
    _fits(nb, LOGITS, torch.softmax(masked, dim=-1), what="top_k=3, temperature=1.0", temperature=1.0, top_k=3)


@settings(max_examples=4)
@given(case=eos_cases())
def test_stops_at_eos_id(nb, case):
    """With eos_id set, generation stops when the next token is eos_id (the book leaves eos_id itself out)."""
    table, idx, chain, eos_id = case
    if "eos_id" not in nb.require(NAME).params:
        pytest.skip(f"informational: {nb.require(NAME).display} has no eos_id parameter (the book's first version of "
                    f"generate has none); nothing to check")
    component, result = _generate(nb, {"kind": "bigram", "table": table}, idx, max_new_tokens=8, context_size=4,
                                  temperature=0.0, eos_id=eos_id)
    new = result["ids"][0, idx.shape[1]:].tolist()
    # a continuation that leaves the greedy chain before eos_id is a decoding bug (greedy decoding's own checks)
    stray = next((i for i, (a, b) in enumerate(zip(new, chain + [eos_id])) if a != b), None)
    why = (f"its token {stray} already leaves the greedy continuation, before eos_id could stop it: fix greedy "
           f"decoding first (the last position's logits, the context cropped to its last context_size tokens)"
           if stray is not None else "it should stop at eos_id")
    expect(new in (chain, chain + [eos_id]),
           f"{component.display} with eos_id={eos_id}, max_new_tokens=8 and a model whose greedy continuation of "
           f"{idx.tolist()} is {chain + [eos_id]} and then more tokens, generated {new}; {why} "
           f"(the book: if idx_next == eos_id: break, giving {chain}). See section 5.3.3")


def test_generates_in_eval_mode_when_the_model_is_in_eval_mode(nb):
    """Given a model with dropout in eval mode, every forward pass runs in eval mode (generate does not switch dropout
    on), and the greedy tokens equal the reference's."""
    seed, cfg = 11, {**TINY_CFG, "drop_rate": DROPOUT}
    model = reference_model(cfg, seed=seed)
    idx = torch.randint(0, cfg["vocab_size"], (2, 3), generator=torch.Generator().manual_seed(seed))
    component, result = _generate(nb, model_spec(model, cfg), idx, max_new_tokens=4, context_size=4, temperature=0.0)
    modes = result["forward_modes"]
    in_train = sum(modes)
    after = "train" if result["training_after"] else "eval"
    expect(modes and not in_train,
           f"{component.display} on a model with drop_rate={DROPOUT} in eval mode ran {len(modes)} forward passes, "
           f"{in_train} of them in train mode (the model was in {after} mode afterwards)"
           + ("" if modes else ": it never ran the model")
           + "; generation must not switch dropout on: leave the model's mode as it is (the book's generate never "
             "calls model.train()), or call model.eval() before generating. See section 5.3")
    expected = generate(model, idx, 4, 4, temperature=0.0)
    expect(torch.equal(result["ids"], expected),
           f"{component.display} with temperature=0.0 on a model with drop_rate={DROPOUT} in eval mode returned "
           f"{result['ids'].tolist()}; greedy decoding gives {expected.tolist()}. See section 5.3.3")
