"""Chapter 5 reference (pretraining): the book's printed numbers, loss and loader semantics,
sampling (greedy, temperature, top-k, top-p, eos), the training loop and its extras, checkpoints.

Run: pytest tests/test_ch05.py   (the full-size 124M checks are marked `slow` and still run)
"""

import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from reference.assets import gpt2_encoding, read_text
from reference.ch04 import GPTModel, generate_text_simple
from reference.ch05 import (
    GPT_CONFIG_124M_CH05,
    calc_loss_batch,
    calc_loss_loader,
    evaluate_model,
    generate,
    load_checkpoint,
    perplexity,
    save_checkpoint,
    text_to_token_ids,
    token_ids_to_text,
    top_k_filter,
    top_p_filter,
    train_model_simple,
    train_val_loaders,
)
from strategies import gpt_configs, seeds

BOOK_INPUTS = torch.tensor([[16833, 3626, 6100], [40, 1107, 588]])  # "every effort moves", "I really like"
BOOK_TARGETS = torch.tensor([[3626, 6100, 345], [1107, 588, 11311]])  # " effort moves you", " really like chocolate"


def tiny_model(cfg: dict, seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(cfg)


def random_batches(cfg: dict, *, n: int, batch_size: int, seed: int = 0) -> list:
    """n (inputs, targets) pairs of random token ids filling the context."""
    gen = torch.Generator().manual_seed(seed)
    shape = (n, batch_size, cfg["context_length"])
    ids = torch.randint(0, cfg["vocab_size"], shape, generator=gen)
    return list(zip(ids, ids.roll(-1, dims=-1)))


class FixedLogits(nn.Module):
    """A fake model that predicts the same logits after every position."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.as_tensor(logits, dtype=torch.float32)

    def forward(self, idx):
        return self.logits.expand(idx.shape[0], idx.shape[1], -1)  # (B, T, V)


class CountUp(nn.Module):
    """A fake model whose greedy next token is (last token + 1) mod vocab_size."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, idx):
        return F.one_hot((idx + 1) % self.vocab_size, self.vocab_size).float()  # (B, T, V)


# ---------------------------------------------------------------- the book's numbers


@pytest.fixture(scope="module")
def book_model():
    """The book's seeded chapter-5 model: torch.manual_seed(123); GPTModel (context 256); eval()."""
    torch.manual_seed(123)
    return GPTModel(GPT_CONFIG_124M_CH05).eval()


@pytest.mark.slow
def test_book_cross_entropy_and_perplexity(book_model):
    """Book 5.1.2: the seeded model's loss on two sentences is 10.7940, perplexity about 48725.87."""
    with torch.no_grad():
        loss = calc_loss_batch(BOOK_INPUTS, BOOK_TARGETS, book_model, "cpu")
    assert loss.item() == pytest.approx(10.7940, abs=1e-4)
    assert perplexity(loss).item() == pytest.approx(48725.87, rel=1e-4)


def test_book_verdict_loaders():
    """Book 5.1.3: a 90 % character split of the-verdict gives 9 train and 1 val batch of (2, 256)."""
    torch.manual_seed(123)
    train_loader, val_loader = train_val_loaders(read_text("the-verdict.txt"))
    assert [tuple(x.shape) for x, _ in train_loader] == [(2, 256)] * 9
    assert [tuple(y.shape) for _, y in val_loader] == [(2, 256)]


@pytest.mark.slow
def test_book_verdict_losses(book_model):
    """Book 5.1.3: the seeded model's train/val loss on the-verdict is 10.98758347829183 / 10.98110580444336."""
    torch.manual_seed(123)
    train_loader, val_loader = train_val_loaders(read_text("the-verdict.txt"))
    # book_model is the next step of the book's sequence: torch.manual_seed(123); GPTModel; eval()
    torch.manual_seed(123)
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, book_model, "cpu")
        val_loss = calc_loss_loader(val_loader, book_model, "cpu")
    assert train_loss == pytest.approx(10.98758347829183, abs=1e-5)
    assert val_loss == pytest.approx(10.98110580444336, abs=1e-5)


