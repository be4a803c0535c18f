"""Fixtures of the a5 classification checks: the notebook's global `model`, inspected once per session."""

import pytest

from student_tests.a5.classification.common import PROBES


@pytest.fixture(scope="session")
def notebook_model(nb) -> dict | None:
    """What the a5_classification.global_model probe says of the notebook's global `model` (None: no such global)."""
    if nb.find("model") is None:
        return None
    return nb.run(f"{PROBES}.global_model", {}, what="inspecting the notebook's global `model`")
