"""What the a1 checks share: the book's data as the grader builds it, Hypothesis strategies, probe helpers.

The grader never uses the student's vocabulary to test the tokenizers: it builds its own from
the-verdict.txt with the reference (`reference.ch02.build_vocab`) and passes it in, so a bug
in the notebook's vocabulary shows up in one check (test_vocabulary.py) only.
"""

import itertools
import string

from hypothesis import strategies as st

from grader.notebook import GPT2_TOKENIZER
from reference.assets import gpt2_encoding, read_text
from reference.ch02 import ENDOFTEXT, UNK, build_vocab, split_text

RAW_TEXT = read_text("the-verdict.txt")
VOCAB = build_vocab(split_text(RAW_TEXT))  # 1130 entries (section 2.3)
VOCAB_V2 = build_vocab(split_text(RAW_TEXT), special_tokens=[ENDOFTEXT, UNK])  # 1132 entries (section 2.4)
GPT2 = gpt2_encoding()
PUNCTUATION = {token for token in VOCAB if not token[0].isalnum()}
STORY_WORDS = sorted(VOCAB)
# Each is one GPT-2 token, with or without a leading space, so n words joined by spaces are n tokens.
COMMON_WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "it", "was", "good", "to", "see", "him", "again"]

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


def word_texts(*, min_tokens=0, max_tokens=40):
    """Plain English text of `min_tokens` to `max_tokens` GPT-2 tokens (common words joined by spaces)."""
    return st.lists(st.sampled_from(COMMON_WORDS), min_size=min_tokens, max_size=max_tokens).map(" ".join)


@st.composite
def windowed_texts(draw, *, max_window=8, max_windows=6):
    """(txt, max_length, stride): from a text one token too short for a window up to `max_windows` windows."""
    max_length, stride = draw(st.integers(1, max_window)), draw(st.integers(1, max_window))
    n_tokens = max_length + draw(st.integers(0, max_windows * stride))
    return draw(word_texts(min_tokens=n_tokens, max_tokens=n_tokens)), max_length, stride


# ---------------------------------------------------------------- running the student's tokenizers


def tokenizer_results(nb, name, *, init, texts=(), ids=(), round_trip_texts=(), round_trip_ids=()):
    """The component, and per item {"ids": [...]} / {"text": "..."} / {"error": name, "message": ...}."""
    component = nb.require(name)
    payload = {"name": name, "init": init, "texts": list(texts), "ids": [list(i) for i in ids],
               "round_trip_texts": list(round_trip_texts), "round_trip_ids": [list(i) for i in round_trip_ids]}
    data = nb.run("a1.tokenizer", payload, what=f"building {component.display}(...) or calling its encode/decode")
    return component, data


def outcome(call, *args):
    """What the reference does with args, in the probe's format."""
    try:
        value = call(*args)
    except Exception as err:  # noqa: BLE001 - the reference's KeyError is an expected outcome
        return {"error": type(err).__name__}
    return {"text": value} if isinstance(value, str) else {"ids": list(value)}


def shown(result):
    """A probe result as a student reads it."""
    if "error" in result:
        return f"raised {result['error']}: {result.get('message', '')}".rstrip(": ")
    return repr(result.get("text", result.get("ids")))


def same(result, expected):
    """Equal outcomes: the same ids/text, or the same exception type."""
    if "error" in expected:
        return result.get("error") == expected["error"]
    return result == expected


def first_difference(got: list, expected: list, what: str = "item") -> str:
    """'item 3 is X, expected Y' for the first position where two lists differ (a missing one included)."""
    i = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    mine = got[i] if i < len(got) else "missing"
    theirs = expected[i] if i < len(expected) else "none (there should be no more)"
    return f"{what} {i} is {mine}, expected {theirs}"


def dataset_result(nb, *, txt, max_length, stride, indices=None):
    """len and items (as [inputs, targets] tensors) of the student's GPTDatasetV1 on GPT-2's tokenizer."""
    component = nb.require("GPTDatasetV1")
    init = {"txt": txt, "tokenizer": GPT2_TOKENIZER, "max_length": max_length, "stride": stride}
    data = nb.run("a1.dataset", {"name": "GPTDatasetV1", "init": init, "indices": indices},
                  what=f"building {component.display}(txt, tokenizer, max_length={max_length}, stride={stride})")
    return component, data


def loader_result(nb, *, seed=0, max_batches=256, **kwargs):
    """len(loader) and the first batches of the student's create_dataloader_v1(**kwargs)."""
    component = nb.require("create_dataloader_v1")
    shown_args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "txt")
    data = nb.run("a1.dataloader", {"name": "create_dataloader_v1", "kwargs": kwargs, "seed": seed,
                                    "max_batches": max_batches},
                  what=f"calling {component.display}(txt, {shown_args}) or iterating its batches")
    return component, data, shown_args