# ---------------------------------------------------------------- tokens and loss


def test_text_token_ids_round_trip():
    """text_to_token_ids gives a (1, T) batch of tiktoken's ids; token_ids_to_text inverts it."""
    tokenizer = gpt2_encoding()
    ids = text_to_token_ids("Every effort moves you<|endoftext|>", tokenizer)
    assert ids.tolist() == [[6109, 3626, 6100, 345, 50256]]
    assert token_ids_to_text(ids, tokenizer) == "Every effort moves you<|endoftext|>"


def test_calc_loss_batch_is_mean_negative_log_likelihood(tiny_cfg):
    """calc_loss_batch equals -log softmax(logits)[target], averaged over every position."""
    model = tiny_model(tiny_cfg).eval()
    inputs, targets = random_batches(tiny_cfg, n=1, batch_size=3)[0]
    with torch.no_grad():
        log_probs = torch.log_softmax(model(inputs).double(), dim=-1)
        expected = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()
        assert calc_loss_batch(inputs, targets, model, "cpu").item() == pytest.approx(expected.item(), abs=1e-5)


@pytest.mark.parametrize("num_batches, used", [(None, 4), (2, 2), (1, 1), (10, 4)])
def test_calc_loss_loader_averages_the_first_batches(tiny_cfg, num_batches, used):
    """calc_loss_loader averages the first min(num_batches, len(loader)) batch losses (all for None)."""
    model = tiny_model(tiny_cfg).eval()
    batches = random_batches(tiny_cfg, n=4, batch_size=2)
    with torch.no_grad():
        losses = [calc_loss_batch(x, y, model, "cpu").item() for x, y in batches]
        assert calc_loss_loader(batches, model, "cpu", num_batches) == pytest.approx(sum(losses[:used]) / used)


def test_calc_loss_loader_of_empty_loader_is_nan(tiny_cfg):
    """An empty loader has no loss: calc_loss_loader returns NaN, as in the book."""
    assert math.isnan(calc_loss_loader([], tiny_model(tiny_cfg), "cpu"))


@given(st.floats(0.0, 20.0))
def test_perplexity_is_exp_of_loss(loss):
    """perplexity(loss) is exp(loss), for floats and tensors."""
    assert perplexity(loss) == pytest.approx(math.exp(loss))
    assert perplexity(torch.tensor(loss, dtype=torch.float64)).item() == pytest.approx(math.exp(loss))


def test_evaluate_model_is_gradient_free_and_returns_to_train_mode(tiny_cfg):
    """evaluate_model gives eval-mode losses without gradients and leaves the model in train mode."""
    model = tiny_model({**tiny_cfg, "drop_rate": 0.5})
    batches = random_batches(tiny_cfg, n=3, batch_size=2)
    train_loss, val_loss = evaluate_model(model, batches, batches[:1], "cpu", eval_iter=2)
    assert model.training and all(p.grad is None for p in model.parameters())
    model.eval()
    assert train_loss == pytest.approx(calc_loss_loader(batches, model, "cpu", 2))
    assert val_loss == pytest.approx(calc_loss_loader(batches[:1], model, "cpu"))


# ---------------------------------------------------------------- sampling


@given(gpt_configs(), seeds())
def test_greedy_generate_is_generate_text_simple(cfg, seed):
    """generate with temperature 0 (with or without top_k) gives generate_text_simple's ids."""
    model, context = tiny_model(cfg, seed).eval(), cfg["context_length"]
    idx = torch.randint(0, cfg["vocab_size"], (2, 3), generator=torch.Generator().manual_seed(seed))
    expected = generate_text_simple(model, idx, max_new_tokens=12, context_size=context)
    assert torch.equal(generate(model, idx, 12, context), expected)
    assert torch.equal(generate(model, idx, 12, context, top_k=min(3, cfg["vocab_size"])), expected)


distinct_logits = st.lists(st.integers(-500, 500), min_size=2, max_size=30, unique=True).map(
    lambda values: [v / 50 for v in values]
)


