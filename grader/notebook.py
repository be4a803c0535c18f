"""What a check sees of a submission: its executed notebook, reached through probes.

Checks never touch the kernel directly. They ask for a component by the book's name
(`nb.require("MultiHeadAttention")`), run it on grader-chosen inputs and weights
(`nb.forward(...)`, `nb.call(...)`, `nb.run(probe, ...)`), and compare with the reference
in the grader's own process. Every failure becomes a `pytest.fail` message a student can act on.

Hostile notebooks meet three guards here. A component whose probe timed out once (a `forward` that
never returns) fails its later checks at once, naming that first hang, instead of waiting again.
What the notebook patched of torch and the grader put back is noted in the report. A graded
component whose code is not the submission's own (imported from an installed package, using the
grader's `reference` or the book's `llms_from_scratch`, or compiled from a string while the notebook
imports them) is held for review with the evidence: the module, the cell that imported it.
"""

import ast
import copy
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn

from grader.bind import Binding, Candidate, Tree, apply_reference_changes, bind
from grader.checks import expect, expect_working, hold_for_review
from grader.collect import check_id
from grader.compare import compare_tensors
from grader.contract import contract, is_contract_name
from grader.errors import ComponentImported, ComponentMissing, GraderError, ProbeFailed, ProbeTimeout
from grader.execute import GRADER_DIR, ExecutionResult, KernelSession
from grader.probe import Probe
from grader.probes_kernel import wire
from grader.results import BindingRecord, Plot

PROBE_TIMEOUT = 30.0
GPT2_TOKENIZER = {wire.GPT2: True}  # a payload value that kernel_side turns into GPT-2's tokenizer
FOREIGN_PACKAGES = {"reference": "the grader's reference implementation", "llms_from_scratch": "the book's package",
                    "grader": "the grader"}  # code the assignment asks students to write (kernel_side's list)
MAX_SCANNED_FILES, MAX_FILE_BYTES = 100, 2**20


def linear_spec(layer: nn.Linear) -> dict:
    """A payload value that kernel_side turns into an nn.Linear with this layer's weights."""
    return {wire.LINEAR: {"weight": layer.weight.detach().clone(),
                        "bias": None if layer.bias is None else layer.bias.detach().clone()}}


@dataclass(frozen=True)
class Component:
    """A book component as the student defined it."""

    book_name: str
    used_name: str
    kind: str
    params: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)
    found: str = "the book's name"  # how: the book's name, GRADER_NAMES, a module of the submission, a search
    module: str = "__main__"  # where it was defined
    in_submission: bool = True  # False: imported from an installed package

    @property
    def display(self) -> str:
        """`MultiHeadAttention`, or `MultiHeadAttention (your MyAttention)` when mapped."""
        mapped = f" (your `{self.used_name}`)" if self.used_name != self.book_name else ""
        return f"`{self.book_name}`{mapped}"


def _encode(value, tensors: dict[str, torch.Tensor]):
    """Payload form of Python values (grader/probes_kernel/wire.py): tensors travel separately as
    {"$tensor": key}, tuples keep their type."""
    return wire.encode(value, tensors, prefix="a", as_tensor=lambda v: v if isinstance(v, torch.Tensor) else None,
                       keep_tuples=True)


def _heads(init: dict) -> int | None:
    """The number of attention heads a constructor's keywords give (for per-head fused projections)."""
    cfg = init.get("cfg") if isinstance(init.get("cfg"), dict) else {}
    value = init.get("num_heads", cfg.get("n_heads"))
    return value if isinstance(value, int) else None


def _pattern(candidate: Candidate) -> tuple:
    """A candidate's pairing with block indices and sizes left out: what one binding has in common with the
    next (another config of the same class)."""
    return tuple(sorted((re.sub(r"\.\d+\.", ".#.", s), re.sub(r"\.\d+\.", ".#.", b), how)
                        for s, b, how in candidate.pairs))


@dataclass(frozen=True)
class ForeignImport:
    """An import, in a cell or a .py file of the submission, of a package whose code students write themselves."""

    module: str  # as imported: reference.ch03
    where: str  # "cell 31" or "helpers.py"
    line: str  # the statement's first line

    def describe(self) -> str:
        return f"{self.where}: `{self.line}`"


