"""Response extraction (section 7.7), when the notebook has a function for it (skipped otherwise).

The book cuts the prompt off the generated text and drops the "### Response:" header:
`generated_text[len(input_text):].replace("### Response:", "").strip()`. The grader looks for
`extract_response` (or GRADER_NAMES["extract_response"], or a function whose name mentions
"response" and extract/parse/clean/strip/split/get/only) and calls it with
(generated_text, input_text), or with generated_text alone when it takes one argument.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch07 import RESPONSE_HEADER, format_input
from student_tests.a5.instruction.common import entries, shown, texts

NAME, SECTION = "extract_response", "7.7"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)
NOT_FOUND = ("not attempted: no response extraction function in the notebook (`extract_response(generated_text, "
             "input_text)`, or map yours with GRADER_NAMES)")


@given(entry=entries(), response=texts(), trailing=st.sampled_from(["", "\n", " ", "\n\n"]))
def test_returns_the_text_after_the_response_header(nb, entry, response, trailing):
    """Given prompt + "### Response:" + text, it returns the text without the prompt and the header."""
    prompt = format_input(entry)
    generated = prompt + RESPONSE_HEADER + response + trailing
    result = nb.run("a5_instruction.extract", {"cases": [[generated, prompt]]},
                    what="calling your response extraction function")
    if not result["found"]:
        pytest.skip(NOT_FOUND)
    got = result["results"][0]
    call = f"`{result['name']}`(generated_text" + (", input_text)" if result["arity"] > 1 else ")")
    expect(isinstance(got, str) and got.strip() == response,
           f"{call} gave {shown(got)} for generated_text = format_input(entry) + \"\\n\\n### Response:\\n\" + "
           f"{shown(response + trailing)}; expected {shown(response)} (entry {shown(entry, 200)}). "
           f"See section {SECTION}.")
