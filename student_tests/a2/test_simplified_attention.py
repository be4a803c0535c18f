"""Simplified self-attention without trainable weights (section 3.3), computed in the notebook.

There is no class to call: the check reads the book's global `all_context_vecs` (map
another name with GRADER_NAMES = {"all_context_vecs": "<yours>"}) and compares it with
softmax(inputs @ inputs.T, dim=-1) @ inputs, for the book's toy input or the notebook's
`inputs`. Skipped when the notebook has no such tensor.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import pytest

from grader.checks import expect
from grader.compare import compare_tensors
from reference.ch03 import simple_self_attention
from student_tests.a2.support import BOOK_ATOL, TOY_INPUTS, rows

pytestmark = pytest.mark.check(component="simplified self-attention", section="3.3.2")


def test_context_vectors_match_the_book(nb):
    """The notebook's all_context_vecs are softmax(inputs @ inputs.T) @ inputs (the book's rows for the toy input)."""
    found = nb.run("attention.global_tensors", {"names": ["all_context_vecs", "inputs"]},
                   what="reading `all_context_vecs`")["tensors"]
    context = found["all_context_vecs"]
    if context is None:
        pytest.skip("no tensor `all_context_vecs` in the notebook (section 3.3.2's name); map yours with GRADER_NAMES")
    sources = [TOY_INPUTS] + [x for x in [found["inputs"]] if x is not None and x.dim() == 2]
    expected = [simple_self_attention(x.float()) for x in sources if x.shape == context.shape]
    if not expected:
        pytest.skip(f"`all_context_vecs` has shape {tuple(context.shape)}, which fits neither the toy input nor "
                    "`inputs`, so the grader cannot tell what it was computed from")
    expect(any(compare_tensors(context, e, atol=BOOK_ATOL, rtol=0).ok for e in expected),
           f"`all_context_vecs` is [{rows(context)}]; softmax(inputs @ inputs.T, dim=-1) @ inputs gives "
           f"[{rows(expected[0])}]: normalise each row of the scores with softmax (dim=-1), then weight the inputs "
           "(section 3.3.2)")