@dataclass(frozen=True)
class Provenance:
    """What of FOREIGN_PACKAGES a submission imports (statements) and what its notebook loaded (sys.modules)."""

    imports: tuple[ForeignImport, ...] = ()
    loaded: tuple[str, ...] = ()  # top-level packages in the kernel's sys.modules after the notebook ran

    @property
    def packages(self) -> set[str]:
        return {i.module.split(".")[0] for i in self.imports} | set(self.loaded)

    def sources(self, packages) -> str:
        """Where the submission brings in these packages, for a message: "cell 31: `import reference`"."""
        shown = [i.describe() for i in self.imports if i.module.split(".")[0] in packages][:3]
        hidden = sorted(set(self.loaded) & set(packages) - {i.module.split(".")[0] for i in self.imports})
        shown += [f"`{p}` was loaded while the notebook ran, by no import statement the grader can read "
                  "(a computed __import__ or importlib call?)" for p in hidden]
        return "; ".join(shown)

    def note(self) -> str | None:
        """The report's warning when the submission brings in any of FOREIGN_PACKAGES."""
        if not self.packages:
            return None
        names = ", ".join(f"`{p}` ({FOREIGN_PACKAGES[p]})" for p in sorted(self.packages))
        return (f"the submission imports {names}: {self.sources(self.packages)}. Checks of components whose code "
                "comes from it are held for review")


def foreign_imports(source: str, where: str) -> list[ForeignImport]:
    """Imports of FOREIGN_PACKAGES in Python source (a cell, IPython magics and shell lines ignored): `import`,
    `from ... import`, `importlib.import_module("...")`, `__import__("...")`. A comment or a string that mentions
    a package imports nothing."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
        kinds = (ast.Import, ast.ImportFrom, ast.Call)
        nodes = [(n, lines[n.lineno - 1]) for n in ast.walk(tree) if isinstance(n, kinds)]
    except (SyntaxError, ValueError):  # a cell that does not parse: its import statements, line by line
        nodes = [(n, line) for line in lines for n in _statement(line)]
    found = []
    for node, line in sorted(nodes, key=lambda pair: (pair[0].lineno, pair[0].col_offset)):
        found += [ForeignImport(module, where, line.strip()[:200]) for module in _imported(node)
                  if module.split(".")[0] in FOREIGN_PACKAGES]
    return found


def _statement(line: str) -> list[ast.AST]:
    try:
        return list(ast.parse(line.strip()).body[:1]) if line.strip().startswith(("import ", "from ")) else []
    except SyntaxError:
        return []


def _imported(node: ast.AST) -> list[str]:
    """The modules one node imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.module and not node.level else []
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        return [node.args[0].value] if name in ("import_module", "__import__") else []
    return []


def submission_imports(notebook, folder: Path) -> tuple[ForeignImport, ...]:
    """foreign_imports of the notebook's code cells ("cell N", counting all cells from 1) and of the .py files
    in the submission's folder (the grader's own folder left out), but not of the submission's own modules (a
    student's `reference.py`)."""
    folder = Path(folder)
    found = []
    for index, cell in enumerate(notebook.cells if notebook is not None else ()):
        if cell.cell_type == "code":
            found += foreign_imports(cell.source, f"cell {index + 1}")
    for path in _python_files(folder):
        found += foreign_imports(path.read_text(encoding="utf-8", errors="replace"), str(path.relative_to(folder)))
    own = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    return tuple(i for i in found if i.module.split(".")[0] not in own)


def _python_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != GRADER_DIR)
        files += [Path(root) / n for n in sorted(names) if n.endswith(".py")]
    return [f for f in files[:MAX_SCANNED_FILES] if f.is_file() and f.stat().st_size <= MAX_FILE_BYTES]


@dataclass(frozen=True)
class Hang:
    """A component's first probe timeout: its later checks fail at once with `later` instead of waiting again."""

    components: tuple[str, ...]
    check: str
    message: str

    def note(self) -> str:
        names = ", ".join(f"`{c}`" for c in self.components)
        return (f"{names} hung in {self.check}: {self.message}; the other checks of {names} failed at once "
                "instead of waiting for it again")

    def later(self, what: str, component: str) -> str:
        return (f"{what}: not run, because `{component}` hung in an earlier check ({self.check}): {self.message}. "
                "The grader does not wait for it again")


