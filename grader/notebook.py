"""What a check sees of a submission: its executed notebook, reached through probes.

Checks never touch the kernel directly. They ask for a component by the book's name
(`nb.require("MultiHeadAttention")`), run it on grader-chosen inputs and weights
(`nb.forward(...)`, `nb.call(...)`, `nb.run(probe, ...)`), and compare with the reference
in the grader's own process. Every failure becomes a `pytest.fail` message a student can act on.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from grader.compare import WeightMapping, map_weights
from grader.errors import ComponentImported, ComponentMissing, GraderError, ProbeFailed
from grader.execute import ExecutionResult, KernelSession
from grader.probe import Probe
from grader.report import Plot

PROBE_TIMEOUT = 30.0
GPT2_TOKENIZER = {"$gpt2": True}  # a payload value that kernel_side turns into GPT-2's tokenizer


@dataclass(frozen=True)
class Component:
    """A book component as the student defined it."""

    book_name: str
    used_name: str
    kind: str
    params: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)

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


def _reference_weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


class Notebook:
    """The submission's live kernel, seen through probes; one per test session."""

    def __init__(self, session: KernelSession, execution: ExecutionResult, *, device: str = "cpu", original=None):
        self.session, self.execution, self.device = session, execution, device
        self.original = original  # the notebook as submitted (nbformat), with the student's saved outputs
        self.probe = Probe(session)
        self._components: dict[str, Component | None] = {}
        self._shapes: dict[str, list] = {}
        self.plots: list[Plot] = []  # figures checks add for the HTML report

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
                self._components[name] = Component(name, data["used_name"], data["kind"],
                                                   tuple(data["params"]), data["defaults"])
            except _Missing:
                self._components[name] = None
        return self._components[name]

    def require(self, name: str) -> Component:
        """The component, or a failed check saying it is missing and how to map another name."""
        component = self.find(name)
        if component is None:
            pytest.fail(ComponentMissing(component=name, mapped=None).message, pytrace=False)
        return component

    def exercise(self, name: str) -> Component:
        """The exercise's component, or a skip: an exercise not attempted is never failed."""
        component = self.find(name)
        if component is None:
            pytest.skip(f"exercise not attempted: no `{name}` in the notebook")
        return component

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

    def transplant(self, name: str, init: dict, reference: nn.Module) -> WeightMapping:
        """The reference module's weights keyed and shaped for the student's module."""
        params = [(n, shape) for n, shape, is_buffer in self.state_shapes(name, init) if not is_buffer]
        return map_weights(_reference_weights(reference), params)

    def forward(self, name: str, *, init: dict, reference: nn.Module, inputs: Sequence[torch.Tensor],
                method: str | None = None, kwargs: dict | None = None) -> torch.Tensor:
        """The student's module built with `init`, given the reference's weights, run on `inputs` (eval mode)."""
        component = self.require(name)
        mapping = self.transplant(name, init, reference)
        if mapping.state_dict is None:
            pytest.skip(f"{component.display}: {mapping.problem}; its properties are checked instead")
        return self.forward_with(name, init=init, state_dict=mapping.state_dict, inputs=inputs,
                                 method=method, kwargs=kwargs)

    def forward_with(self, name: str, *, init: dict, state_dict: dict | None, inputs: Sequence[torch.Tensor],
                     method: str | None = None, kwargs: dict | None = None, seed: int = 0, eval: bool = True):
        """Build the student's module, load `state_dict` (student's names; None keeps its own init), run it."""
        tensors: dict[str, torch.Tensor] = {}
        keys = [_encode(x, tensors)["$tensor"] for x in inputs]
        state = {k: _encode(v, tensors)["$tensor"] for k, v in (state_dict or {}).items()}
        payload = {"name": name, "init_kwargs": init, "inputs": keys, "method": method, "seed": seed, "eval": eval,
                   "kwargs": _encode(kwargs or {}, tensors), "state_dict": state if state_dict is not None else None}
        component = self.require(name)
        return self._call("module_forward", payload, tensors, what=f"running {component.display}")["output"]


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
