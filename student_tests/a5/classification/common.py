"""Shared pieces of the a5 classification checks: a small reference classifier, its payload, strategies.

Not a check module (its name does not start with `test_`); the check modules import it.
"""

import pytest
import torch
from hypothesis import strategies as st

from grader.checks import hold_for_review
from grader.notebook import GPT2_TOKENIZER
from reference.ch04 import GPTModel

PROBES = "a5_classification"
# A small GPT over a tiny vocabulary (ids only, no tokenizer) and one over GPT-2's (for texts).
TINY_CFG = {"vocab_size": 60, "context_length": 12, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
            "drop_rate": 0.0, "qkv_bias": True}
# emb_dim >= context_length: the printed book reads the context length as pos_emb.weight.shape[1] (the width) in
# classify_review, which then truncates to the same length as shape[0] would.
GPT2_VOCAB_CFG = {"vocab_size": 50257, "context_length": 24, "emb_dim": 32, "n_heads": 2, "n_layers": 1,
                  "drop_rate": 0.0, "qkv_bias": True}
# Dropout that acts when a model is left in training mode: the checks of eval mode (section 6.6's model.eval()).
DROPOUT = 0.5
WORDS = ["free", "call", "now", "WINNER!!", "you", "have", "won", "£1000", "cash", "prize", "see", "at", "lunch",
         "ok", "lol", "txt", "STOP", "to", "87239", "u", "r", "gr8", ",", "hey", "café", '"quoted"', "it's",
         "Claim", "your", "reward", "tonight", "?", "mum", "😀", "-", "home"]


def reference_classifier(cfg: dict, *, num_classes: int = 2, seed: int = 0) -> GPTModel:
    """The book's GPTModel with a fresh nn.Linear(emb_dim, num_classes) head, built under manual_seed(seed), eval
    mode."""
    torch.manual_seed(seed)
    model = GPTModel(cfg)
    model.out_head = torch.nn.Linear(cfg["emb_dim"], num_classes)
    return model.eval()


def classifier_payload(model: GPTModel, cfg: dict, *, num_classes: int, device: str) -> dict:
    """The payload keys a5_classification probes use to rebuild `model` in the kernel."""
    return {"cfg": cfg, "num_classes": num_classes, "device": device,
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def run_on_classifier(nb, probe: str, payload: dict, *, what: str, section: str, timeout: float = 30.0) -> dict:
    """A probe that hands the student's function the grader's small classifier. A function that reads its own
    model's attributes (`model.my_positions`), which the grader's model lacks, is held for review: the grader's
    model answers the book's names and GPT-2's (`pos_emb`, `transformer.wpe`, `config.block_size`), not every
    student's."""
    result = nb.run(f"{PROBES}.{probe}", payload, what=what, timeout=timeout)
    if "foreign_attribute" in result:
        hold_for_review(f"{what}: it reads an attribute the grader's model does not have "
                        f"({result['foreign_attribute']}),"
                        f" presumably your own model's name for a part. The grader runs your function on its own small "
                        f"GPT classifier, which answers the book's names (model.pos_emb, model.out_head, ...) and "
                        f"GPT-2's (model.transformer.wpe, model.config.block_size, ...). This check is held for the "
                        f"course staff; to have it graded, read the model through the book's names or pass sizes as "
                        f"arguments (section {section}).")
    return result


def text_payload() -> dict:
    return {"tokenizer": GPT2_TOKENIZER}


def signature_problem(component, params: list[str], defaults: dict) -> str | None:
    """None when the component takes `params` (in any order) with `defaults`; else what differs."""
    missing = [p for p in params if p not in component.params]
    wrong = {k: component.defaults.get(k, "no default") for k, v in defaults.items()
             if k in component.params and component.defaults.get(k, "no default") != v}
    if not missing and not wrong:
        return None
    parts = ([f"lacks parameter(s) {missing}"] if missing else []) + \
            ([f"has default(s) {wrong} where the book has {defaults}"] if wrong else [])
    return f"{component.display} takes {list(component.params)}: it " + " and ".join(parts)


@st.composite
def messages(draw, *, min_words: int = 1, max_words: int = 12):
    """An SMS-like message: words (with punctuation, digits, emoji, non-ASCII) joined by spaces."""
    return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=max_words)))


@st.composite
def spam_rows(draw, *, min_rows: int = 2, max_rows: int = 6, max_words: int = 12):
    """[label, text] rows as the book's CSV files hold them: label 0 (ham) or 1 (spam)."""
    n = draw(st.integers(min_rows, max_rows))
    return [[draw(st.integers(0, 1)), draw(messages(max_words=max_words))] for _ in range(n)]


@st.composite
def id_batches(draw, cfg: dict, *, num_classes: int, min_batch: int = 1, max_batch: int = 4, min_tokens: int = 2):
    """(inputs (batch, tokens) ids, targets (batch,) class indices)."""
    batch, tokens = draw(st.integers(min_batch, max_batch)), draw(st.integers(min_tokens, cfg["context_length"]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    return (torch.randint(0, cfg["vocab_size"], (batch, tokens), generator=g),
            torch.randint(0, num_classes, (batch,), generator=g))


def first_token_loss(model, inputs, targets) -> float:
    """The loss a first-token classifier (logits[:, 0, :]) gives: the mistake the checks name."""
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(inputs)[:, 0, :], targets))


def predictions(model, inputs, position: int) -> torch.Tensor:
    with torch.no_grad():
        return model(inputs)[:, position, :].argmax(dim=-1)



def require_model(info: dict | None) -> dict:
    """The global model's description, or a failed check saying the notebook has none."""
    if info is None:
        pytest.fail("the notebook defines no global `model`: the checks inspect the classifier the notebook builds "
                    "and trains under that name (map another name with GRADER_NAMES = {\"model\": \"<yours>\"}). "
                    "See section 6.5.", pytrace=False)
    return info