@given(distinct_logits, st.data())
def test_top_k_never_samples_outside_the_top_k(logits, data):
    """With top_k=k, every sampled token is one of the k largest logits."""
    k = data.draw(st.integers(1, len(logits)))
    allowed = set(sorted(range(len(logits)), key=lambda i: -logits[i])[:k])
    out = generate(FixedLogits(logits), torch.zeros(1, 1, dtype=torch.long), 30, 4, temperature=1.5, top_k=k)
    assert set(out[0, 1:].tolist()) <= allowed


@given(distinct_logits, st.data())
def test_top_k_filter_keeps_exactly_the_k_largest(logits, data):
    """top_k_filter leaves the k largest logits of each row untouched and sets the others to -inf."""
    rows = torch.tensor([logits, logits[::-1]])
    k = data.draw(st.integers(1, len(logits)))
    filtered = top_k_filter(rows, k)
    for row, out in zip(rows.tolist(), filtered.tolist(), strict=True):
        top = set(sorted(range(len(row)), key=lambda i: -row[i])[:k])
        assert out == [v if i in top else float("-inf") for i, v in enumerate(row)]


@given(distinct_logits, st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_reaching_p(logits, top_p):
    """top_p_filter keeps the most likely tokens, just enough of them for their probability to reach p."""
    probs = torch.softmax(torch.tensor(logits, dtype=torch.float64), dim=-1).tolist()
    kept = torch.isfinite(top_p_filter(torch.tensor([logits]), top_p))[0].tolist()
    kept_probs = sorted((p for p, keep in zip(probs, kept) if keep), reverse=True)
    assert min(kept_probs) >= max((p for p, keep in zip(probs, kept) if not keep), default=0.0)  # a top set
    assert sum(kept_probs) >= top_p - 1e-6  # reaches p
    assert sum(kept_probs[:-1]) < top_p + 1e-6  # and is the smallest such set


@given(distinct_logits, st.floats(0.05, 0.95), seeds())
def test_top_p_sampling_stays_in_the_nucleus(logits, top_p, seed):
    """generate(top_p=p) only samples tokens that top_p_filter keeps at that temperature."""
    torch.manual_seed(seed)
    nucleus = torch.isfinite(top_p_filter(torch.tensor([logits]) / 0.7, top_p))[0]
    out = generate(FixedLogits(logits), torch.zeros(1, 1, dtype=torch.long), 30, 4, temperature=0.7, top_p=top_p)
    assert nucleus[out[0, 1:]].all()


def test_top_p_of_one_keeps_every_token():
    """top_p=1.0 removes nothing."""
    logits = torch.tensor([[2.0, 1.0, 0.5, -3.0]])
    assert torch.equal(top_p_filter(logits, 1.0), logits)


@pytest.mark.parametrize("kwargs", [{"top_p": 0.0}, {"top_p": 1.5}, {"top_k": 0}, {"top_k": 11}])
def test_invalid_top_k_or_top_p_raises(kwargs):
    """top_p outside (0, 1] and top_k outside [1, vocab_size] raise ValueError."""
    with pytest.raises(ValueError):
        generate(FixedLogits(torch.zeros(10)), torch.zeros(1, 1, dtype=torch.long), 1, 4, temperature=1.0, **kwargs)


def test_generation_stops_before_eos():
    """generate stops as soon as the next token is eos_id, without appending it."""
    out = generate(CountUp(10), torch.tensor([[0]]), max_new_tokens=8, context_size=4, eos_id=4)
    assert out.tolist() == [[0, 1, 2, 3]]
    assert generate(CountUp(10), torch.tensor([[0]]), 8, 4).tolist() == [[0, 1, 2, 3, 4, 5, 6, 7, 8]]


def test_batch_generation_stops_only_when_every_row_predicts_eos():
    """In a batch, generate stops at a step where every row's next token is eos_id, and only then."""
    together = generate(CountUp(10), torch.tensor([[0], [0]]), max_new_tokens=8, context_size=4, eos_id=4)
    apart = generate(CountUp(10), torch.tensor([[2], [0]]), max_new_tokens=8, context_size=4, eos_id=4)
    assert together.tolist() == [[0, 1, 2, 3]] * 2
    assert apart.tolist() == [[(2 + i) % 10 for i in range(9)], list(range(9))]  # never 4 together


# ---------------------------------------------------------------- training


def verdict_training(seed: int = 123, num_epochs: int = 1):
    """Train a narrow GPT (GPT-2 vocabulary, emb 32, 2 layers, context 32) on half the-verdict with AdamW."""
    cfg = {"vocab_size": 50257, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
           "drop_rate": 0.0, "qkv_bias": False}
    text = read_text("the-verdict.txt")[:10_000]
    torch.manual_seed(seed)
    train_loader, val_loader = train_val_loaders(text, batch_size=2, max_length=32, stride=32)
    model = GPTModel(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.1)
    return train_model_simple(model, train_loader, val_loader, optimizer, "cpu", num_epochs, eval_freq=10,
                              eval_iter=2, start_context="Every effort moves you", tokenizer=gpt2_encoding())


@pytest.fixture(scope="module")
def two_verdict_runs():
    return verdict_training(), verdict_training()


def test_training_lowers_the_loss(two_verdict_runs):
    """A few dozen AdamW steps on the-verdict lower train and val loss by over 2 nats from ln(50257)."""
    train_losses, val_losses, _ = two_verdict_runs[0]
    assert train_losses[0] > 9.5 and val_losses[0] > 9.5
    assert train_losses[-1] < train_losses[0] - 2.0
    assert val_losses[-1] < val_losses[0] - 2.0


def test_training_is_deterministic_for_a_seed(two_verdict_runs):
    """Two runs from the same seed record identical losses and token counts."""
    first, second = two_verdict_runs
    assert first == second


def test_training_prints_progress_and_a_sample(capsys):
    """train_model_simple prints the book's progress line and a generated sample after each epoch."""
    cfg = {"vocab_size": 50257, "context_length": 8, "emb_dim": 8, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.0, "qkv_bias": False}
    model, batches = GPTModel(cfg), random_batches(cfg, n=2, batch_size=1)
    train_model_simple(model, batches, batches, torch.optim.SGD(model.parameters(), lr=0.1), "cpu", 1, 1, 1,
                       "Every effort moves you", gpt2_encoding())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Ep 1 (Step 000000): Train loss ") and lines[1].startswith("Ep 1 (Step 000001)")
    assert lines[2].startswith("Every effort moves you")


@pytest.mark.parametrize("num_batches, eval_freq", [(7, 3), (4, 1), (5, 10)])
def test_evaluations_follow_the_book_schedule(tiny_cfg, num_batches, eval_freq):
    """Evaluation happens at global steps 0, eval_freq, 2 * eval_freq, ... with the tokens seen so far."""
    model, batches = tiny_model(tiny_cfg), random_batches(tiny_cfg, n=num_batches, batch_size=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    _, _, tokens = train_model_simple(model, batches, batches[:1], optimizer, "cpu", 2, eval_freq, 1, None, None)
    tokens_per_step = 2 * tiny_cfg["context_length"]
    assert tokens == [(step + 1) * tokens_per_step for step in range(0, 2 * num_batches, eval_freq)]


@given(gpt_configs(), st.integers(2, 4), st.integers(1, 3), seeds())
def test_gradient_accumulation_equals_one_large_batch(cfg, k, b, seed):
    """accumulation_steps=k over k batches of size b gives the SGD update of one batch of size k*b."""
    batches = random_batches(cfg, n=k, batch_size=b, seed=seed)
    large = [(torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches]))]
    accumulated, reference = tiny_model(cfg, seed), tiny_model(cfg, seed)
    for model, loader, steps in ((accumulated, batches, k), (reference, large, 1)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        train_model_simple(model, loader, loader, optimizer, "cpu", 1, 100, 1, None, None, accumulation_steps=steps)
    for (name, p), q in zip(accumulated.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0, msg=name)


def test_accumulation_steps_one_is_the_book_loop(tiny_cfg):
    """accumulation_steps=1 (the default) updates after every batch: 4 batches, 4 SGD steps."""
    model, batches = tiny_model(tiny_cfg), random_batches(tiny_cfg, n=4, batch_size=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _, _, tokens = train_model_simple(model, batches, batches, optimizer, "cpu", 1, 1, 1, None, None)
    assert len(tokens) == 4


def test_partial_accumulation_steps_at_the_end_of_an_epoch(tiny_cfg):
    """With 5 batches and accumulation_steps=2, updates come after batches 2, 4 and 5."""
    model, batches = tiny_model(tiny_cfg), random_batches(tiny_cfg, n=5, batch_size=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _, _, tokens = train_model_simple(model, batches, batches, optimizer, "cpu", 1, 1, 1, None, None,
                                      accumulation_steps=2)
    assert tokens == [n * tiny_cfg["context_length"] for n in (2, 4, 5)]


def test_early_stopping_stops_after_patience_evaluations(tiny_cfg):
    """With a learning rate of 0 the val loss never improves: patience=2 stops after 3 evaluations."""
    model, batches = tiny_model(tiny_cfg), random_batches(tiny_cfg, n=10, batch_size=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    _, val_losses, _ = train_model_simple(model, batches, batches[:2], optimizer, "cpu", 3, 1, 1, None, None,
                                          patience=2)
    assert len(val_losses) == 3 and len(set(val_losses)) == 1


def test_no_early_stopping_by_default(tiny_cfg):
    """Without patience, a run whose val loss never improves still trains every epoch."""
    model, batches = tiny_model(tiny_cfg), random_batches(tiny_cfg, n=10, batch_size=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    _, val_losses, _ = train_model_simple(model, batches, batches[:2], optimizer, "cpu", 3, 1, 1, None, None)
    assert len(val_losses) == 30


def test_invalid_accumulation_steps_raise(tiny_cfg):
    """accumulation_steps below 1 raises ValueError."""
    model = tiny_model(tiny_cfg)
    with pytest.raises(ValueError, match="accumulation_steps"):
        train_model_simple(model, [], [], torch.optim.SGD(model.parameters(), lr=0.1), "cpu", 1, 1, 1, None, None,
                           accumulation_steps=0)


# ---------------------------------------------------------------- checkpoints


def checkpoint_round_trip(cfg: dict, path):
    """Train 2 AdamW steps, save, and load into a differently seeded model and a fresh AdamW."""
    model, batches = tiny_model(cfg, seed=1), random_batches(cfg, n=2, batch_size=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    train_model_simple(model, batches, batches, optimizer, "cpu", 1, 1, 1, None, None)
    save_checkpoint(path, model, optimizer)
    restored = tiny_model(cfg, seed=2)
    restored_opt = torch.optim.AdamW(restored.parameters(), lr=5e-4)
    load_checkpoint(path, restored, restored_opt)
    return (model, optimizer), (restored, restored_opt)


def test_checkpoint_restores_the_weights(tiny_cfg, tmp_path):
    """load_checkpoint restores every tensor of the saved model's state dict exactly."""
    (model, _), (restored, _) = checkpoint_round_trip(tiny_cfg, tmp_path / "model_and_optimizer.pth")
    restored_state = restored.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(restored_state[name], value), name


def test_checkpoint_restores_the_optimizer(tiny_cfg, tmp_path):
    """load_checkpoint restores AdamW's hyperparameters, step counts and moment estimates exactly."""
    (_, optimizer), (_, restored_opt) = checkpoint_round_trip(tiny_cfg, tmp_path / "model_and_optimizer.pth")
    saved, loaded = optimizer.state_dict(), restored_opt.state_dict()
    assert loaded["param_groups"] == saved["param_groups"]
    for index, state in saved["state"].items():
        for key, value in state.items():
            assert torch.equal(loaded["state"][index][key], value), (index, key)


def test_load_checkpoint_refuses_pickled_code(tiny_cfg, tmp_path):
    """load_checkpoint unpickles tensors only (weights_only=True): arbitrary objects are refused."""
    torch.save({"model_state_dict": {}, "payload": Exception("not a tensor")}, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / "evil.pth", tiny_model(tiny_cfg))
