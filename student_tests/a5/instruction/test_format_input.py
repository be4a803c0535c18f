"""format_input(entry) (section 7.2): the Alpaca-style prompt of an instruction entry.

Checks the book's signature, the book's entry 50 (with an input), an entry with an empty input
(no "### Input:" section), and the exact template on drawn entries with and without an input.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given

from grader.checks import expect
from reference.ch07 import RESPONSE_HEADER, format_input
from student_tests.a5.instruction.common import (
    BOOK_ENTRY_50,
    DATA,
    EMPTY_INPUT_INDEX,
    ENTRY_50,
    entries,
    shown,
    text_difference,
)

NAME, SECTION = "format_input", "7.2"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)


def _formatted(nb, entry):
    component = nb.require(NAME)
    prompt = nb.call(NAME, entry=entry)
    expect(isinstance(prompt, str), f"{component.display}(entry) returned {shown(prompt)}; expected the prompt as a "
                                    f"str (section {SECTION}).")
    return component, prompt


def _hint(prompt: str, entry: dict) -> str:
    """Names a known mistake when the prompt shows one."""
    if not entry["input"] and "### Input:" in prompt:
        return (" The \"### Input:\" section must be left out when entry['input'] is empty "
                "(`if entry[\"input\"]`).")
    if "### Response:" in prompt:
        return (" format_input stops before the response: InstructionDataset adds \"\\n\\n### Response:\\n\" "
                "and the output.")
    return ""


def _expect_prompt(component, prompt, entry, what):
    expected = format_input(entry)
    expect(prompt == expected,
           f"{component.display} of {what} gave {shown(prompt, 400)}; expected {shown(expected, 400)}"
           f": {text_difference(prompt, expected)}.{_hint(prompt, entry)} See section {SECTION}.")


def test_exists_with_the_book_signature(nb):
    """format_input(entry) exists and its prompt shows the entry's instruction and input."""
    component = nb.require(NAME)
    expect(component.kind == "function" and "entry" in component.params,
           f"{component.display} should be the function `format_input(entry)`; found a {component.kind} taking "
           f"({', '.join(component.params)}). The checks pass the entry as `entry=`. See section {SECTION}.")
    _, prompt = _formatted(nb, ENTRY_50)
    expect(ENTRY_50["instruction"] in prompt and ENTRY_50["input"] in prompt,
           f"{component.display}(data[50]) gave {shown(prompt, 400)}; the prompt should show the entry's instruction "
           f"{ENTRY_50['instruction']!r} and input {ENTRY_50['input']!r}. See section {SECTION}.")


def test_formats_entry_50_like_the_book(nb):
    """Entry 50 of instruction-data.json gives the book's prompt, with its "### Input:" section."""
    component, prompt = _formatted(nb, ENTRY_50)
    expected = BOOK_ENTRY_50.split(RESPONSE_HEADER)[0]
    expect(prompt == expected, f"{component.display}(data[50]) gave {shown(prompt, 400)}; the book prints "
                               f"{shown(expected, 400)}: {text_difference(prompt, expected)}.{_hint(prompt, ENTRY_50)} "
                               f"See section {SECTION}.")


def test_leaves_out_the_input_section_when_input_is_empty(nb):
    """An entry whose input is empty gets no "### Input:" section."""
    entry = DATA[EMPTY_INPUT_INDEX]
    component, prompt = _formatted(nb, entry)
    _expect_prompt(component, prompt, entry, f"data[{EMPTY_INPUT_INDEX}] (input \"\")")


@given(entry=entries())
def test_matches_the_alpaca_template(nb, entry):
    """On drawn entries, with and without an input, the prompt is exactly the book's Alpaca template."""
    component, prompt = _formatted(nb, entry)
    _expect_prompt(component, prompt, entry, f"the entry {shown(entry, 300)}")
