"""No check requires a name outside the submission contract (grader/contract.toml, from DESIGN.md).

`nb.require(name)` fails a submission that lacks `name`, so its literal names must be contract
names; other names go through `nb.optional` (informational when absent). At run time the same rule
holds for every lookup: `Notebook.require` of another name, and a kernel probe that finds another
name missing, skip the check as informational instead of failing it.
"""

import ast
from pathlib import Path

import pytest

from grader.contract import contract, is_contract_name

ROOT = Path(__file__).resolve().parent.parent
CHECKS = sorted((ROOT / "student_tests").rglob("*.py"))


def _constants(tree: ast.Module) -> dict[str, str]:
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for t in node.targets if isinstance(t, ast.Name)}


def _literal_calls(path: Path, owner: str, methods: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, name) of owner.method("Name") / owner.method(CONSTANT) calls in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _constants(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == owner and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.append((node.lineno, constants[arg.id]))
    return found


@pytest.mark.parametrize("path", CHECKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_require_only_contract_names(path):
    outside = [(line, name) for line, name in _literal_calls(path, "nb", ("require",)) if not is_contract_name(name)]
    assert not outside, f"{path.name} requires names the contract does not give (use nb.optional): {outside}"


def test_the_contract_holds_the_design_documents_names():
    names = contract()
    assert {"MultiHeadAttention", "GPTModel", "custom_collate_fn", "replace_linear_with_lora"} <= names["components"]
    assert "GroupedQueryAttention" in names["exercises"] and names["globals"] == {"model", "optimizer"}
    assert "vocab" not in names["components"] and "evaluate_model" not in names["components"]
