"""Exercise 7.2, masking the instruction (skipped when the notebook has no masked variant).

The assignment asks for "proper masking (don't compute loss on instructions)". The grader looks
for a masked dataset (`InstructionDatasetMasked`, or a class whose name mentions "mask") and/or a
masked collate function (`custom_collate_fn_masked`, or a function whose name mentions "mask" and
"collate"), map yours with GRADER_NAMES if it is named otherwise. It builds
dataset(data, tokenizer) with GPT-2's tokenizer (InstructionDataset when you have no masked
dataset) and calls collate([dataset[i], ...]) (custom_collate_fn when you have no masked one).

Targets at positions 0 .. P-2, where P is the number of prompt tokens (format_input), predict
prompt tokens and must be -100. The target at P-1 and those of the response header may be either;
the targets of the output, the first <|endoftext|> and the padding must stay as in 7.3. The prompt
is the book's format_input, or the notebook's own when it differs (its bugs are format_input's).

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given, settings

from grader.checks import expect
from grader.notebook import GPT2_TOKENIZER
from reference.ch07 import custom_collate_fn, format_input, format_response
from student_tests.a5.instruction.common import (
    GPT2,
    HEADER_TOKENS,
    entries_text,
    entry_lists,
)

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


def _variants(data, result) -> list[tuple[list[list[int]], list[int]]]:
    """(token ids, prompt lengths) of the entries for each prompt accepted: the book's format_input, and the
    notebook's own when it differs (a format_input bug is reported once, by format_input's own checks)."""
    accepted = [[format_input(e) for e in data]]
    own = result.get("prompts") or []
    if len(own) == len(data) and all(isinstance(p, str) for p in own) and own != accepted[0]:
        accepted.append(own)
    return [([GPT2.encode(p + format_response(e)) for p, e in zip(prompts, data)],
             [len(GPT2.encode(p)) for p in prompts]) for prompts in accepted]


def _prompt_problem(targets, lengths) -> str | None:
    """What is wrong with the prompt's targets of the first row that is wrong, or None."""
    for row, length in enumerate(lengths):
        stop = length - 1
        got = targets[row][:stop] if row < len(targets) else []
        if got != [-100] * stop:
            return (f"left {sum(t != -100 for t in got)} of the first {stop} targets of row {row} unmasked (they "
                    f"predict the prompt's tokens; the prompt has {length} tokens): {got[:40]}. Set them to -100 "
                    f"so the loss covers the response only")
        if all(t == -100 for t in targets[row]):
            return f"masked every target of row {row}: the response's targets must still count"
    return None


def _response_problem(inputs, targets, ids, lengths) -> str | None:
    """How the inputs or the targets after the response header differ from section 7.3's batch, or None."""
    book_inputs, book_targets = (t.tolist() for t in custom_collate_fn(ids))
    if inputs != book_inputs:
        return f"gave inputs {inputs}; expected the unmasked batch's inputs {book_inputs}: masking changes targets only"
    for row, length in enumerate(lengths):
        start = length - 1 + HEADER_TOKENS
        got, expected = targets[row][start:], book_targets[row][start:]
        if got != expected:
            return (f"gave row {row} the targets {got} from position {start} (the output's tokens); expected "
                    f"{expected}, as without masking")
    return None


@settings(max_examples=8)
@given(data=entry_lists(with_input=True))
def test_masks_the_prompt_targets(nb, data):
    """Targets that predict prompt tokens (instruction and input) are -100; the response's still count."""
    result, pipeline = _masked(nb, data)
    targets = result["targets"].tolist()
    problems = [_prompt_problem(targets, lengths) for _, lengths in _variants(data, result)]
    expect(None in problems, f"{pipeline} {problems[0]}. Entries: {entries_text(data)}. See {SECTION}.")


@settings(max_examples=8)
@given(data=entry_lists(with_input=True))
def test_keeps_the_response_targets(nb, data):
    """Inputs and the targets of the output, the first <|endoftext|> and the padding are those of section 7.3."""
    result, pipeline = _masked(nb, data)
    inputs, targets = result["inputs"].tolist(), result["targets"].tolist()
    problems = [_response_problem(inputs, targets, ids, lengths) for ids, lengths in _variants(data, result)]
    expect(None in problems, f"{pipeline} {problems[0]}. Entries: {entries_text(data)}. See {SECTION}.")
