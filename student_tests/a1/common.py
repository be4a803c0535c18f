"""What the a1 checks share: the book's data as the grader builds it, Hypothesis strategies, probe helpers.

The grader never uses the student's vocabulary to test the tokenizers: it builds its own from
the-verdict.txt with the reference (`reference.ch02.build_vocab`) and passes it in, so a bug
in the notebook's vocabulary shows up in one check (test_vocabulary.py) only.

Two readings of the book's word split are correct: the final one splits on `,.:;?_!"()'`, `--` and
whitespace; the chapter's notebook first split without `:` and `;` (its vocabulary then has 1159
words). Checks accept either, as they accept both decode readings.
"""

import functools
import itertools
import re
import string
from dataclasses import dataclass

import pytest
import torch
from hypothesis import strategies as st

from grader.checks import expect
from grader.notebook import GPT2_TOKENIZER
from reference.assets import gpt2_encoding, read_text
from reference.ch02 import ENDOFTEXT, UNK, build_vocab, split_text

RAW_TEXT = read_text("the-verdict.txt")
VOCAB = build_vocab(split_text(RAW_TEXT))  # 1130 entries (section 2.3)
VOCAB_V2 = build_vocab(split_text(RAW_TEXT), special_tokens=[ENDOFTEXT, UNK])  # 1132 entries (section 2.4)
EARLY_SPLIT_PATTERN = r'([,.?_!"()\']|--|\s)'  # the chapter notebook's first split: no `:` or `;`


def early_split(text: str) -> list[str]:
    """The split without `:` and `;`, stripped, empty items dropped."""
    return [item.strip() for item in re.split(EARLY_SPLIT_PATTERN, text) if item.strip()]


VOCAB_EARLY = build_vocab(early_split(RAW_TEXT))  # 1159 entries
VOCAB_EARLY_V2 = build_vocab(early_split(RAW_TEXT), special_tokens=[ENDOFTEXT, UNK])
GPT2 = gpt2_encoding()
PUNCTUATION = {token for token in VOCAB if not token[0].isalnum()}
STORY_WORDS = sorted(VOCAB)
# Each is one GPT-2 token, with or without a leading space, so n words joined by spaces are n tokens.
TWO_TEXTS = "the cat sat on the mat.<|endoftext|> The dog ran."  # the book joins texts with this token (2.4)
COMMON_WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "it", "was", "good", "to", "see", "him", "again"]
PUNCTUATED_TEXT = "".join(f"the{mark}" for mark in sorted(PUNCTUATION)) + "the"  # every mark between two words
REFUSALS = ("ValueError", "AssertionError")  # a clear refusal of a text too short for one window
UNKNOWN_WORD_ERRORS = ("KeyError", "LookupError", "ValueError")  # SimpleTokenizerV1 refusing a word it does not know

# ---------------------------------------------------------------- strategies


@st.composite
def story_texts(draw, *, min_tokens=1, max_tokens=20, extra_words=()):
    """Text made of the story's tokens (plus `extra_words`), separated by varied whitespace.

    About half the tokens are punctuation, which may touch its neighbours ("painted," as well as
    "painted ,"), as in real text.
    """
    pool = st.sampled_from(STORY_WORDS) | st.sampled_from(sorted(PUNCTUATION))
    if extra_words:
        pool = pool | st.sampled_from(list(extra_words))
    tokens = draw(st.lists(pool, min_size=min_tokens, max_size=max_tokens))
    text = tokens[0] if tokens else ""
    for before, token in itertools.pairwise(tokens):
        touching = before in PUNCTUATION or token in PUNCTUATION
        text += draw(st.sampled_from(["", " "] if touching else [" ", "  ", "\n", " \t"])) + token
    return text


def unknown_words(*, min_size=1, max_size=10):
    """Words of ASCII letters that are not in the story's vocabulary."""
    return st.text(alphabet=string.ascii_letters, min_size=min_size, max_size=max_size).filter(lambda w: w not in VOCAB)


def id_lists(vocab, *, min_size=0, max_size=25):
    """Lists of ids of `vocab`, about half of them punctuation or special tokens (where decoding goes wrong)."""
    tricky = sorted(i for token, i in vocab.items() if not token[0].isalnum())
    return st.lists(st.integers(0, len(vocab) - 1) | st.sampled_from(tricky), min_size=min_size, max_size=max_size)


def punctuation_after_words(vocab):
    """Ids of `the` followed by each punctuation or special token of vocab: where a decode keeps a space it should
    drop."""
    return [i for token, mark in sorted(vocab.items(), key=lambda t: t[1]) if not token[0].isalnum()
            for i in (vocab["the"], mark)]


def word_texts(*, min_tokens=0, max_tokens=40):
    """Plain English text of `min_tokens` to `max_tokens` GPT-2 tokens (common words joined by spaces)."""
    return st.lists(st.sampled_from(COMMON_WORDS), min_size=min_tokens, max_size=max_tokens).map(" ".join)


