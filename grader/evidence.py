"""Evidence beyond the checks: code-quality signals, README answers, plots and training output.

Each signal is a value in [0, 1] with the evidence a person can verify; rubric items of
kind "signal" and "readme" turn them into points (see grader/rubric.py).
"""

import ast
import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

# pyflakes, syntax errors, bugbear and bare `except:` (which also catches the grader's interrupt): real problems,
# not taste (`plt.plot(x); plt.show()`, `if x: y` and a variable named `l` are style)
LINT_RULES = "F,E9,B,E722"
# notebook habits: imports kept for later cells, redefinitions, expressions shown
LINT_IGNORE = "F401,F811,E402,E731,B018,B905"
GIANT_CELL_LINES = 80
GIANT_FUNCTION_LINES = 60
LOSS_LINE = re.compile(r"loss[^\n]{0,40}?\d+\.\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: `value` in [0, 1] and what was found."""

    id: str
    value: float
    evidence: str


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _python_source(source: str) -> str:
    """Cell source with IPython magics and shell escapes commented out, so `ast` can read it."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def parsed_cell(source: str) -> ast.Module | None:
    try:
        return ast.parse(_python_source(source))
    except SyntaxError:
        return None


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def definitions(source: str, *, imports_may_fail: bool = False) -> str:
    """The cell's top-level imports, and its functions and classes (decorators included) each under a guard
    that defines it only where its name is not defined yet, in order, as source. With `imports_may_fail`, an
    import that raises ImportError is passed over and the definitions after it still run."""
    text = _python_source(source)
    tree = parsed_cell(source)
    if tree is None:
        return ""
    lines = text.splitlines(keepends=True)
    parts = []
    for node in tree.body:
        if isinstance(node, DEFINITIONS):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            segment = "".join(lines[first - 1:node.end_lineno])
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                segment = f"if {node.name!r} not in globals():\n" + textwrap.indent(segment, "    ")
            elif imports_may_fail:
                body = textwrap.indent(segment.rstrip("\n") + "\n", "    ")
                segment = f"try:\n{body}except ImportError:\n    pass\n"
            parts.append(segment if segment.endswith("\n") else segment + "\n")
    return "".join(parts)


def bound_names(source: str) -> set[str]:
    """The names a cell binds anywhere outside its functions and classes (assignments, loops, imports, defs)."""
    tree, found = parsed_cell(source), set()
    todo = list(tree.body) if tree else []
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        todo.extend(ast.iter_child_nodes(node))
    return found


def runs_clean(execution) -> Signal:
    """The share of code cells that ran without an error in a fresh kernel (timeouts are not errors)."""
    if execution is None or not execution.cells:
        return Signal("runs_clean", 0.0, "the notebook was not run")
    broken = [c for c in execution.cells if c.status in ("error", "kernel_died")]
    value = 1 - len(broken) / len(execution.cells)
    if not broken:
        return Signal("runs_clean", 1.0, f"all {len(execution.cells)} code cells ran without errors")
    names = ", ".join(f"cell {c.index + 1} ({c.error_name or c.status})" for c in broken[:6])
    return Signal("runs_clean", value, f"{len(broken)} of {len(execution.cells)} code cells failed: {names}")


def execution_order(notebook) -> Signal:
    """Saved execution counts rise from top to bottom and every code cell ran (no stale or skipped cells)."""
    counted = [(i, c.get("execution_count")) for i, c in enumerate(notebook.cells)
               if c.cell_type == "code" and c.source.strip()]
    if not counted:
        return Signal("execution_order", 0.0, "no code cells")
    never = [i + 1 for i, n in counted if n is None]
    ran = [(i, n) for i, n in counted if n is not None]
    backwards = [i2 + 1 for (_, n1), (i2, n2) in zip(ran, ran[1:]) if n2 <= n1]
    problems = []
    if never:
        problems.append(f"cell(s) {', '.join(map(str, never[:8]))} were never run")
    if backwards:
        problems.append(f"cell(s) {', '.join(map(str, backwards[:8]))} ran before the cell above them")
    if not problems:
        return Signal("execution_order", 1.0, "saved with every cell run once, top to bottom")
    value = max(0.0, 1 - (len(never) + len(backwards)) / len(counted) * 2)
    return Signal("execution_order", value, "; ".join(problems) + " (restart the kernel and run all before saving)")


def lint(notebook_path: Path) -> Signal:
    """ruff's findings on the notebook's code (rules: real problems, not style)."""
    if importlib.util.find_spec("ruff") is None:
        return Signal("lint", 1.0, "ruff is not installed; lint not run")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--output-format", "json",
                             "--select", LINT_RULES, "--ignore", LINT_IGNORE, str(notebook_path)],
                            capture_output=True, text=True, timeout=60)
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return Signal("lint", 1.0, f"ruff gave no readable result: {result.stderr.strip()[:200]}")
    if not findings:
        return Signal("lint", 1.0, "ruff found nothing")
    shown = "; ".join(f"cell {f.get('cell', '?')} line {f['location']['row']}: {f['code']} {f['message']}"
                      for f in findings[:5])
    return Signal("lint", max(0.0, 1 - 0.1 * len(findings)), f"ruff found {len(findings)} problem(s): {shown}")


def _functions(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def docstrings(notebook, components: list[str], names: dict[str, str]) -> Signal:
    """Required classes and functions (by the book's name or the student's mapped name) have docstrings."""
    wanted = {names.get(c, c): c for c in components}
    found = {}
    for cell in code_cells(notebook):
        tree = parsed_cell(cell.source)
        for node in _functions(tree) if tree else []:
            if node.name in wanted:
                found[wanted[node.name]] = ast.get_docstring(node) is not None
    if not found:
        return Signal("docstrings", 0.0, "none of the required components is defined in the notebook")
    missing = sorted(name for name, has in found.items() if not has)
    value = 1 - len(missing) / len(found)
    detail = f"missing on {', '.join(missing)}" if missing else "all present"
    return Signal("docstrings", value,
                  f"docstrings on {len(found) - len(missing)} of {len(found)} components ({detail})")


def cell_size(notebook) -> Signal:
    """No giant cells or functions: each is easier to read, test and rerun in pieces."""
    giants = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        lines = len([line for line in cell.source.splitlines() if line.strip()])
        if lines > GIANT_CELL_LINES:
            giants.append(f"cell {index + 1} ({lines} lines)")
        tree = parsed_cell(cell.source)
        for node in _functions(tree) if tree else []:
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if not isinstance(node, ast.ClassDef) and length > GIANT_FUNCTION_LINES:
                giants.append(f"`{node.name}` in cell {index + 1} ({length} lines)")
    if not giants:
        return Signal("cell_size", 1.0,
                      f"no cell over {GIANT_CELL_LINES} lines, no function over {GIANT_FUNCTION_LINES}")
    return Signal("cell_size", max(0.0, 1 - 0.25 * len(giants)), "too long: " + ", ".join(giants[:6]))


def grader_names(notebook) -> dict[str, str]:
    """The notebook's literal GRADER_NAMES mapping, read without running anything."""
    names = {}
    for cell in code_cells(notebook):
        tree = parsed_cell(cell.source)
        for node in ast.walk(tree) if tree else []:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "GRADER_NAMES" for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    names.update({str(k): str(v) for k, v in value.items()})
    return names


def _outputs(notebook):
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            yield index, output


def plots(notebook, minimum: int = 1) -> Signal:
    """Figures among the notebook's saved outputs (inline PNG or SVG images)."""
    cells = sorted({i + 1 for i, out in _outputs(notebook)
                    if "image/png" in out.get("data", {}) or "image/svg+xml" in out.get("data", {})})
    if not cells:
        return Signal("plots", 0.0, "no plots in the saved outputs (run the plotting cells before saving)")
    return Signal("plots", min(1.0, len(cells) / minimum), f"plots in cell(s) {', '.join(map(str, cells[:10]))}")


def _text_outputs(notebook) -> list[tuple[int, str]]:
    found = []
    for index, out in _outputs(notebook):
        text = out.get("text") or out.get("data", {}).get("text/plain", "")
        found.append((index, "".join(text) if isinstance(text, list) else str(text)))
    return found


def training_evidence(notebook) -> Signal:
    """Saved outputs show training ran: loss values printed (or a plot) and generated text."""
    losses = [i + 1 for i, text in _text_outputs(notebook) if LOSS_LINE.search(text)]
    figure = plots(notebook)
    if not losses and figure.value == 0:
        return Signal("training_evidence", 0.0, "no printed loss values or plots in the saved outputs")
    where = (f"loss values in cell(s) {', '.join(map(str, sorted(set(losses))[:8]))}" if losses
             else "a plot, no printed losses")
    return Signal("training_evidence", 1.0 if losses else 0.5, where)


def readme_answers(readme: str | None, terms: tuple[str, ...], min_terms: int) -> Signal:
    """How many of a question's key terms the README uses (each term may list spellings as `a|b`)."""
    if not readme:
        return Signal("readme", 0.0, "no README.md in the submission")
    text = readme.lower()
    found = [t for t in terms if any(alt.lower() in text for alt in t.split("|"))]
    missing = [t.split("|")[0] for t in terms if t not in found]
    value = min(1.0, len(found) / max(min_terms, 1))
    return Signal("readme", value, f"mentions {', '.join(t.split('|')[0] for t in found) or 'none of the key terms'}"
                  + (f"; not found: {', '.join(missing)}" if missing and value < 1 else ""))
