"""Shared pieces of the a4 checks: the fixed models and loaders sent to the kernel, strategies,
the reference runs on the grader's side, and a chi-square test for the sampling checks.

Not a check module (its name does not start with `test_`); the check modules import it.
"""

import contextlib
import io
import math

import torch
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from grader.checks import hold_for_review
from reference.appendix_d import train_model
from reference.ch04 import GPTModel
from reference.ch05 import train_model_simple

# The checks' fixed model: a reference GPTModel this small trains a step in milliseconds.
TINY_CFG = {"vocab_size": 48, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
            "drop_rate": 0.0, "qkv_bias": False}
DROPOUT = 0.1  # the train()/eval() checks use a model with dropout, where the mode changes the output
START_CONTEXT = "Every effort moves you"
ALPHA = 1e-3  # false-alarm rate of each chi-square test on a correct implementation


# ---------------------------------------------------------------- what the kernel is sent

def reference_model(cfg: dict = TINY_CFG, seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(cfg).eval()


def model_spec(model: GPTModel, cfg: dict = TINY_CFG) -> dict:
    """A reference GPTModel as a payload: its config and weights (the kernel rebuilds it)."""
    return {"kind": "gpt", "cfg": cfg, "state": {k: v.detach().clone() for k, v in model.state_dict().items()
                                                 if not k.endswith("mask")}}


def loader_spec(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int) -> dict:
    return {"inputs": inputs, "targets": targets, "batch_size": batch_size}


def loader(spec: dict) -> DataLoader:
    """The DataLoader the kernel builds from a loader_spec (shuffle=False, drop_last=False)."""
    return DataLoader(TensorDataset(spec["inputs"], spec["targets"]), batch_size=spec["batch_size"], shuffle=False)


def token_data(n: int, tokens: int, *, seed: int, vocab_size: int = TINY_CFG["vocab_size"]):
    """n sequences of `tokens` random ids and their next-token targets (the same text shifted by one)."""
    ids = torch.randint(0, vocab_size, (n, tokens + 1), generator=torch.Generator().manual_seed(seed))
    return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()


# ---------------------------------------------------------------- strategies

@st.composite
def token_batches(draw, *, max_batch: int = 4, min_tokens: int = 1, max_tokens: int = TINY_CFG["context_length"]):
    """(inputs, targets, seed): a batch of token ids and next-token targets for TINY_CFG."""
    batch, tokens, seed = (draw(st.integers(1, max_batch)), draw(st.integers(min_tokens, max_tokens)),
                           draw(st.integers(0, 2**16)))
    return (*token_data(batch, tokens, seed=seed), seed)


@st.composite
def training_setups(draw, *, max_epochs: int = 2, max_train_batches: int = 4, max_eval_freq: int = 3):
    """Keywords for a short run of a training loop: epochs, batches, eval_freq, eval_iter, learning rate."""
    batch_size = draw(st.integers(1, 2))
    return {"num_epochs": draw(st.integers(1, max_epochs)), "batch_size": batch_size,
            "train_sequences": batch_size * draw(st.integers(2, max_train_batches)),
            "val_sequences": draw(st.integers(1, 3)), "eval_freq": draw(st.integers(1, max_eval_freq)),
            "eval_iter": draw(st.integers(1, 2)), "lr": draw(st.sampled_from([5e-4, 1e-3, 4e-3])),
            "weight_decay": draw(st.sampled_from([0.0, 0.1])), "seed": draw(st.integers(0, 2**16))}


def setup_text(setup: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setup.items() if k != "seed") + f" (seed {setup['seed']})"


# ---------------------------------------------------------------- training runs

def training_payload(setup: dict, *, device: str = "cpu", optimizer: str = "adamw", val_targets_shift: int = 0,
                     extra: dict | None = None, drop_rate: float = 0.0) -> dict:
    """The payload of the a4 training probes for a training_setups() draw (the model: TINY_CFG with drop_rate)."""
    seed, cfg = setup["seed"], {**TINY_CFG, "drop_rate": drop_rate}
    train = token_data(setup["train_sequences"], TINY_CFG["context_length"], seed=seed)
    val = token_data(setup["val_sequences"], TINY_CFG["context_length"], seed=seed + 1)
    if val_targets_shift:  # targets the training data contradicts: the validation loss rises while training
        val = (train[0][: setup["val_sequences"]], (train[1][: setup["val_sequences"]] + val_targets_shift)
               % TINY_CFG["vocab_size"])
    return {"model": model_spec(reference_model(cfg, seed=seed), cfg), "device": device,
            "train": loader_spec(*train, setup["batch_size"]), "val": loader_spec(*val, setup["batch_size"]),
            "optimizer": {"kind": optimizer, "lr": setup["lr"], "weight_decay": setup["weight_decay"]},
            "num_epochs": setup["num_epochs"], "eval_freq": setup["eval_freq"], "eval_iter": setup["eval_iter"],
            "start_context": START_CONTEXT, "extra": dict(extra or {})}


def run_training(nb, probe: str, payload: dict, what: str) -> dict:
    """The result of a training probe ("a4.train", "a4.schedule", "a4.accumulation") on the book's GPTModel; where
    the student's loop reads attributes of their own GPTModel that the book's lacks, on their GPTModel holding the
    same weights (result["student_model"]; see weights_gap). Held for review when their GPTModel cannot take the
    book's weights."""
    result = nb.run(probe, payload, what=what, timeout=60)
    if not result.get("model_attribute"):
        return result
    state = _student_weights(nb, payload["model"]["cfg"], payload["model"]["state"])
    if state is None:
        hold_for_review(f"{result['graded']}: your training code reads `{result['model_attribute']}` of the model "
                        f"(a {result['model_part']}), which the book's GPTModel lacks, and your GPTModel does not give "
                        f"the book's logits on the book's weights (see the a3-style checks of GPTModel), so your loop "
                        f"cannot be compared with the book's. This check is held for the course staff (its points are "
                        f"neither given nor lost).")
    student_payload = {**payload, "model": {**payload["model"], "student_state": state}}
    return {**nb.run(probe, student_payload, what=f"{what} (on your own GPTModel)", timeout=60), "student_model": True}


def _student_weights(nb, cfg: dict, state: dict) -> dict | None:
    """The book's weights `state` in the student's GPTModel's names, bound where its logits equal the book's."""
    nb.forward("GPTModel", init={"cfg": cfg}, reference=_book_model(cfg, state).eval(), inputs=[_fixed_ids(cfg)])
    return nb.bound_state("GPTModel")


def _book_model(cfg: dict, state: dict) -> GPTModel:
    """The reference GPTModel(cfg) holding `state` (the book's names)."""
    model = GPTModel(cfg)
    model.load_state_dict(state, strict=False)
    return model


def _fixed_ids(cfg: dict) -> torch.Tensor:
    """Two rows of context_length token ids the trained models are compared on."""
    return torch.arange(2 * cfg["context_length"]).reshape(2, -1) % cfg["vocab_size"]


def weights_tolerance(nb, result: dict) -> float:
    """How far trained weights may be from the book's loop's: float noise per tensor, or, compared by logits on
    the student's own model (another order of operations, amplified over the steps), somewhat more."""
    return 1e-3 if result.get("student_model") else 1e-5 if nb.device == "cpu" else 1e-4


def weights_gap(nb, payload: dict, result: dict, expected: dict) -> tuple[float, str]:
    """(largest difference, where) between the weights a training probe ended with and `expected` (the book's
    loop's state): tensor by tensor on the book's GPTModel; on the student's own (run_training), whose weights have
    their names and layout, by the logits both give on fixed ids."""
    if not result.get("student_model"):
        return largest_weight_difference(result["state"], expected)
    cfg, ids = payload["model"]["cfg"], _fixed_ids(payload["model"]["cfg"])
    theirs = nb.forward_with("GPTModel", init={"cfg": cfg}, state_dict=result["state"], inputs=[ids])
    with torch.no_grad():
        ours = _book_model(cfg, expected).eval()(ids)
    return float((torch.as_tensor(theirs) - ours).abs().max()), "the logits of your trained GPTModel on fixed ids"


def _reference_setup(payload: dict, *, batch_size: int | None = None):
    model = _book_model(payload["model"]["cfg"], payload["model"]["state"])
    opt = payload["optimizer"]
    optimizer = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[opt["kind"]](
        model.parameters(), lr=opt["lr"], weight_decay=opt["weight_decay"])
    train = {**payload["train"], "batch_size": batch_size or payload["train"]["batch_size"]}
    return model, loader(train), loader(payload["val"]), optimizer


def reference_training(payload: dict, *, batch_size: int | None = None, **keywords) -> dict:
    """The book's train_model_simple on the payload's setup: its returned lists and final weights."""
    model, train_loader, val_loader, optimizer = _reference_setup(payload, batch_size=batch_size)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        returned = train_model_simple(model, train_loader, val_loader, optimizer, "cpu", payload["num_epochs"],
                                      payload["eval_freq"], payload["eval_iter"], None, None, **keywords)
    return {"returned": [list(r) for r in returned], "state": model.state_dict()}


def reference_schedule_training(payload: dict, *, warmup_steps: int, initial_lr: float, min_lr: float,
                                inclusive: bool) -> dict:
    """Appendix D's train_model on the payload's setup (clipping after warmup with > or >=)."""
    model, train_loader, val_loader, optimizer = _reference_setup(payload)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        returned = train_model(model, train_loader, val_loader, optimizer, "cpu", payload["num_epochs"],
                               payload["eval_freq"], payload["eval_iter"], None, None, warmup_steps,
                               initial_lr=initial_lr, min_lr=min_lr, clip_after_warmup_inclusive=inclusive)
    return {"returned": [list(r) for r in returned], "state": model.state_dict()}


def largest_weight_difference(state: dict, expected: dict) -> tuple[float, str]:
    """(largest absolute difference, parameter name) between two state dicts of the same model."""
    worst = (0.0, "")
    for name, value in expected.items():
        if name.endswith("mask") or name not in state:
            continue
        diff = float((state[name].float() - value.float()).abs().max())
        worst = max(worst, (diff, name))
    return worst


def rounded(values, digits: int = 4):
    return [None if v is None else round(v, digits) for v in values] if isinstance(values, list) else values


# ---------------------------------------------------------------- chi-square goodness of fit

def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for a chi-square variable with an integer number of degrees of freedom (exact)."""
    if x <= 0:
        return 1.0
    half = x / 2
    q, k = (math.erfc(math.sqrt(half)), 1) if dof % 2 else (math.exp(-half), 2)
    while k < dof:  # Q(x; k + 2) = Q(x; k) + (x/2)^(k/2) e^(-x/2) / Gamma(k/2 + 1)
        q += math.exp((k / 2) * math.log(half) - half - math.lgamma(k / 2 + 1))
        k += 2
    return min(1.0, q)


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> tuple[float, float]:
    """(statistic, p-value) of observed token counts against probabilities; bins expecting < 5 are pooled.

    A token the distribution never gives (probability 0) that was drawn gives (inf, 0.0).
    """
    if bool(((probs <= 1e-12) & (counts > 0)).any()):
        return float("inf"), 0.0
    n = float(counts.sum())
    expected = [(float(e), float(o)) for e, o in zip(probs.double() * n, counts) if e > 1e-9]
    expected.sort(reverse=True)
    bins = [[e, o] for e, o in expected if e >= 5]
    small = [sum(e for e, o in expected if e < 5), sum(o for e, o in expected if e < 5)]
    if small[0] >= 5 or not bins:
        bins.append(small)
    elif small[0] > 0:
        bins[-1] = [bins[-1][0] + small[0], bins[-1][1] + small[1]]
    statistic = sum((o - e) ** 2 / e for e, o in bins if e > 0)
    return statistic, chi2_sf(statistic, max(1, len(bins) - 1))


def distribution_text(probs: torch.Tensor) -> str:
    return "[" + ", ".join(f"{p:.3f}" for p in probs.tolist()) + "]"