@st.composite
def windowed_texts(draw, *, max_window=8, max_windows=6):
    """(txt, max_length, stride): from a text one token too short for a window up to `max_windows` windows.

    The shortest texts are degenerate (no window fits): the book's first code gives no items, its
    current code raises an AssertionError; both are correct (see refused)."""
    max_length, stride = draw(st.integers(1, max_window)), draw(st.integers(1, max_window))
    n_tokens = max_length + draw(st.integers(0, max_windows * stride))
    return draw(word_texts(min_tokens=n_tokens, max_tokens=n_tokens)), max_length, stride


# ---------------------------------------------------------------- the reference's outcomes


def outcome(call, *args):
    """What the reference does with args, in the probe's format."""
    try:
        value = call(*args)
    except Exception as err:  # noqa: BLE001 - the reference's KeyError is an expected outcome
        return {"error": type(err).__name__}
    return {"text": value} if isinstance(value, str) else {"ids": list(value)}


def encodings(text, vocab, *, unknown=None):
    """The outcomes the book allows for encoding `text` with `vocab`: one per split reading. Unknown
    tokens become `unknown` (V2) or raise KeyError (V1)."""
    def encode(split):
        return [vocab[t] if unknown is None or t in vocab else vocab[unknown] for t in split(text)]
    found = [outcome(encode, split) for split in (split_text, early_split)]
    return [o for i, o in enumerate(found) if o not in found[:i]]


def shown(result):
    """A probe result as a student reads it."""
    if "error" in result:
        return f"raised {result['error']}: {result.get('message', '')}".rstrip(": ")
    return repr(result.get("text", result.get("ids")))


def raised(result, *names):
    """Whether the probe result is an exception of one of these classes (or a subclass of one)."""
    return "error" in result and bool(set(result.get("kinds", [result["error"]])) & set(names))


def same(result, expected):
    """Equal outcomes: the same ids/text, or the same exception type (a subclass of it included; where the
    book raises KeyError for an unknown word, a ValueError saying so is as clear)."""
    if "error" in expected:
        return raised(result, *(UNKNOWN_WORD_ERRORS if expected["error"] == "KeyError" else (expected["error"],)))
    return result == expected


def agrees(result, allowed):
    """Whether the probe result is one of the outcomes the book allows (see encodings)."""
    return any(same(result, expected) for expected in allowed)


def first_difference(got: list, expected: list, what: str = "item") -> str:
    """'item 3 is X, expected Y' for the first position where two lists differ (a missing one included)."""
    i = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    mine = got[i] if i < len(got) else "missing"
    theirs = expected[i] if i < len(expected) else "none (there should be no more)"
    return f"{what} {i} is {mine}, expected {theirs}"


# ---------------------------------------------------------------- running the student's tokenizers


@dataclass(frozen=True)
class Found:
    """An exercise's class or function as the notebook has it, and how the grader found it."""

    book_name: str
    used_name: str
    why: str

    @property
    def display(self) -> str:
        if self.used_name == self.book_name:
            return f"`{self.book_name}`"
        return f"`{self.book_name}` (your `{self.used_name}`, found by {self.why})"


@functools.lru_cache(maxsize=16)
def _find_exercise(nb, name):
    data = nb.run("a1.find_exercise", {"name": name}, what=f"looking for exercise `{name}`")
    if data["used_name"] is not None:
        nb.record_found(name, data["used_name"], data["why"])
    return data


def exercise(nb, name, *, looks_for: str) -> Found:
    """The exercise's class or function (GRADER_NAMES, the book's name, then by name pattern and a trial
    call), or a skip: an exercise not attempted is never failed."""
    data = _find_exercise(nb, name)
    if data["used_name"] is None and data.get("imported_from"):
        pytest.skip(f"exercise not attempted: `{name}` comes from {data['imported_from']}, not from your code")
    if data["used_name"] is None:
        rejected = "".join(f"; your `{c['name']}` has such a name but {c['why']}, so it was not taken for it"
                           for c in data.get("rejected", []))
        pytest.skip(f"exercise not attempted: no `{name}` in the notebook, nor {looks_for}{rejected} "
                    f"(GRADER_NAMES = {{\"{name}\": \"<yours>\"}} maps another name)")
    return Found(name, data["used_name"], data["why"])


def tokenizer_results(nb, name, *, init, texts=(), ids=(), round_trip_texts=(), round_trip_ids=(), found=None):
    """The component, and per item {"ids": [...]} / {"text": "..."} / {"error": name, "message": ...}.

    `found` (an exercise the search found) is used instead of the contract name `name`."""
    component = found or nb.require(name)
    payload = {"name": name, "used_name": found and found.used_name, "init": init, "texts": list(texts),
               "ids": [list(i) for i in ids], "round_trip_texts": list(round_trip_texts),
               "round_trip_ids": [list(i) for i in round_trip_ids]}
    data = nb.run("a1.tokenizer", payload, what=f"building {component.display}(...) or calling its encode/decode")
    return component, data


# ---------------------------------------------------------------- the dataset and the loader


def refused(data, *, n_tokens, max_length):
    """Whether the probe's answer is the clear refusal the book allows: a ValueError/AssertionError on a
    text of at most max_length tokens (no window fits; the book's current GPTDatasetV1 asserts this)."""
    return n_tokens <= max_length and raised(data, *REFUSALS)


