"""What the a5 instruction checks share: the book's data, GPT-2's tokenizer, strategies and message helpers.

Entries are drawn half from the book's instruction-data.json and half made up (words, digits,
quotes, accents, line breaks inside a field), with and without an input. Made-up texts never
start or end with whitespace, so a prompt's tokens are a prefix of the full text's tokens, as
they are for every entry of the book's data.
"""

import re

from hypothesis import strategies as st

from reference.assets import gpt2_encoding, load_instruction_data
from reference.ch07 import RESPONSE_HEADER, format_input, format_response
from student_tests.a5.evidence import output_texts

DATA = load_instruction_data()  # 1100 entries (section 7.2)
GPT2 = gpt2_encoding()
PAD = 50256  # <|endoftext|>
ENTRY_50 = DATA[50]  # the book's example with an input ("Ocassion")
BOOK_ENTRY_50 = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
                 "request.\n\n### Instruction:\nIdentify the correct spelling of the following word.\n\n### Input:\n"
                 "Ocassion\n\n### Response:\nThe correct spelling is 'Occasion.'")
EMPTY_INPUT_INDEX = next(i for i, e in enumerate(DATA) if not e["input"])
WORDS = ["the", "Rewrite", "sentence", "cat", "quickly", "Paris", "42", "3.14", "don't", "\"quoted\"", "naïve", "café",
         "日本", "e-mail", "(see", "below)", "list:", "A", "word.", "Translate", "into", "French", "Hello,", "world!"]
HEADER_TOKENS = len(GPT2.encode(RESPONSE_HEADER))  # "\n\n### Response:\n" is 6 tokens


# ---------------------------------------------------------------- strategies


@st.composite
def texts(draw, *, min_words=1, max_words=10):
    """Words separated by spaces or a line break, never with whitespace at either end."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=max_words))
    text = words[0] if words else ""
    for word in words[1:]:
        text += draw(st.sampled_from([" ", " ", " ", "\n"])) + word
    return text


@st.composite
def entries(draw, *, with_input=None):
    """An entry {"instruction", "input", "output"}: from the book's data or made up; `with_input` forces either."""
    if draw(st.booleans()):
        pool = [e for e in DATA if with_input is None or bool(e["input"]) == with_input]
        return dict(draw(st.sampled_from(pool)))
    has_input = draw(st.booleans()) if with_input is None else with_input
    return {"instruction": draw(texts()), "input": draw(texts()) if has_input else "", "output": draw(texts())}


def entry_lists(*, min_size=1, max_size=4, with_input=None):
    """Lists of entries, as a dataset's `data`."""
    return st.lists(entries(with_input=with_input), min_size=min_size, max_size=max_size)


@st.composite
def token_batches(draw, *, min_items=1, max_items=5, max_tokens=12, pad_token_id=PAD):
    """A collate function's `batch`: lists of token ids of different lengths, none equal to `pad_token_id`."""
    lengths = draw(st.lists(st.integers(1, max_tokens), min_size=min_items, max_size=max_items))
    ids = st.integers(0, 50255).map(lambda i: i if i != pad_token_id else i + 1)
    return [draw(st.lists(ids, min_size=n, max_size=n)) for n in lengths]


# ---------------------------------------------------------------- what the book's code gives


def expected_ids(entry: dict) -> list[int]:
    """Token ids of the prompt, the response header and the output (section 7.3)."""
    return GPT2.encode(format_input(entry) + format_response(entry))


def prompt_length(entry: dict) -> int:
    """Tokens of format_input(entry): the targets before position prompt_length - 1 predict prompt tokens."""
    return len(GPT2.encode(format_input(entry)))


# ---------------------------------------------------------------- messages


def shown(value, limit: int = 300) -> str:
    """repr of a value, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decoded(ids) -> str:
    """Token ids as GPT-2 text (for messages), or the ids themselves when they do not decode."""
    try:
        return repr(GPT2.decode(list(ids)))
    except Exception:  # noqa: BLE001 - ids out of GPT-2's range
        return shown(list(ids))


def text_difference(got: str, expected: str) -> str:
    """Where two strings first differ, with a little context around it."""
    i = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    start = max(0, i - 25)
    return (f"they differ from character {i}: yours has {shown(got[start:i + 35], 120)} where the book's has "
            f"{shown(expected[start:i + 35], 120)}")


def entries_text(entries_: list[dict]) -> str:
    """Entries in a failure message, shortened."""
    return shown(entries_, 600)


# ---------------------------------------------------------------- the notebook as submitted

RESPONSE_LABEL = re.compile(r"\b(model|generated|finetuned|fine-tuned)('s)?\s+(response|output|answer)s?\b",
                            re.IGNORECASE)
BARE_LABEL = re.compile(r"^\s*(response|output|answer)\s*:", re.IGNORECASE | re.MULTILINE)  # "Response: ..."


def _code_cells(notebook):
    """(cell number counting from 1, source, saved text output) of each code cell."""
    for number, cell in enumerate(notebook.cells if notebook is not None else [], start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "\n".join(t for output in cell.get("outputs", []) or [] for t in output_texts(output))
            yield number, source if isinstance(source, str) else "".join(source), text


def response_cells(notebook) -> list[tuple[int, str]]:
    """(cell number counting from 1, first response line) of code cells whose saved outputs show generated responses.

    A cell counts when its source calls a generation function ("generate") and its output mentions a
    response, or when its output labels one ("Model response:", "Fine-tuned model's answer", "Response: ...").
    """
    found = []
    for number, source, text in _code_cells(notebook):
        labelled = RESPONSE_LABEL.search(text) or BARE_LABEL.search(text)
        if labelled or ("generate" in source and "response" in text.lower()):
            lines = text.splitlines()
            line = next((ln for ln in lines if RESPONSE_LABEL.search(ln)), None) or \
                next((ln for ln in lines if "response:" in ln.lower()), "")
            found.append((number, line.strip()[:80]))
    return found
