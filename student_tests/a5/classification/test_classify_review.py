"""classify_review (section 6.8): one message in, "spam" or "not spam" out.

Your classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256) runs
with GPT-2's tokenizer on a small reference GPT classifier (GPT-2's vocabulary, the grader's
weights, its head's bias set so that half the messages are spam) for drawn messages, some longer
than max_length. Like the book it must encode the text, cut it to max_length (at most the
model's context length), pad it with pad_token_id to that length, and answer "spam" when the
last token's logits pick class 1, else "not spam".

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
    GPT2_VOCAB_CFG,
    PROBES,
    classifier_payload,
    messages,
    reference_classifier,
    signature_problem,
    text_payload,
)

pytestmark = pytest.mark.check(component="classify_review", section="6.8")
NAME, SECTION = "classify_review", "6.8"


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
    labels = nb.run(f"{PROBES}.classify", payload, what=f"calling {nb.require(NAME).display}")["labels"]
    expected = [classify_review(t, model, gpt2_encoding(), "cpu", max_length, pad_token_id) for t in texts]
    first = [_first_token_label(model, t, max_length, pad_token_id) for t in texts]
    hint = (" Those are the FIRST token's predictions (logits[:, 0, :]); use the last token's, logits[:, -1, :]."
            if labels == first else "")
    wrong = [i for i, (a, b) in enumerate(zip(labels, expected)) if a != b]
    expect(labels == expected,
           f"{nb.require(NAME).display} with max_length={max_length}, pad_token_id={pad_token_id} (model seed {seed}) "
           f"answered {labels}; the reference answers {expected} (first difference: message {texts[wrong[0]] if wrong else ''!r})."
           f"{hint} Encode, keep the first max_length ids, pad to max_length, and return \"spam\" for class 1 else "
           f"\"not spam\". See section {SECTION}.")
