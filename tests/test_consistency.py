"""The check suites, rubrics and kernel-side probes agree: a renamed check or probe fails this suite,
not a student. Every rubric pattern names at least one collected check; every check feeds exactly one
points item of kind `checks` (exercise items may name the same checks again); every probe a check or
the grader calls by name exists in grader/probes_kernel/ or among kernel_side's built-in probes."""

import ast
import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

from grader.collect import check_id
from grader.grade import suite_dir
from grader.rubric import load_rubric, rubric_dir

REPO = Path(__file__).resolve().parent.parent
PROBES = REPO / "grader" / "probes_kernel"
SHARED = {"code_quality", "documentation"}


def suites() -> list[tuple[str, str | None]]:
    """(assignment, option) of every rubric file: a5_lora.toml is ("a5", "lora")."""
    found = []
    for path in sorted(rubric_dir().glob("*.toml")):
        if path.stem not in SHARED:
            assignment, _, option = path.stem.partition("_")
            found.append((assignment, option or None))
    return found


@pytest.fixture(scope="module")
def collected() -> dict[tuple[str, str | None], list[str]]:
    """Check ids per suite, as pytest collects them (parametrized cases included)."""
    out = subprocess.run([sys.executable, "-m", "pytest", "student_tests", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert ids, out.stdout + out.stderr
    found = {}
    for assignment, option in suites():
        folder = suite_dir(assignment, option).relative_to(REPO).as_posix() + "/"
        found[assignment, option] = [check_id(i) for i in ids if i.startswith(folder) and "/" not in
                                     i[len(folder):].split("::")[0]]
    return found


def _items(rubric):
    for category in rubric.categories:
        for item in category.items:
            yield category, item


def test_every_suite_has_a_rubric_and_checks(collected):
    assert len(collected) == 7
    for suite, ids in collected.items():
        assert ids, f"no checks collected for {suite}"


@pytest.mark.parametrize("suite", suites(), ids=lambda s: "_".join(filter(None, s)))
def test_every_rubric_pattern_names_a_check(suite, collected):
    ids = collected[suite]
    for category, item in _items(load_rubric(*suite)):
        patterns = list(item.checks) + [p for e in item.exercises for p in e.checks]
        for pattern in patterns:
            assert any(fnmatch.fnmatchcase(i, pattern) for i in ids), \
                f"{suite}: {category.name} / {item.id}: {pattern!r} matches no check"


@pytest.mark.parametrize("suite", suites(), ids=lambda s: "_".join(filter(None, s)))
def test_every_check_feeds_one_points_item_and_every_item_gets_checks(suite, collected):
    """As grader.score takes them: the first `checks` item (in file order) whose patterns match a check
    owns it; exercise items and the rubric's `informational` patterns may name checks besides."""
    rubric = load_rubric(*suite)
    items = [(f"{c.name} / {i.id}", i.checks) for c, i in _items(rubric) if i.kind == "checks"]
    besides = [p for _, i in _items(rubric) for e in i.exercises for p in e.checks] + list(rubric.informational)
    owned = {name: [] for name, _ in items}
    for check in collected[suite]:
        owner = next((name for name, patterns in items if any(fnmatch.fnmatchcase(check, p) for p in patterns)), None)
        if owner is None:
            assert any(fnmatch.fnmatchcase(check, p) for p in besides), f"{suite}: {check} feeds no rubric item"
        else:
            owned[owner].append(check)
    assert not [name for name, checks in owned.items() if not checks], f"{suite}: items that own no check"


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _defined_probes() -> set[str]:
    names = set()
    for path in PROBES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {f"{path.stem}.{n.name.removeprefix('probe_')}" for n in tree.body
                  if isinstance(n, ast.FunctionDef) and n.name.startswith("probe_")}
    kernel_side = ast.parse((REPO / "grader" / "kernel_side.py").read_text(encoding="utf-8"))
    for node in ast.walk(kernel_side):
        for decorator in getattr(node, "decorator_list", ()):
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "probe":
                names.add(decorator.args[0].value)
    return names


def test_every_probe_called_by_name_exists():
    defined = _defined_probes()
    groups = {p.stem for p in PROBES.glob("*.py")}
    sources = [*REPO.glob("student_tests/**/*.py"), *REPO.glob("grader/*.py")]
    called = {s for path in sources for s in _string_constants(path) if s.partition(".")[0] in groups
              and s.count(".") == 1 and not s.endswith(".py") and s.replace(".", "").replace("_", "").isalnum()}
    assert len(called) > 30, sorted(called)  # the scan finds the suites' probes
    assert not called - defined, f"probes called but not defined: {sorted(called - defined)}"
