"""What a check sees of a submission: its executed notebook, reached through probes.

Checks never touch the kernel directly. They ask for a component by the book's name
(`nb.require("MultiHeadAttention")`), run it on grader-chosen inputs and weights
(`nb.forward(...)`, `nb.call(...)`, `nb.run(probe, ...)`), and compare with the reference
in the grader's own process. Every failure becomes a `pytest.fail` message a student can act on.
"""

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from grader.bind import Binding, Candidate, Tree, apply_reference_changes, bind
from grader.checks import hold_for_review
from grader.compare import compare_tensors
from grader.contract import is_contract_name
from grader.errors import ComponentImported, ComponentMissing, GraderError, ProbeFailed
from grader.execute import ExecutionResult, KernelSession
from grader.probe import Probe
from grader.report import BindingRecord, Plot

PROBE_TIMEOUT = 30.0
GPT2_TOKENIZER = {"$gpt2": True}  # a payload value that kernel_side turns into GPT-2's tokenizer


def linear_spec(layer: nn.Linear) -> dict:
    """A payload value that kernel_side turns into an nn.Linear with this layer's weights."""
    return {"$linear": {"weight": layer.weight.detach().clone(),
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

    @property
    def display(self) -> str:
        """`MultiHeadAttention`, or `MultiHeadAttention (your MyAttention)` when mapped."""
        mapped = f" (your `{self.used_name}`)" if self.used_name != self.book_name else ""
        return f"`{self.book_name}`{mapped}"


def _encode(value, tensors: dict[str, torch.Tensor]):
    """Payload form of Python values: tensors travel separately as {"$tensor": key}."""
    if isinstance(value, torch.Tensor):
        key = f"a{len(tensors)}"
        tensors[key] = value
        return {"$tensor": key}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, tensors) for k, v in value.items()}
    return value


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
                                      origin.get("found", "the book's name"), origin.get("module", "__main__"))
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
        return component

    def exercise(self, name: str) -> Component:
        """The exercise's component, or a skip: an exercise not attempted is never failed."""
        component = self.find(name)
        if component is None:
            pytest.skip(f"exercise not attempted: no `{name}` in the notebook")
        return component

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
                self.notes.append(
                    f"cell {data['cell'] + 1} could not build your pretrained model here (`{data['creation'][:120]}`; "
                    "no GPT-2 weights offline), so the checks inspected a small stand-in built by your own code "
                    f"({', '.join(f'{k}={v}' for k, v in data['config'].items() if k in ('emb_dim', 'n_layers', 'n_heads'))}) "
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
        """One probe call with every grader error turned into a check failure a student can act on."""
        try:
            return self.probe.call(probe, encoded, tensors, timeout=timeout).decoded()
        except ComponentImported as err:
            pytest.fail(err.message, pytrace=False)
        except ComponentMissing as err:
            if missing_ok:
                raise _Missing(err.message) from None
            if not is_contract_name(str(err.component)):
                pytest.skip(f"informational: no `{err.component}` in the notebook (the assignment does not "
                            "require it)")
            pytest.fail(err.message, pytrace=False)
        except ProbeFailed as err:
            pytest.fail(_explain(err, what), pytrace=False)
        except GraderError as err:
            pytest.fail(f"{what}: {err.message}", pytrace=False)

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
        keys = [_encode(x, tensors)["$tensor"] for x in inputs]
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys}
        data = self._call("parameter_use", payload, tensors,
                          what=f"running {component.display} backwards")
        return list(data["unused"])

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
        keys = [_encode(x, tensors)["$tensor"] for x in inputs]
        states = [{k: _encode(v, tensors)["$tensor"] for k, v in c.state_dict.items()} for c in candidates]
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys, "method": method, "seed": 0,
                   "eval": True,
                   "kwargs": _encode(kwargs or {}, tensors), "candidates": states}
        component = self.require(name)
        data = self._call("module_forward", payload, tensors, what=f"running {component.display}")
        outputs = data["outputs"]
        if len(candidates) == 1 and isinstance(outputs[0], dict):
            pytest.fail(f"running {component.display} raised {outputs[0].get('error')}", pytrace=False)
        return outputs

    def _record(self, component: Component, binding: Binding, chosen: Candidate | None, matched: bool | None):
        """Keep, per component, the most telling binding that reproduced the reference: the one chosen among the
        most candidates (a multi-head layout tells more than a one-head one); else the latest attempt."""
        previous = self.bindings.get(component.book_name)
        if previous is not None and previous.matched and not (matched and len(binding.candidates) > previous.candidates):
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
        keys = [_encode(x, tensors)["$tensor"] for x in inputs]
        state = {k: _encode(v, tensors)["$tensor"] for k, v in (state_dict or {}).items()}
        payload = {"name": name, "init_kwargs": _encode(init, tensors), "inputs": keys, "method": method, "seed": seed,
                   "eval": eval,
                   "kwargs": _encode(kwargs or {}, tensors), "state_dict": state if state_dict is not None else None,
                   "trace_dropout": trace_dropout}
        component = self.require(name)
        data = self._call("module_forward", payload, tensors, what=f"running {component.display}")
        return (data["output"], data["dropout_calls"]) if trace_dropout else data["output"]


class _Missing(Exception):
    """Internal: a looked-up name is not defined (find() turns this into None)."""


def _explain(err: ProbeFailed, what: str) -> str:
    """A student's exception as a short message with the last lines of its traceback."""
    error_name = getattr(err, "error_name", None)
    if getattr(err, "kind", None) == "exception":
        tail = [line for line in str(getattr(err, "traceback", "")).strip().splitlines() if line.strip()][-4:-1]
        where = ("\n" + "\n".join(tail)) if tail else ""
        return f"{what} raised {error_name}: {err.details.get('message', '')}{where}"
    return f"{what}: {err.reason}"
