"""The names a submission is held to (grader/contract.toml, from shared/DESIGN.md)."""

import tomllib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def contract() -> dict[str, frozenset[str]]:
    """{"components": ..., "exercises": ..., "globals": ...} as sets of book names."""
    data = tomllib.loads(Path(__file__).with_name("contract.toml").read_text(encoding="utf-8"))
    return {key: frozenset(names) for key, names in data.items()}


def required_names() -> frozenset[str]:
    """Names a check may fail a submission for lacking: the components and the inspectable globals."""
    return contract()["components"] | contract()["globals"]


def is_contract_name(name: str) -> bool:
    return name in required_names() or name in contract()["exercises"]
