"""Exercise 7.2, masking the instruction (skipped when the notebook has no masked variant).

The assignment asks for "proper masking (don't compute loss on instructions)". The grader looks
for a masked dataset (`InstructionDatasetMasked`, or a class whose name mentions "mask") and/or a
masked collate function (`custom_collate_fn_masked`, or a function whose name mentions "mask" and
"collate"), map yours with GRADER_NAMES if it is named otherwise. It builds
dataset(data, tokenizer) with GPT-2's tokenizer (InstructionDataset when you have no masked
dataset) and calls collate([dataset[i], ...]) (custom_collate_fn when you have no masked one).

Targets at positions 0 .. P-2, where P is the number of prompt tokens (format_input), predict
prompt tokens and must be -100. The target at P-1 and those of the response header may be either;
the targets of the output, the first <|endoftext|> and the padding must stay as in 7.3.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given, settings

from grader.checks import expect
from grader.notebook import GPT2_TOKENIZER
from reference.ch07 import custom_collate_fn
from student_tests.a5.instruction.common import HEADER_TOKENS, entries_text, entry_lists, expected_ids, prompt_length

NAME, SECTION = "custom_collate_fn_masked", "7.3 and exercise 7.2"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)
NOT_FOUND = ("exercise not attempted: no masked dataset or collate function in the notebook (a name with \"mask\", "
             "or GRADER_NAMES entries for \"InstructionDatasetMasked\" / \"custom_collate_fn_masked\")")


def _masked(nb, data):
    """The masked batch of `data` and the pipeline's description, or a skip when there is no masked variant."""
    result = nb.run("a5_instruction.masked_batch", {"data": data, "tokenizer": GPT2_TOKENIZER},
                    what="building your masked dataset or calling your masked collate function")
    if not result["found"]:
        pytest.skip(NOT_FOUND)
    pipeline = f"`{result['collate']}`([`{result['dataset']}`(data, tokenizer)[i] ...])"
    return result, pipeline


def _book_batch(data):
    """The reference's unmasked inputs and targets of `data` (section 7.3)."""
    return [t.tolist() for t in custom_collate_fn([expected_ids(e) for e in data])]


@settings(max_examples=8)
@given(data=entry_lists(with_input=True))
def test_masks_the_prompt_targets(nb, data):
    """Targets that predict prompt tokens (instruction and input) are -100."""
    result, pipeline = _masked(nb, data)
    targets = result["targets"].tolist()
    for row, entry in enumerate(data):
        stop = prompt_length(entry) - 1
        got = targets[row][:stop] if row < len(targets) else []
        expect(got == [-100] * stop,
               f"{pipeline} left {sum(t != -100 for t in got)} of the first {stop} targets of row {row} unmasked "
               f"(they predict the prompt's tokens; format_input gives {stop + 1} tokens): {got[:40]}. Set them to "
               f"-100 so the loss covers the response only. Entries: {entries_text(data)}. See {SECTION}.")


@settings(max_examples=8)
@given(data=entry_lists(with_input=True))
def test_keeps_the_response_targets(nb, data):
    """Inputs and the targets of the output, the first <|endoftext|> and the padding are those of section 7.3."""
    result, pipeline = _masked(nb, data)
    book_inputs, book_targets = _book_batch(data)
    inputs, targets = result["inputs"].tolist(), result["targets"].tolist()
    expect(inputs == book_inputs, f"{pipeline} gave inputs {inputs}; expected the unmasked batch's inputs "
                                  f"{book_inputs}: masking changes targets only. Entries: {entries_text(data)}. "
                                  f"See {SECTION}.")
    for row, entry in enumerate(data):
        start = prompt_length(entry) - 1 + HEADER_TOKENS
        got, expected = targets[row][start:], book_targets[row][start:]
        expect(got == expected, f"{pipeline}: row {row}'s targets from position {start} (the output's tokens) are "
                                f"{got}; expected {expected}, as without masking. Entries: {entries_text(data)}. "
                                f"See {SECTION}.")