def expect_no_error(data, component, call, *, degenerate):
    """Fail with the student's exception when building or iterating raised (other than a refusal the book allows)."""
    if "error" not in data:
        return
    if degenerate:
        pytest.fail(f"{component.display}: {call} {shown(data)}; on a text too short for one window the book gives "
                    f"no windows, and a clear ValueError or AssertionError is fine too (section 2.6).", pytrace=False)
    pytest.fail(f"{component.display}: {call} {shown(data)}; the text is long enough for at least one window, "
                f"so it should work (section 2.6).", pytrace=False)


def windows_of(ids, max_length):
    """Every (inputs, targets) window of max_length tokens in ids, targets shifted by one, as tuples."""
    return {(tuple(ids[i:i + max_length]), tuple(ids[i + 1:i + max_length + 1])) for i in range(len(ids) - max_length)}


def expect_windows(pairs, *, ids, max_length, component, what):
    """Fail unless every (inputs, targets) pair is a window of the text: max_length consecutive tokens and
    the tokens that follow each of them (so a stub of zeros, a constant or unshifted targets fails)."""
    real = windows_of(ids, max_length)
    bad = next(((x, y) for x, y in pairs if (tuple(x), tuple(y)) not in real), None)
    if bad is not None:
        pytest.fail(f"{component.display}: {what} holds [inputs, targets] = {[list(bad[0]), list(bad[1])]}, which "
                    f"is not a window of the text: the inputs should be {max_length} consecutive token ids of "
                    f"the text and the targets the token that follows each of them (section 2.6).", pytrace=False)


def expect_integer_ids(tensors, component, what: str) -> None:
    """Fail unless every tensor holds integers: token ids index nn.Embedding and are cross_entropy's targets, which
    refuse floats (torch.Tensor(ids) makes float32; torch.tensor(ids) keeps the ids' int64)."""
    wrong = sorted({str(t.dtype) for t in tensors if t.dtype.is_floating_point or t.dtype.is_complex
                    or t.dtype == torch.bool})
    expect(not wrong, f"{component.display}: {what} are {', '.join(wrong)} tensors; token ids must be integer "
           f"tensors (torch.long, as torch.tensor(ids) makes them; torch.Tensor(ids) makes float32), or "
           f"nn.Embedding and the loss's targets refuse them (section 2.6).")


def dataset_result(nb, *, txt, max_length, stride, indices=None):
    """len and items (as [inputs, targets] tensors) of the student's GPTDatasetV1 on GPT-2's tokenizer, or
    {"error": ...} when building it raised."""
    component = nb.require("GPTDatasetV1")
    init = {"txt": txt, "tokenizer": GPT2_TOKENIZER, "max_length": max_length, "stride": stride}
    data = nb.run("a1.dataset", {"name": "GPTDatasetV1", "init": init, "indices": indices},
                  what=f"building {component.display}(txt, tokenizer, max_length={max_length}, stride={stride})")
    return component, data


def dataset_items(nb, *, txt, max_length, stride, indices=None):
    """(component, data) of a valid dataset, or None when it refused a degenerate text as the book allows.

    An error on a text long enough for a window fails the check."""
    component, data = dataset_result(nb, txt=txt, max_length=max_length, stride=stride, indices=indices)
    n_tokens = len(GPT2.encode(txt, allowed_special="all"))
    if refused(data, n_tokens=n_tokens, max_length=max_length):
        return None
    expect_no_error(data, component, f"GPTDatasetV1(txt={txt!r}, max_length={max_length}, stride={stride})",
                    degenerate=n_tokens <= max_length)
    return component, data


def loader_result(nb, *, seed=0, max_batches=256, epochs=1, **kwargs):
    """len(loader) and the first batches of the student's create_dataloader_v1(**kwargs) (`data["epochs"]`: those
    of each of `epochs` passes over it), or {"error": ...}.

    `data["dropped"]` names the keywords (drop_last, num_workers) left out because the function lacks them."""
    component = nb.require("create_dataloader_v1")
    shown_args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "txt")
    data = nb.run("a1.dataloader", {"name": "create_dataloader_v1", "kwargs": kwargs, "seed": seed,
                                    "max_batches": max_batches, "epochs": epochs},
                  what=f"calling {component.display}(txt, {shown_args}) or iterating its batches")
    if data.get("dropped"):
        shown_args += f" (without {', '.join(data['dropped'])}: your function has no such parameter)"
    return component, data, shown_args


def loader_batches(nb, **kwargs):
    """(component, data, shown args) of a loader on a valid text, or None when it refused a degenerate text
    as the book allows. An error on a text long enough for a window fails the check."""
    component, data, args = loader_result(nb, **kwargs)
    n_tokens = len(GPT2.encode(kwargs["txt"], allowed_special="all"))
    if refused(data, n_tokens=n_tokens, max_length=kwargs["max_length"]):
        return None
    expect_no_error(data, component, f"create_dataloader_v1(txt of {n_tokens} tokens, {args})",
                    degenerate=n_tokens <= kwargs["max_length"])
    return component, data, args
