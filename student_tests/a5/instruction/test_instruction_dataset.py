"""InstructionDataset(data, tokenizer) (section 7.3): each entry pre-tokenized as prompt, response header, output.

Item i must be tokenizer.encode(format_input(data[i]) + "\\n\\n### Response:\\n" + data[i]["output"]).
The checks give it GPT-2's tokenizer; they accept the prompt of the book's format_input or of
yours, so a format_input bug is reported once, by format_input's own checks.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given, settings

from grader.checks import expect
from grader.notebook import GPT2_TOKENIZER
from reference.ch07 import RESPONSE_HEADER, format_input
from student_tests.a5.instruction.common import (
    BOOK_ENTRY_50,
    DATA,
    ENTRY_50,
    GPT2,
    decoded,
    entries_text,
    entry_lists,
    expected_ids,
)

NAME, SECTION = "InstructionDataset", "7.3"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)


def _dataset(nb, data):
    component = nb.require(NAME)
    result = nb.run("a5_instruction.dataset", {"data": data, "tokenizer": GPT2_TOKENIZER},
                    what=f"building {component.display}(data, tokenizer) with {len(data)} entries or reading its items")
    return component, result


def _accepted(entry: dict, prompt: str | None) -> list[list[int]]:
    """The book's ids, and the ids from the notebook's own format_input when it differs."""
    accepted = [expected_ids(entry)]
    if prompt is not None:
        accepted.append(GPT2.encode(prompt + RESPONSE_HEADER + entry["output"]))
    return accepted


def _hint(item: list[int], entry: dict, prompt: str | None) -> str:
    """Names the missing response header when the item is the prompt and output without it."""
    prompts = {format_input(entry), prompt} - {None}
    if any(item == GPT2.encode(p + sep + entry["output"]) for p in prompts for sep in ("", " ", "\n", "\n\n")):
        return " The response header \"\\n\\n### Response:\\n\" is missing between the prompt and the output."
    return ""


def _holds(item: list[int], text: str) -> bool:
    """Whether the GPT-2 text of `item` contains `text`."""
    try:
        return text in GPT2.decode(list(item))
    except Exception:  # noqa: BLE001 - ids out of GPT-2's range
        return False


def test_exists_with_the_book_signature(nb):
    """InstructionDataset(data, tokenizer) exists and its item is the token ids of its entry's text."""
    component = nb.require(NAME)
    expect(component.kind == "class" and {"data", "tokenizer"} <= set(component.params),
           f"{component.display} should be the class `InstructionDataset(data, tokenizer)`; found a {component.kind} "
           f"taking ({', '.join(component.params)}). See section {SECTION}.")
    _, result = _dataset(nb, [ENTRY_50])
    item = result["items"][0] if result["items"] else []
    expect(_holds(item, ENTRY_50["instruction"]) and _holds(item, ENTRY_50["output"]),
           f"{component.display}([data[50]], tokenizer)[0] decodes to {decoded(item)}: it should hold the entry's "
           f"instruction and output, tokenized. See section {SECTION}.")


def test_has_one_item_per_entry(nb):
    """len(dataset) is the number of entries it was given, and item i is entry i's."""
    component, result = _dataset(nb, DATA[:7])
    expect(result["length"] == 7, f"len({component.display}(data[:7], tokenizer)) is {result['length']}; expected 7, "
                                  f"one item per entry. See section {SECTION}.")
    for i, (item, entry) in enumerate(zip(result["items"], DATA[:7])):
        expect(_holds(item, entry["instruction"]) and _holds(item, entry["output"]),
               f"{component.display}(data[:7], tokenizer)[{i}] decodes to {decoded(item)}; it should hold the "
               f"instruction and output of data[{i}], in the entries' order. See section {SECTION}.")


def test_encodes_entry_50_like_the_book(nb):
    """The item for entry 50 is the book's prompt + "### Response:" + output text, tokenized."""
    component, result = _dataset(nb, [ENTRY_50])
    item = result["items"][0] if result["items"] else []
    expected, prompt = GPT2.encode(BOOK_ENTRY_50), (result["prompts"] or [None])[0]
    expect(item in [expected, *_accepted(ENTRY_50, prompt)[1:]],
           f"{component.display}([data[50]], tokenizer)[0] decodes to {decoded(item)}; expected "
           f"{decoded(expected)} ({len(expected)} tokens, yours {len(item)}).{_hint(item, ENTRY_50, prompt)} "
           f"See section {SECTION}.")


def test_leaves_the_entries_it_was_given_unchanged(nb):
    """Building the dataset does not change the entries (the caller's data, used again for the test set)."""
    component, result = _dataset(nb, DATA[:3])
    held = [_holds(item, entry["output"]) for item, entry in zip(result["items"], DATA[:3])]
    expect(len(held) == 3 and all(held), f"{component.display}(data[:3], tokenizer) has items that do not hold "
           f"their entries' outputs (decoded: {[decoded(item) for item in result['items'][:1]]}). See section "
           f"{SECTION}.")
    changed = result.get("changed_entries") or []
    expect(not changed, f"{component.display}(data[:3], tokenizer) changed the entries it was given, e.g. entry "
                        f"{changed[0]['index'] if changed else ''} is now {changed[0]['now'] if changed else ''}; "
                        f"the caller's data is used again (the test set, a second dataset), so build new strings "
                        f"(response_text = ... + entry['output']) instead of writing into the entry. See section "
                        f"{SECTION}.")


@settings(max_examples=10)
@given(data=entry_lists())
def test_items_are_the_encoded_prompt_and_response(nb, data):
    """On drawn entries, item i is the tokenized prompt, response header and output of entry i."""
    component, result = _dataset(nb, data)
    prompts = result["prompts"] or [None] * len(data)
    for i, (entry, item, prompt) in enumerate(zip(data, result["items"], prompts)):
        expect(item in _accepted(entry, prompt),
               f"{component.display}(data, tokenizer)[{i}] decodes to {decoded(item)}; expected "
               f"{decoded(expected_ids(entry))}.{_hint(item, entry, prompt)} Entries: {entries_text(data)}. "
               f"See section {SECTION}.")
    expect(len(result["items"]) == len(data), f"{component.display} has {len(result['items'])} items for "
                                              f"{len(data)} entries. See section {SECTION}.")