def _current_check() -> str:
    """The running check's id (from pytest's PYTEST_CURRENT_TEST), for messages."""
    nodeid = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    return check_id(nodeid) if nodeid else "an earlier check"


def _imported_from(module: str) -> tuple[list[str], set[str]]:
    """Evidence and packages (see Notebook._hold_foreign) of a component imported from `module`."""
    return [f"it is imported from `{module}`"], {module.split(".")[0]} & set(FOREIGN_PACKAGES)


def _graded(name) -> bool:
    """A book name whose code is graded: a contract component or exercise (not a global such as `model`)."""
    return name in contract()["components"] or name in contract()["exercises"]


class Notebook:
    """The submission's live kernel, seen through probes; one per test session."""

    def __init__(self, session: KernelSession, execution: ExecutionResult, *, device: str = "cpu", original=None):
        self.session, self.execution, self.device = session, execution, device
        self.original = original  # the notebook as submitted (nbformat), with the student's saved outputs
        self.probe = Probe(session)
        self._components: dict[str, Component | None] = {}
        self._shapes: dict[str, object] = {}
        self._patterns: dict[str, tuple] = {}  # per component, the pairing that last reproduced the reference
        self._closest: Candidate | None = None
        self._bound: dict[str, dict] = {}  # per component, the state dict of the binding forward() last matched
        self.plots: list[Plot] = []  # figures checks add for the HTML report
        self.bindings: dict[str, BindingRecord] = {}  # per component, for the report
        self.notes: list[str] = []  # what the grader did to the notebook's state, for the report's warnings
        self._hung: dict[str, Hang] = {}  # component -> its first probe timeout
        self._restored: set[str] = set()  # what the notebook patched and kernel_side put back, noted once
        self._provenance: Provenance | None = None

    def plot_lines(self, title: str, series: dict[str, Sequence[float]]) -> None:
        """Add a line chart (e.g. the student's smoke-test losses beside the reference's) to the report."""
        self._add_plot(Plot(title, "lines", {k: [float(v) for v in vals] for k, vals in series.items()}))

    def plot_matrix(self, title: str, matrix, labels: Sequence[str] = ()) -> None:
        """Add a heat map (e.g. the student's attention weights) to the report."""
        rows = tuple(tuple(float(v) for v in row) for row in torch.as_tensor(matrix).tolist())
        self._add_plot(Plot(title, "matrix", matrix=rows, labels=tuple(labels)))

    def _add_plot(self, plot: Plot) -> None:
        """The first figure with a title is kept (checks that run many examples plot once)."""
        if all(p.title != plot.title for p in self.plots):
            self.plots.append(plot)

    # ------------------------------------------------------------- finding components

    def find(self, name: str) -> Component | None:
        """The component, or None when the notebook does not define it."""
        if name not in self._components:
            try:
                data = self.run("describe", {"name": name}, what=f"`{name}`", missing_ok=True)
                origin = data.get("origin") or {}
                component = Component(name, data["used_name"], data["kind"], tuple(data["params"]), data["defaults"],
                                      origin.get("found", "the book's name"), origin.get("module", "__main__"),
                                      origin.get("in_submission", True) is not False)
                self._components[name] = component
                self.record_found(name, component.used_name, component.found, component.module)
            except _Missing:
                self._components[name] = None
        return self._components[name]

    def require(self, name: str) -> Component:
        """The component, or a failed check saying it is missing and how to map another name.

        Only the contract's names (grader/contract.toml) can be required: for any other name this is
        `optional` (a grader rule, so that no check fails a submission for a name it was never asked for)."""
        if not is_contract_name(name):
            return self.optional(name)
        component = self.find(name)
        if component is None:
            pytest.fail(ComponentMissing(component=name, mapped=None).message, pytrace=False)
        return self._own(component)

    def _own(self, component: Component) -> Component:
        """The component, or the check held for review when it is imported from an installed package."""
        if not component.in_submission:
            self._hold_foreign(component.book_name, component.used_name, *_imported_from(component.module))
        return component

    def record_found(self, book_name: str, used_name: str, how: str, module: str = "__main__") -> None:
        """Say in the report's bindings how a component without weights was found (e.g. by its behaviour or a
        name pattern), unless a record of it exists already."""
        self.bindings.setdefault(book_name, BindingRecord(book_name, used_name, how, module, "found"))

    def optional(self, name: str, why: str = "the assignment does not require it") -> Component:
        """A component the contract does not name: the check is informational (skipped) when it is absent."""
        component = self.find(name)
        if component is None:
            pytest.skip(f"informational: no `{name}` in the notebook ({why}); map yours with "
                        f"GRADER_NAMES = {{\"{name}\": \"<your name>\"}} to have it checked")
        return self._own(component)

    def exercise(self, name: str) -> Component:
        """The exercise's component, or a skip: an exercise not attempted is never failed."""
        component = self.find(name)
        if component is None:
            pytest.skip(f"exercise not attempted: no `{name}` in the notebook")
        return self._own(component)

    def stand_in_model(self) -> dict:
        """Once per session: when the notebook's pretrained `model` could not be built here (its weights cannot
        be downloaded offline), rebuild it small and replay the statements that adapt it (grader/probes_kernel/
        standin.py); the checks then inspect the student's head, freezing or LoRA code on that model.

        Returns the probe's answer: status "own" (the notebook has its model), "stand-in" (rebuilt),
        "no_creation" (the notebook never builds one), "not_failed", or "failed" with `why`."""
        if "standin" not in self._shapes:
            cells = [[c.index, self.original.cells[c.index].source, c.status] for c in self.execution.cells] \
                if self.original is not None and self.execution is not None else []
            data = self.run("standin.model", {"cells": cells}, what="rebuilding the notebook's model", timeout=120)
            self._shapes["standin"] = data
            if data["status"] == "stand-in":
                failed = sum(1 for r in data["replayed"] if r["error"])
                shape = ", ".join(f"{k}={v}" for k, v in data["config"].items()
                                  if k in ("emb_dim", "n_layers", "n_heads"))
                self.notes.append(
                    f"cell {data['cell'] + 1} could not build your pretrained model here (`{data['creation'][:120]}`; "
                    "no GPT-2 weights offline), so the checks inspected a small stand-in built by your own code "
                    f"({shape}) "
                    f"after replaying the {len(data['replayed'])} statements that adapt it"
                    + (f" ({failed} of them raised)" if failed else ""))
        return self._shapes["standin"]

    # ------------------------------------------------------------- running code

    def run(self, probe: str, payload: dict | None = None, *, what: str = "the submission", timeout=PROBE_TIMEOUT,
            missing_ok: bool = False):
        """Run a kernel-side probe; its result with tensors decoded. A missing component fails the check."""
        tensors: dict[str, torch.Tensor] = {}
        encoded = _encode(payload or {}, tensors)
        return self._call(probe, encoded, tensors, what=what, timeout=timeout, missing_ok=missing_ok)

    def _call(self, probe: str, encoded: dict, tensors: dict, *, what: str, timeout=PROBE_TIMEOUT,
              missing_ok: bool = False):
        """One probe call with every grader error turned into a check failure a student can act on; a component
        that hung before fails at once, one whose code is not the submission's own is held for review."""
        names = {encoded["name"]} if isinstance(encoded.get("name"), str) else set()
        for name in sorted(names & set(self._hung)):
            pytest.fail(self._hung[name].later(what, name), pytrace=False)
        self.provenance()
        result = self._probe(probe, encoded, tensors, what=what, timeout=timeout, missing_ok=missing_ok, names=names)
        self._note_restored(result.restored)
        for record in result.components:
            if record.get("in_submission") and _graded(record.get("component")):
                evidence, packages = self._copied(record)
                if evidence:
                    self._hold_foreign(record["component"], record.get("used_name"), evidence, packages)
        return result.decoded()

    def _probe(self, probe: str, encoded: dict, tensors: dict, *, what: str, timeout, missing_ok: bool, names: set):
        try:
            return self.probe.call(probe, encoded, tensors, timeout=timeout)
        except ProbeTimeout as err:
            hang = Hang(tuple(sorted(names | set(err.components))), _current_check(), err.message)
            self._hung.update(dict.fromkeys(hang.components, hang))
            self.notes.append(hang.note())
            pytest.fail(f"{what}: {err.message}", pytrace=False)
        except ComponentImported as err:
            self._hold_foreign(err.component, err.mapped, *_imported_from(str(err.module)))
        except ComponentMissing as err:
            if missing_ok:
                raise _Missing(err.message) from None
            if not is_contract_name(str(err.component)):
                pytest.skip(f"informational: no `{err.component}` in the notebook (the assignment does not "
                            "require it)")
            pytest.fail(err.message, pytrace=False)
        except ProbeFailed as err:
            if _out_of_memory(err):  # the notebook's own objects fill much of the kernel's memory cap
                hold_for_review(f"{what}: the kernel ran out of memory while the grader ran this check "
                                f"({err.details.get('message', '')[:200]}); the objects your notebook keeps take "
                                "part of its memory, so this is not counted as your error. Free big models and "
                                "checkpoints you no longer need (del, then gc.collect())")
            pytest.fail(self.session.cell_names(_explain(err, what)), pytrace=False)
        except GraderError as err:
            pytest.fail(f"{what}: {err.message}", pytrace=False)

    # ------------------------------------------------------------- hostile notebooks

    def provenance(self) -> Provenance:
        """Once per session: the submission's imports of FOREIGN_PACKAGES (its cells and .py files) and the ones its
        notebook loaded (kernel_side notes sys.modules at the first probe, before probes load `reference`)."""
        if self._provenance is None:
            try:
                result = self.probe.call("notebook_modules")
                loaded = tuple(result.data.get("packages") or ())
                self._note_restored(result.restored)  # the first probe puts back what the notebook patched
            except GraderError:
                loaded = ()
            self._provenance = Provenance(submission_imports(self.original, self.session.workdir), loaded)
            note = self._provenance.note()
            if note:
                self.notes.append(note)
        return self._provenance

    def _copied(self, record: dict) -> tuple[list[str], set[str]]:
        """Why a component defined in the submission may not be its own code, and the packages involved: the foreign
        code it uses (kernel_side follows its references), or its code compiled from a string while the submission
        imports foreign code."""
        uses = [u for u in record.get("uses") or () if isinstance(u, dict)]
        evidence = [f"`{u.get('by')}` uses `{u.get('uses')}`" for u in uses]
        packages = {str(u.get("uses")).split(".")[0] for u in uses}
        if record.get("from_string") and self.provenance().packages:
            evidence.append(f"its code was compiled from a string (`{record['from_string']}`), not written in a "
                            "cell or a file, as `exec(inspect.getsource(...))` does")
            packages |= self.provenance().packages
        return evidence, packages

    def _hold_foreign(self, book_name: str, used_name: str | None, evidence: list[str], packages: set[str]) -> None:
        """Hold the check for review: the component's code is not (all) the submission's own; `packages` are the
        FOREIGN_PACKAGES involved, whose import statements the message quotes."""
        text = "; ".join(evidence)
        sources = self.provenance().sources(packages)
        mapped = f" (your `{used_name}`)" if used_name and used_name != book_name else ""
        hold_for_review(f"`{book_name}`{mapped} is not all your own code: {text}" +
                        (f" (imported in {sources})" if sources else "") +
                        ". Only code written in your notebook or in .py files beside it is graded, so this check is "
                        "held for the course staff (its points are neither given nor lost)")

    def _note_restored(self, restored: Sequence[str]) -> None:
        """Tell the report, once each, what the notebook had patched that the grader put back."""
        new = [r for r in restored if r not in self._restored]
        if new:
            self._restored.update(new)
            shown = ", ".join(r if r.startswith("the ") else f"`{r}`" for r in new)
            self.notes.append(f"the notebook changed what the grader's checks rely on: {shown}. The grader put back "
                              "its own (torch as it comes, its seeds, threads and dtype) before running your code")

    def call(self, name: str, *args, seed: int = 0, **kwargs):
        """Call the student's function `name` with these arguments; its return value."""
        component = self.require(name)
        payload = {"name": name, "args": list(args), "kwargs": kwargs, "seed": seed}
        return self.run("call_function", payload, what=f"calling {component.display}")["result"]

    def state_shapes(self, name: str, init: dict) -> list[tuple[str, tuple[int, ...], bool]]:
        """(name, shape, is_buffer) of a freshly built module, in creation order."""
        key = f"{name}:{sorted(init.items())!r}"
        if key not in self._shapes:
            component = self.require(name)
            data = self.run("state_shapes", {"name": name, "init_kwargs": init}, what=f"building {component.display}")
            self._shapes[key] = [(e["name"], tuple(e["shape"]), e["buffer"]) for e in data["state"]]
        return self._shapes[key]

    def unused_parameters(self, name: str, *, init: dict, inputs: Sequence[torch.Tensor]) -> list[str]:
        """Parameters of the student's module (built with `init`) that do not shape its output on `inputs`:
        their gradient is missing or zero. A stub that ignores its weights has them all unused."""
        component = self.require(name)
        tensors: dict[str, torch.Tensor] = {}
        keys = [_encode(x, tensors)[wire.TENSOR] for x in inputs]
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys}
        data = self._call("parameter_use", payload, tensors,
                          what=f"running {component.display} backwards")
        if data.get("not_finite"):
            pytest.fail(f"{component.display} built with {init} gives NaN or infinite values on inputs of shape "
                        f"{[tuple(x.shape) for x in inputs]}, so which of its weights shape its output cannot be told; "
                        f"find where the NaN comes from first (the checks comparing it with the reference show it).",
                        pytrace=False)
        return list(data["unused"])

    def expect_moves_with_the_module(self, name: str, *, init: dict, inputs: Sequence[torch.Tensor],
                                     section: str) -> None:
        """Fail when the student's module, moved with .to(device), keeps a tensor it uses on the CPU (a causal mask
        stored as a plain attribute instead of a buffer, a mask or positions made in forward without the input's
        device): it then fails on a GPU. Tried on PyTorch's meta device, which stands for one here; code the meta
        device cannot run makes the check informational. `inputs`: real ones (it first runs on them, on the CPU, and
        must give a working output)."""
        component = self.require(name)
        output = self.forward_with(name, init=init, state_dict=None, inputs=inputs)  # a stub earns nothing here
        expect_working(output, what=f"{component.display} built with {init}, on the CPU", inputs=inputs[0])
        specs = [{"shape": list(x.shape), "dtype": str(x.dtype).removeprefix("torch.")} for x in inputs]
        data = self.run("meta_forward", {"name": name, "init_kwargs": init, "inputs": specs},
                        what=f"building {component.display}")
        if "inconclusive" in data:
            pytest.skip(f"informational: {component.display} could not run on PyTorch's meta device, which this check "
                        f"uses to stand for a GPU ({data['inconclusive']}); not checked")
        expect("device_error" not in data,
               f"{component.display} built with {init}, moved with .to(device) to another device, still uses a tensor "
               f"on the CPU ({data.get('device_error')}), so it fails on a GPU. Register tensors the module keeps, "
               f"such as the causal mask, with self.register_buffer(\"mask\", ...) so that .to(device) moves them, "
               f"and make tensors in forward on the input's device (torch.arange(n, device=x.device)). See section "
               f"{section}.")

    def module_tree(self, name: str, init: dict) -> Tree:
        """The tree (modules, parameters, ties) of the student's module built with `init`."""
        key = f"tree:{name}:{sorted(init.items())!r}"
        if key not in self._shapes:
            component = self.require(name)
            data = self.run("module_tree", {"name": name, "init_kwargs": init}, what=f"building {component.display}")
            self._shapes[key] = Tree.from_description(data)
        return self._shapes[key]

    def grader_params(self, name: str) -> dict[str, str]:
        """The student's GRADER_PARAMS for a component: their parameter path prefixes -> the book's."""
        if "GRADER_PARAMS" not in self._shapes:
            data = self.run("grader_params", {}, what="reading GRADER_PARAMS")
            self._shapes["GRADER_PARAMS"] = data.get("params") or {}
        table = self._shapes["GRADER_PARAMS"]
        nested = table.get(name) if isinstance(table.get(name), dict) else {}
        flat = {k: v for k, v in table.items() if isinstance(v, str)}
        return {str(k): str(v) for k, v in {**flat, **nested}.items() if isinstance(v, str)}

    def bind(self, name: str, init: dict, reference: nn.Module) -> Binding:
        """The ways to load the reference's weights into the student's module (grader.bind)."""
        return bind(reference, self.module_tree(name, init), heads=_heads(init), extra_names=self.grader_params(name))

    def forward(self, name: str, *, init: dict, reference: nn.Module, inputs: Sequence[torch.Tensor],
                method: str | None = None, kwargs: dict | None = None,
                expected: torch.Tensor | Sequence[torch.Tensor] | None = None):
        """The student's module built with `init`, given the reference's weights, run on `inputs` (eval mode).

        The weights are bound by role (grader.bind); where several bindings are possible, each is run and the
        one whose output equals `expected` (default: the reference's output; a list: any of the outputs the book
        allows) is kept, else the closest. A
        binding may adapt `reference` in place to a variant the book allows (a tied head): compute the
        expected output after this call. No binding at all holds the check for review."""
        component = self.require(name)
        binding = self.bind(name, init, reference)
        if not binding.candidates:
            self._record(component, binding, None, None)
            if binding.fault:
                pytest.fail(f"{component.display}: {binding.problem}.", pytrace=False)
            hold_for_review(f"{component.display}: the grader could not load the book's weights into yours to "
                            f"compare it with the reference: {binding.problem}. This check is held for the course "
                            f"staff (its points are neither given nor lost). To have it graded, map your parameter "
                            f"names in a cell, e.g. GRADER_PARAMS = {{\"{name}\": {{\"<your submodule>\": "
                            f"\"<the book's name>\"}}}} (see student_tests/README.md).")
        reference.eval()
        candidates = self._preferred_first(name, binding.candidates)
        tried = candidates[:1] if self._patterns.get(name) == _pattern(candidates[0]) else candidates
        output, chosen = self._pick(name, init, tried, reference, inputs, method, kwargs, expected)
        if chosen is None and len(tried) < len(candidates):
            output, chosen = self._pick(name, init, candidates, reference, inputs, method, kwargs, expected)
        matched = chosen is not None
        chosen = chosen or self._closest
        apply_reference_changes(reference, chosen)
        if matched:
            self._patterns[name] = _pattern(chosen)
        self._bound[name] = chosen.state_dict if matched else None
        self._record(component, binding, chosen, matched)
        return output

    def bound_state(self, name: str) -> dict | None:
        """The reference's weights in the student's names, as the last `forward` of `name` bound them when its
        output equalled the expected one; None otherwise. For runs `forward` does not cover (training mode)."""
        return self._bound.get(name)

    def _preferred_first(self, name: str, candidates) -> list[Candidate]:
        known = self._patterns.get(name)
        return sorted(candidates, key=lambda c: _pattern(c) != known)

    def _pick(self, name, init, candidates, reference, inputs, method, kwargs, expected):
        """(output, candidate) of the first candidate whose output equals the expected one; (closest output, None)."""
        outputs = self._run_candidates(name, init, candidates, inputs, method, kwargs)
        best = (float("inf"), None, None)
        for candidate, output in zip(candidates, outputs):
            if not isinstance(output, torch.Tensor):
                continue
            wants = [expected] if isinstance(expected, torch.Tensor) else list(expected) if expected is not None \
                else [self._expected(reference, candidate, inputs, method, kwargs)]
            results = [compare_tensors(output, want) for want in wants]
            if any(r.ok for r in results):
                return output, candidate
            best = min(best, (min(r.max_abs for r in results), id(candidate), (output, candidate)), key=lambda b: b[0])
        if best[2] is None:  # every candidate raised or gave no tensor: show the first one's outcome
            self._closest = candidates[0]
            return outputs[0], None
        self._closest = best[2][1]
        return best[2][0], None

    @staticmethod
    def _expected(reference, candidate, inputs, method, kwargs):
        model = reference
        if candidate.reference_changes:
            model = copy.deepcopy(reference)
            apply_reference_changes(model, candidate)
        call = getattr(model, method) if method else model
        with torch.no_grad():
            return call(*inputs, **(kwargs or {}))

    def _run_candidates(self, name, init, candidates, inputs, method, kwargs) -> list:
        """The student's outputs, one per candidate state dict, in one kernel round trip."""
        tensors: dict[str, torch.Tensor] = {}
        keys = [_encode(x, tensors)[wire.TENSOR] for x in inputs]
        states = [{k: _encode(v, tensors)[wire.TENSOR] for k, v in c.state_dict.items()} for c in candidates]
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys, "method": method, "seed": 0,
                   "eval": True,
                   "kwargs": _encode(kwargs or {}, tensors), "candidates": states}
        component = self.require(name)
        data = self._call("module_forward", payload, tensors, what=f"running {component.display}")
        _expect_inputs_kept(component, data)
        outputs = data["outputs"]
        if len(candidates) == 1 and isinstance(outputs[0], dict):
            pytest.fail(f"running {component.display} raised {outputs[0].get('error')}", pytrace=False)
        return outputs

    def _record(self, component: Component, binding: Binding, chosen: Candidate | None, matched: bool | None):
        """Keep, per component, the most telling binding that reproduced the reference: the one chosen among the
        most candidates (a multi-head layout tells more than a one-head one); else the latest attempt."""
        previous = self.bindings.get(component.book_name)
        if (previous is not None and previous.matched
                and not (matched and len(binding.candidates) > previous.candidates)):
            return
        self.bindings[component.book_name] = BindingRecord(
            component.book_name, component.used_name, component.found, component.module, binding.method,
            len(binding.candidates), matched, chosen.pairs if chosen else (), chosen.notes if chosen else (),
            binding.problem)

    def forward_with(self, name: str, *, init: dict, state_dict: dict | None, inputs: Sequence[torch.Tensor],
                     method: str | None = None, kwargs: dict | None = None, seed: int = 0, eval: bool = True,
                     trace_dropout: bool = False):
        """Build the student's module, load `state_dict` (student's names; None keeps its own init), run it.

        With `trace_dropout`, returns (output, dropout calls): the (shape, p) of every dropout that acted,
        in order (F.dropout, nn.Dropout, and scaled_dot_product_attention's dropout_p, marked "fused")."""
        tensors: dict[str, torch.Tensor] = {}
        keys = [_encode(x, tensors)[wire.TENSOR] for x in inputs]
        state = {k: _encode(v, tensors)[wire.TENSOR] for k, v in (state_dict or {}).items()}
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys, "method": method, "seed": seed,
                   "eval": eval,
                   "kwargs": _encode(kwargs or {}, tensors), "state_dict": state if state_dict is not None else None,
                   "trace_dropout": trace_dropout}
        component = self.require(name)
        data = self._call("module_forward", payload, tensors, what=f"running {component.display}")
        _expect_inputs_kept(component, data)
        return (data["output"], data["dropout_calls"]) if trace_dropout else data["output"]


