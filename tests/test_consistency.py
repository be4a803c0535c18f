"""The assignments' folders agree with themselves and the grader knows none of them by name: a renamed check
or probe fails this suite, not a student. For every assignment the grader discovers (grader.assignments):
its manifest is complete, every rubric pattern names at least one collected check, every check feeds exactly
one points item of kind `checks` (exercise items may name the same checks again) or is informational, every
item owns a check, and every probe a check or the grader calls by name exists. grader/ holds no string that
names an assignment, its notebook, its probes or one of its checks."""

import ast
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignments import Assignment, all_assignments
from grader.collect import check_id
from grader.rubric import load_rubric

REPO = Path(__file__).resolve().parent.parent
GRADER = REPO / "grader"
BUILT_IN = GRADER / "probes_kernel"
TEXT_SUFFIXES = {".py", ".toml", ".j2", ".md", ".json", ".css", ".js", ".html"}


def collect(folders: list[Path], rootdir: Path) -> dict[Path, list[str]]:
    """Check ids per assignment folder, as pytest collects them (parametrized cases included)."""
    out = subprocess.run([sys.executable, "-m", "pytest", *map(str, folders), "--collect-only", "-q",
                          "-p", "no:cacheprovider", "--rootdir", str(rootdir)],
                         cwd=rootdir, capture_output=True, text=True, timeout=300)
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert ids, out.stdout + out.stderr
    found = {}
    for folder in folders:
        prefix = folder.relative_to(rootdir).as_posix() + "/"
        found[folder] = [check_id(i) for i in ids if i.startswith(prefix) and "/" not in i[len(prefix):].split("::")[0]]
    return found


def _items(rubric):
    for category in rubric.categories:
        for item in category.items:
            yield category, item


def rubric_problems(entry: Assignment, ids: list[str]) -> list[str]:
    """What is wrong between an assignment's rubric and its collected checks (grader.score's first-match rule)."""
    rubric, problems = load_rubric(entry.assignment, entry.option), []
    if not ids:
        problems.append(f"{entry.name}: no checks collected in {entry.folder}")
    for category, item in _items(rubric):
        for pattern in list(item.checks) + [p for e in item.exercises for p in e.checks]:
            if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
                problems.append(f"{entry.name}: {category.name} / {item.id}: {pattern!r} matches no check")
    items = [(f"{c.name} / {i.id}", i.checks) for c, i in _items(rubric) if i.kind == "checks"]
    besides = [p for _, i in _items(rubric) for e in i.exercises for p in e.checks] + list(rubric.informational)
    owned = {name: [] for name, _ in items}
    for check in ids:
        owner = next((name for name, patterns in items if any(fnmatch.fnmatchcase(check, p) for p in patterns)), None)
        if owner is not None:
            owned[owner].append(check)
        elif not any(fnmatch.fnmatchcase(check, p) for p in besides):
            problems.append(f"{entry.name}: {check} feeds no rubric item")
    problems += [f"{entry.name}: {name} owns no check" for name, checks in owned.items() if not checks]
    return problems


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _probe_functions(path: Path, group: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {f"{group}.{n.name.removeprefix('probe_')}" for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("probe_")}


def defined_probes(entries) -> set[str]:
    """Probes by the name checks call them: kernel_side's built-ins, the shared groups, each assignment's own."""
    files = {p.stem: p for p in BUILT_IN.glob("*.py")} | {e.probes: e.probe_file for e in entries if e.probes}
    names = set().union(*(_probe_functions(path, group) for group, path in files.items()))
    for node in ast.walk(ast.parse((GRADER / "kernel_side.py").read_text(encoding="utf-8"))):
        for decorator in getattr(node, "decorator_list", ()):
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "probe":
                names.add(decorator.args[0].value)
    return names


def probe_problems(entries, sources) -> list[str]:
    """Probe names ("<group>.<name>") in the sources' string constants that no probe file defines."""
    groups = {p.stem for p in BUILT_IN.glob("*.py")} | {e.probes for e in entries if e.probes}
    called = {s for path in sources for s in _string_constants(path) if s.partition(".")[0] in groups
              and s.count(".") == 1 and not s.endswith(".py") and s.replace(".", "").replace("_", "").isalnum()}
    return [f"probe {name!r} is called but not defined" for name in sorted(called - defined_probes(entries))]


@pytest.fixture(scope="module")
def collected() -> dict[Path, list[str]]:
    return collect([entry.folder for entry in all_assignments()], REPO)


def test_the_course_has_its_seven_assignment_folders():
    assert [e.name for e in all_assignments()] == ["a1", "a2", "a3", "a4", "a5-classification", "a5-instruction",
                                                    "a5-lora"]
    for entry in all_assignments():
        assert entry.rubric.is_file() and entry.sections and entry.book, entry


@pytest.mark.parametrize("entry", all_assignments(), ids=lambda e: e.name)
def test_rubric_and_checks_agree(entry, collected):
    assert rubric_problems(entry, collected[entry.folder]) == []


def test_every_probe_called_by_name_exists():
    entries = all_assignments()
    sources = [p for e in entries for p in e.folder.rglob("*.py")] + [*REPO.glob("student_tests/**/*.py"),
                                                                      *GRADER.glob("*.py")]
    groups = {e.probes for e in entries if e.probes}
    assert len([s for p in sources for s in _string_constants(p) if s.partition(".")[0] in groups]) > 30
    assert probe_problems(entries, sources) == []


def names_in_grader(entries, checks) -> list[str]:
    """Lines of grader/'s text files that name an assignment (id, report name, notebook, probe group) or a check."""
    words = {w for e in entries for w in (e.assignment, e.name, e.name.replace("-", "_"), e.notebook, e.probes) if w}
    words |= {c.split("::")[-1].split("[")[0] for c in checks}
    alternatives = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w.-])({alternatives})(?![\w-])")
    hits = []
    for path in sorted(GRADER.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return hits


def test_the_grader_names_no_assignment_and_no_check(collected):
    checks = [c for ids in collected.values() for c in ids]
    assert names_in_grader(all_assignments(), checks) == []


def test_the_name_scan_finds_a_planted_name(tmp_path, monkeypatch, collected):
    """names_in_grader would see an assignment's id or a check's name in grader/ (here, a planted file)."""
    planted = GRADER / "_planted_for_a_test.py"
    check = next(iter(collected.values()))[0].split("::")[-1].split("[")[0]
    planted.write_text(f'SUITE = "student_tests/a3"\nCHECK = "{check}"\n', encoding="utf-8")
    try:
        hits = names_in_grader(all_assignments(), [check])
    finally:
        planted.unlink()
    assert len(hits) == 2 and all("_planted_for_a_test.py" in h for h in hits)
