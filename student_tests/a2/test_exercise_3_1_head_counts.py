"""Exercise 3.1: multi-head attention with 1, 2, 4 and 8 heads, compared.

Attempted when the notebook mentions "Exercise 3.1" or builds models for the head counts
1, 2, 4, 8 (skipped otherwise: an exercise is never failed for not being attempted). The
check then runs the notebook's MultiHeadAttention with each of these head counts on the
reference's weights.

Run: pytest student_tests/a2 --submission assignments/a2/<you>/
"""

import re
from pathlib import Path

import pytest
import torch

from grader.load import discover, load_notebook
from reference.ch03 import MultiHeadAttention
from student_tests.a2.support import check_matches_reference

pytestmark = pytest.mark.check(component="MultiHeadAttention", section="3.6.2 (exercise 3.1)")
EVIDENCE = re.compile(r"exercise\s*3\.1\b|\b1\s*,\s*2\s*,\s*4\s*,\s*8\b", re.IGNORECASE)


def _attempted(config) -> bool:
    [submission, *_] = discover([Path(config.getoption("--submission"))])
    notebook = load_notebook(submission.notebook).notebook
    return any(EVIDENCE.search(cell.source) for cell in notebook.cells)


def test_head_counts_1_2_4_8_match_the_reference(nb, request):
    """MultiHeadAttention with 1, 2, 4 and 8 heads (d_out = 16) gives the reference's outputs on its weights."""
    if not _attempted(request.config):
        pytest.skip("exercise 3.1 not attempted: no cell mentions 'Exercise 3.1' or the head counts 1, 2, 4, 8")
    for num_heads in (1, 2, 4, 8):
        torch.manual_seed(num_heads)
        init = {"d_in": 6, "d_out": 16, "context_length": 8, "dropout": 0.0, "num_heads": num_heads}
        check_matches_reference(nb, "MultiHeadAttention", init=init, reference=MultiHeadAttention(**init),
                                x=torch.rand(2, 7, 6), what=f" with num_heads={num_heads}, {init}, on 2 x 7 tokens",
                                section="3.6.2")