def _expect_inputs_kept(component: Component, data: dict) -> None:
    """Fail when the module changed a tensor it was given, in place (`x -= mean`, `x += ...`): its caller's tensor
    changes too (a block's `shortcut = x` then holds the changed value) and autograd refuses it in training."""
    if data.get("changed_inputs"):
        pytest.fail(f"{component.display} changed the tensor it was given in place (it or a module it calls, e.g. "
                    f"`x -= mean` or `x += ...` on its input): the caller's tensor changes too, so a shortcut that "
                    f"kept it (`shortcut = x`) is wrong, and in training autograd refuses it. Compute a new tensor "
                    f"instead (`x = x - mean`).", pytrace=False)


class _Missing(Exception):
    """Internal: a looked-up name is not defined (find() turns this into None)."""


def _out_of_memory(err: ProbeFailed) -> bool:
    """Whether the probe's exception was the kernel's memory cap (MemoryError, or torch's allocator failing)."""
    message = str(getattr(err, "details", {}).get("message", ""))
    return getattr(err, "kind", None) == "exception" and (
        getattr(err, "error_name", None) == "MemoryError" or "can't allocate memory" in message)


def _explain(err: ProbeFailed, what: str) -> str:
    """A student's exception as a short message with the last lines of its traceback."""
    error_name = getattr(err, "error_name", None)
    if getattr(err, "kind", None) == "exception":
        tail = [line for line in str(getattr(err, "traceback", "")).strip().splitlines() if line.strip()][-4:-1]
        where = ("\n" + "\n".join(tail)) if tail else ""
        return f"{what} raised {error_name}: {err.details.get('message', '')}{where}"
    return f"{what}: {err.reason}"
