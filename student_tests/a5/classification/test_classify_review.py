"""classify_review (section 6.8): one message in, "spam" or "not spam" out.

Your classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256) runs
with GPT-2's tokenizer on a small reference GPT classifier (GPT-2's vocabulary, the grader's
weights, its head's bias set so that half the messages are spam) for drawn messages, some longer
than max_length. Like the book it must encode the text, cut it to max_length (at most the
model's context length), pad it with pad_token_id to that length, and answer "spam" when the
last token's logits pick class 1, else "not spam" (other names for the two labels, used consistently,
are accepted: one version of the book's notebook answers "Positive" / "Negative"). Handed a model in
training mode, it classifies in eval mode (model.eval(), as the book does), so dropout does not change the answer.

Run: pytest student_tests/a5/classification --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.assets import gpt2_encoding
from reference.ch06 import classify_review
from student_tests.a5.classification.common import (
    DROPOUT,
    GPT2_VOCAB_CFG,
    WORDS,
    classifier_payload,
    messages,
    reference_classifier,
    run_on_classifier,
    signature_problem,
    text_payload,
)

pytestmark = pytest.mark.check(component="classify_review", section="6.8")
NAME, SECTION = "classify_review", "6.8"
BOOK_LABELS = ("spam", "not spam")


def _first_token_label(model, text, max_length, pad_token_id) -> str:
    """What a classifier reading logits[:, 0, :] answers (the mistake the check names)."""
    ids = gpt2_encoding().encode(text)[:max_length]
    ids += [pad_token_id] * (max_length - len(ids))
    with torch.no_grad():
        return "spam" if model(torch.tensor([ids]))[0, 0].argmax().item() == 1 else "not spam"


def _balanced(model, texts, max_length, pad_token_id):
    """Shift the head's class-1 bias so that about half the texts come out "spam" (no ties), so answers vary."""
    ids = [gpt2_encoding().encode(t)[:max_length] for t in texts]
    batch = torch.tensor([i + [pad_token_id] * (max_length - len(i)) for i in ids])
    with torch.no_grad():
        logits = model(batch)[:, -1, :]
        margins = (logits[:, 1] - logits[:, 0]).sort().values
        k = len(texts) // 2
        model.out_head.bias[1] -= float(margins[k - 1] + margins[k]) / 2
    return model


def _renaming(labels: list, expected: list) -> dict | None:
    """{the book's label: the student's} when the student's answers are the reference's under a one-to-one renaming
    of the two labels ("Positive" / "Negative" in one version of the book's notebook), else None. A student label
    that is one of the book's must stand for the same class."""
    mapping: dict = {}
    for theirs, ours in zip(labels, expected):
        if mapping.setdefault(ours, theirs) != theirs:
            return None
    if len(set(mapping.values())) != len(mapping) or any(v in BOOK_LABELS and v != k for k, v in mapping.items()):
        return None
    return mapping


def test_exists_with_the_book_signature(nb):
    """classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256) exists."""
    problem = signature_problem(nb.require(NAME), ["text", "model", "tokenizer", "device", "max_length",
                                                   "pad_token_id"], {"max_length": None, "pad_token_id": 50256})
    expect(problem is None, f"{problem}; the book's signature is classify_review(text, model, tokenizer, device, "
                            f"max_length=None, pad_token_id=50256) (section {SECTION})")


@settings(max_examples=4)
@given(texts=st.lists(messages(max_words=30), min_size=8, max_size=8, unique=True), max_length=st.integers(3, 24),
       pad_token_id=st.sampled_from([50256, 0]), seed=st.integers(0, 2**16))
def test_labels_match_the_reference(nb, texts, max_length, pad_token_id, seed):
    """For drawn messages, max_length and pad_token_id, the answers equal the reference's "spam" / "not spam"."""
    model = _balanced(reference_classifier(GPT2_VOCAB_CFG, seed=seed), texts, max_length, pad_token_id)
    payload = {**classifier_payload(model, GPT2_VOCAB_CFG, num_classes=2, device=nb.device), **text_payload(),
               "texts": texts, "max_length": max_length, "pad_token_id": pad_token_id}
    labels = run_on_classifier(nb, "classify", payload, what=f"calling {nb.require(NAME).display}",
                               section=SECTION)["labels"]
    expected = [classify_review(t, model, gpt2_encoding(), "cpu", max_length, pad_token_id) for t in texts]
    first = [_first_token_label(model, t, max_length, pad_token_id) for t in texts]
    mapping = _renaming(labels, expected)
    hint = (" Those are the FIRST token's predictions (logits[:, 0, :]); use the last token's, logits[:, -1, :]."
            if mapping is None and _renaming(labels, first) is not None else "")
    wrong = [i for i, (a, b) in enumerate(zip(labels, expected)) if a != b]
    expect(mapping is not None,
           f"{nb.require(NAME).display} with max_length={max_length}, pad_token_id={pad_token_id} (model seed {seed}) "
           f"answered {labels}; the reference answers {expected} "
           f"(first difference: message {texts[wrong[0]] if wrong else ''!r})."
           f"{hint} Encode, keep the first max_length ids, pad to max_length, and return \"spam\" for class 1 else "
           f"\"not spam\". See section {SECTION}.")


def test_classifies_in_eval_mode(nb):
    """Handed a model in training mode (dropout 0.5), the answers are the eval-mode ones: dropout does not act."""
    cfg = {**GPT2_VOCAB_CFG, "drop_rate": DROPOUT}
    texts = [" ".join(WORDS[i:i + 2 + i % 5]) for i in range(0, 32, 2)]
    model = _balanced(reference_classifier(cfg, seed=21), texts, 12, 50256)
    payload = {**classifier_payload(model, cfg, num_classes=2, device=nb.device), **text_payload(),
               "texts": texts, "max_length": 12, "pad_token_id": 50256, "train": True}
    result = run_on_classifier(nb, "classify", payload, what=f"calling {nb.require(NAME).display}", section=SECTION)
    expected = [classify_review(t, model, gpt2_encoding(), "cpu", 12, 50256) for t in texts]
    mapping = _renaming(result["labels"], expected)
    renamed = [(mapping or {}).get(label, label) for label in expected]
    wrong = [i for i, (a, b) in enumerate(zip(result["labels"], renamed)) if a != b]
    # answers that differ although every forward call ran in eval mode are another check's business (the labels)
    expect(result["forward_calls"] > 0, f"{nb.require(NAME).display} answered {result['labels']} without calling "
           f"the model it was given; classify each text with the model's last-token logits (section {SECTION}).")
    expect(mapping is not None or not result["train_mode_calls"],
           f"{nb.require(NAME).display}, handed a model in training mode with dropout {DROPOUT}, answered "
           f"{result['labels']}; in eval mode the model answers {expected} ({len(wrong)} differ, e.g. "
           f"{texts[wrong[0]] if wrong else ''!r}). {result['train_mode_calls']} of its {result['forward_calls']} "
           f"forward calls ran in training mode, where dropout changes the answer at random. Call model.eval() "
           f"first, as the book does (section {SECTION}).")
