"""GPT-2's byte pair encoding (section 2.5): the notebook's BPE tokenizer encodes like tiktoken's "gpt2".

The assignment does not require a name for it. The check uses the first of these that encodes
"Hello, world!" like GPT-2: the notebook's global `tokenizer` (at the end of the book's chapter 2
it is `tiktoken.get_encoding("gpt2")`; GRADER_NAMES = {"tokenizer": "my_bpe"} maps another name),
any tiktoken encoding in the notebook's globals, any other global object with encode and decode
(your own BPE). A notebook without one skips these checks as informational.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch02 import ENDOFTEXT
from student_tests.a1.common import GPT2, shown

pytestmark = pytest.mark.check(component="BPE tokenizer", section="2.5")
BOOK_TEXT = "Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace."
BOOK_IDS = [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 1659, 617, 34680,
            27271, 13]
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # any Unicode text


def _bpe(nb, *, texts=(), ids=()):
    data = nb.run("a1.bpe_tokenizer", {"name": "tokenizer", "texts": list(texts), "ids": [list(i) for i in ids],
                                       "allowed_special": [ENDOFTEXT]}, what="the notebook's BPE tokenizer")
    if not data["found"]:
        examined = ", ".join(data["examined"]) or "none"
        pytest.skip("informational: no GPT-2 BPE tokenizer in the notebook's globals (an object whose encode gives "
                    f"GPT-2's ids for 'Hello, world!'; examined: {examined}), e.g. `tokenizer = "
                    "tiktoken.get_encoding(\"gpt2\")` (GRADER_NAMES maps another name)")
    nb.record_found("BPE tokenizer", data["used_name"], f"its behaviour (a {data['type']} that encodes like GPT-2)")
    return f"`{data['used_name']}` ({data['type']})", data


def test_encodes_the_book_example(nb):
    """Encodes `Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace.` to the book's ids."""
    used, data = _bpe(nb, texts=[BOOK_TEXT])
    [got] = data["encoded"]
    expect(got == {"ids": BOOK_IDS}, f"the notebook's BPE tokenizer {used} encoded {BOOK_TEXT!r} (with "
           f"allowed_special={{'{ENDOFTEXT}'}}) to {shown(got)}; the book prints {BOOK_IDS}. Use "
           f"tiktoken.get_encoding(\"gpt2\") (section 2.5).")


@given(text=texts)
def test_encodes_and_decodes_like_gpt2(nb, text):
    """Encodes any text to GPT-2's ids, and decodes them back to the same text."""
    expected = GPT2.encode(text, allowed_special={ENDOFTEXT})
    used, data = _bpe(nb, texts=[text], ids=[expected])
    [got], [decoded] = data["encoded"], data["decoded"]
    expect(got == {"ids": expected} and decoded == {"text": text},
           f"the notebook's BPE tokenizer {used}: encode({text!r}) gave {shown(got)}, decode gave {shown(decoded)}; "
           f"GPT-2's BPE gives {expected} and decodes them to the same text (section 2.5).")
