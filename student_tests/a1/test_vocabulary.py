"""The vocabulary (sections 2.3-2.4): the notebook's vocabulary maps the story's sorted distinct tokens to ids.

The book builds it from the-verdict.txt with its regex split: the sorted distinct tokens numbered
from 0 (1130 with the final split; 1159 with the chapter's first split, which leaves out `:` and `;`),
then `<|endoftext|>` and `<|unk|>` appended. Any of these passes.

The assignment does not require a name for it. The grader grades your global `vocab` (or
GRADER_NAMES["vocab"]) when it maps at least 500 tokens to ids; otherwise (no `vocab`, or one that
holds something else, such as exercise 2.1's characters) it looks for one by type: a dict from the
story's tokens to the ids 0..n-1, as a global or held by one of your objects (a tokenizer's
`str_to_int`/`token_to_id` table). Without one, the check is informational.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a1.common import (
    VOCAB,
    VOCAB_EARLY,
    VOCAB_EARLY_V2,
    VOCAB_V2,
)

pytestmark = pytest.mark.check(component="vocab", section="2.3")
ACCEPTED = [VOCAB, VOCAB_V2, VOCAB_EARLY, VOCAB_EARLY_V2]
STORY_TOKENS = set(VOCAB_V2) | set(VOCAB_EARLY_V2)
MIN_SIZE, MIN_SHARE = 500, 0.9  # a dict found by type is a vocabulary of the story when it is this much of it


def _first_differences(got: dict, expected: dict, limit=5) -> str:
    keys = sorted(set(got) | set(expected), key=lambda k: (expected.get(k, 10**9), k))
    diffs = [f"{k!r}: yours {got.get(k, 'missing')}, book {expected.get(k, 'none')}"
             for k in keys if got.get(k) != expected.get(k)]
    return "; ".join(diffs[:limit]) + (f"; and {len(diffs) - limit} more" if len(diffs) > limit else "")


def _story_vocabulary(items) -> bool:
    tokens = [token for token, _ in items]
    return len(tokens) >= MIN_SIZE and sum(t in STORY_TOKENS for t in tokens) >= MIN_SHARE * len(tokens)


def _vocabularies(nb) -> tuple[bool, list[tuple[str, dict]]]:
    """(named, [(where, vocabulary)]): the notebook's `vocab` when it is a word vocabulary (at least MIN_SIZE
    entries; graded alone), else the story vocabularies found by type."""
    data = nb.run("a1.vocab", {"name": "vocab"}, what="looking for the notebook's vocabulary")
    named = data["named"]
    if named is not None and len(named["items"]) >= MIN_SIZE:
        return True, [(named["where"], dict(named["items"]))]
    found = [(c["where"], dict(c["items"])) for c in data["candidates"] if _story_vocabulary(c["items"])]
    if not found:
        pytest.skip("informational: no vocabulary of the-verdict.txt in the notebook (a global `vocab`, or a dict "
                    "from the story's tokens to ids 0..n-1 as a global or held by a tokenizer); the assignment does "
                    "not require one by name")
    return False, found


def test_vocab_is_the_books(nb):
    """The vocabulary holds the story's sorted distinct tokens numbered from 0 (plus the two special tokens at the end)."""  # noqa: E501 (a check's title)
    named, found = _vocabularies(nb)
    matching = next(((where, got) for where, got in found if got in ACCEPTED), None)
    where, got = matching or found[0]
    nb.record_found("vocab", where, "the book's name" if named else "its type (a dict from the story's tokens to ids)")
    expected = min(ACCEPTED, key=lambda v: sum(got.get(k) != i for k, i in v.items()) + abs(len(v) - len(got)))
    expect(matching is not None, f"your vocabulary `{where}` has {len(got)} entries; the book's has {len(expected)} "
           f"(sorted distinct tokens of the-verdict.txt, then `<|endoftext|>`, `<|unk|>` appended). "
           f"First differences: {_first_differences(got, expected)}. See sections 2.3-2.4.")
