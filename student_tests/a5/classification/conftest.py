"""Fixtures of the a5 classification checks: the notebook's global `model`, inspected once per session."""

import pytest

from student_tests.a5.classification.common import PROBES
from student_tests.a5.notebook_model import inspect_notebook_model


@pytest.fixture(scope="session")
def notebook_model(nb) -> dict | None:
    """What the a5_classification.global_model probe says of the notebook's global `model` (None: no such global);
    a small stand-in built by the notebook's own code when its pretrained model could not load offline."""
    return inspect_notebook_model(nb, f"{PROBES}.global_model", section="6.5")
