"""The vocabulary (sections 2.3-2.4): the notebook's `vocab` maps the story's sorted distinct tokens to ids.

The book builds it from the-verdict.txt with its regex split: 1130 sorted tokens numbered from 0,
then `<|endoftext|>` (1130) and `<|unk|>` (1131) appended. Either version passes.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a1.common import VOCAB, VOCAB_V2

pytestmark = pytest.mark.check(component="vocab", section="2.3")


def _first_differences(got: dict, expected: dict, limit=5) -> str:
    keys = sorted(set(got) | set(expected), key=lambda k: (expected.get(k, 10**9), k))
    diffs = [f"{k!r}: yours {got.get(k, 'missing')}, book {expected.get(k, 'none')}"
             for k in keys if got.get(k) != expected.get(k)]
    return "; ".join(diffs[:limit]) + (f"; and {len(diffs) - limit} more" if len(diffs) > limit else "")


def test_vocab_is_the_books(nb):
    """`vocab` holds the story's 1130 sorted tokens (plus the two special tokens at the end)."""
    component = nb.optional("vocab")
    data = nb.run("a1.vocab", {"name": "vocab"}, what=f"reading {component.display}")
    expect(data["items"] is not None, f"{component.display} should be a dict from token to id, not a {data['type']}. See section 2.3.")
    got = dict(data["items"])
    expected = VOCAB_V2 if len(got) > len(VOCAB) else VOCAB
    expect(got == expected, f"{component.display} has {len(got)} entries; the book's has {len(expected)} "
           f"(sorted distinct tokens of the-verdict.txt, then `<|endoftext|>`, `<|unk|>` appended). "
           f"First differences: {_first_differences(got, expected)}. See sections 2.3-2.4.")
