"""Shared fixtures for the project's own tests: tiny GPT configs and the book's toy inputs."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# Graders and kernels the tests start run side by side on small machines: one thread each
# avoids oversubscription (torch's threads spinning against each other).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# CI and default runs are derandomized so a red run can be reproduced; HYPOTHESIS_PROFILE=dev explores.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The ch03 toy input: "Your journey starts with one step", 6 tokens x 3 dims.
TOY_INPUTS = [
    [0.43, 0.15, 0.89],
    [0.55, 0.87, 0.66],
    [0.57, 0.85, 0.64],
    [0.22, 0.58, 0.33],
    [0.77, 0.25, 0.10],
    [0.05, 0.80, 0.55],
]

TINY_CFG = {
    "vocab_size": 100,
    "context_length": 16,
    "emb_dim": 32,
    "n_heads": 4,
    "n_layers": 2,
    "drop_rate": 0.0,
    "qkv_bias": False,
}


@pytest.fixture
def toy_inputs() -> torch.Tensor:
    return torch.tensor(TOY_INPUTS)


@pytest.fixture
def tiny_cfg() -> dict:
    return dict(TINY_CFG)


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    """Each test starts from the same global seed, so test order never changes results."""
    torch.manual_seed(0)
    yield
