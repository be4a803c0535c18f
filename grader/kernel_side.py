"""The kernel's half of the probe protocol (see grader/probe.py); runs next to untrusted code.

The grader loads this file with `runpy.run_path(<this file>)` in the kernel (once; the
functions are kept in sys.modules) and calls `run(<request dir>)`, so this file is loaded by path: a student's own `grader.py` cannot shadow it. It imports only the
standard library at load time; torch and safetensors are imported when a probe needs them.

Built-in probes are registered with `@probe("name")`. Assignment-specific probes live in
`grader/probes_kernel/<group>.py` as plain functions `probe_<name>(req)` and are called as
"<group>.<name>"; those files are loaded by path too and need not import anything from here.
A probe function takes a `Request` and returns a dict of JSON values and tensors (nested in
lists, tuples and dicts); tensors travel in outputs.safetensors.
"""

import inspect
import json
import os
import re
import runpy
import sys
import traceback
from pathlib import Path

PROBES = {}
GROUPS = {}  # probe group name -> its functions, loaded once per kernel
FOREIGN_PACKAGES = ("reference", "llms_from_scratch", "grader")  # reimplementing these is the assignment
MAX_TEXT = 2000
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def probe(name):
    """Register a built-in probe under `name`."""
    def register(fn):
        PROBES[name] = fn
        return fn
    return register


class ProbeError(Exception):
    """A failure the probe explains itself; `kind` tells the grader which error to raise."""

    def __init__(self, message, kind="probe", **details):
        super().__init__(message)
        self.kind, self.details = kind, details


def _text(value, limit=MAX_TEXT):
    try:
        return str(value)[:limit]
    except Exception:  # a student's __str__ may raise
        return f"<unprintable {type(value).__name__}>"


def _torch():
    import torch
    return torch


def _is_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _user_namespace():
    shell = getattr(__import__("builtins"), "get_ipython", lambda: None)()
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def _origin(obj, workdir):
    """Where obj (or its class, for instances) was defined, and whether that is the submission."""
    target = obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)
    module = _text(getattr(target, "__module__", None) or "", 200)
    try:
        source = inspect.getsourcefile(target)
    except (TypeError, OSError):
        source = getattr(sys.modules.get(module), "__file__", None)
    inside = bool(source) and Path(source).resolve().is_relative_to(workdir)
    own = module == "__main__" or (inside and not module.startswith(FOREIGN_PACKAGES))
    for base in getattr(target, "__mro__", ())[1:]:  # a subclass of the book's own package is not yours
        if getattr(base, "__module__", "").split(".")[0] in FOREIGN_PACKAGES:
            own, module = False, base.__module__
    return {"module": module, "source": source and _text(source, 500), "in_submission": own}


class Request:
    """One probe call: its payload, input tensors, and the notebook's names."""

    def __init__(self, folder):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "request.json").read_text(encoding="utf-8"))
        self.probe, self.payload = meta["probe"], meta.get("payload") or {}
        self.workdir = Path(meta["workdir"]).resolve()
        inputs = self.folder / "inputs.safetensors"
        self.tensors = _load_tensors(inputs) if inputs.exists() else {}
        self.namespace = _user_namespace()
        self.components = []

    def resolve(self, book_name):
        """The notebook's object for a book name: GRADER_NAMES first, then the book's name."""
        mapping = self.namespace.get("GRADER_NAMES")
        mapped = mapping.get(book_name) if isinstance(mapping, dict) else None
        used = mapped if isinstance(mapped, str) and mapped else book_name
        if used not in self.namespace:
            raise ProbeError(f"{book_name} is not defined", "missing", component=book_name,
                             mapped=None if used == book_name else used)
        obj = self.namespace[used]
        record = {"component": book_name, "used_name": used, **_origin(obj, self.workdir)}
        self.components.append(record)
        return obj, record

    def resolve_own(self, book_name):
        """Like resolve, but refuses objects defined outside the submission."""
        obj, record = self.resolve(book_name)
        if not record["in_submission"]:
            raise ProbeError(f"{book_name} comes from {record['module']}", "imported", **record)
        return obj

    def decode(self, value):
        """JSON payload values: {"$tensor": key}, {"$global": book name}, {"$tuple": [...]}, {"$gpt2": true}."""
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"$tensor"}:
            return self.tensors[value["$tensor"]]
        if set(value) == {"$global"}:
            return self.resolve(value["$global"])[0]
        if set(value) == {"$tuple"}:
            return tuple(self.decode(v) for v in value["$tuple"])
        if set(value) == {"$gpt2"}:
            from reference.assets import gpt2_encoding  # the grader's own offline copy of tiktoken's "gpt2"
            return gpt2_encoding()
        return {k: self.decode(v) for k, v in value.items()}

    def construct(self):
        """Build payload["name"] with init_args/init_kwargs under torch.manual_seed(seed)."""
        torch, cls = _torch(), self.resolve_own(self.payload["name"])
        torch.manual_seed(self.payload.get("seed", 0))
        module = cls(*self.decode(self.payload.get("init_args", [])),
                     **self.decode(self.payload.get("init_kwargs", {})))
        if not isinstance(module, torch.nn.Module):
            raise ProbeError(f"{self.payload['name']}(...) did not build a torch.nn.Module "
                             f"but a {type(module).__name__}")
        return module


def _load_tensors(path):
    from safetensors.torch import load_file
    return load_file(str(path))


def _encode(value, tensors, depth=0):
    """JSON-able form of a probe's result; tensors move to `tensors` as {"$tensor": key}."""
    if depth > 32:
        return {"$repr": "<nested too deeply>"}
    if _is_tensor(value):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"$tensor": key}
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return _encode(_torch().from_numpy(value.copy()), tensors, depth)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v, tensors, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_text(k, 200): _encode(v, tensors, depth + 1) for k, v in value.items()}
    return {"$repr": _text(repr(value) if not inspect.isclass(value) else value.__qualname__, 200),
            "$type": type(value).__name__}


def _find(name):
    if name in PROBES:
        return PROBES[name]
    group, _, short = name.partition(".")
    if not (IDENTIFIER.fullmatch(group) and IDENTIFIER.fullmatch(short)):
        raise ProbeError(f"unknown probe {name!r}", "bad_request")
    if group not in GROUPS:
        path = Path(__file__).parent / "probes_kernel" / f"{group}.py"
        GROUPS[group] = runpy.run_path(str(path)) if path.is_file() else {}
    functions = GROUPS[group]
    if f"probe_{short}" not in functions:
        raise ProbeError(f"unknown probe {name!r}", "bad_request")
    return functions[f"probe_{short}"]


def _failure(err, components):
    if isinstance(err, ProbeError):
        error = {"kind": err.kind, "name": "ProbeError", "message": _text(err), **err.details}
    else:
        lines = traceback.format_exception(type(err), err, err.__traceback__)
        error = {"kind": "exception", "name": type(err).__name__, "message": _text(err),
                 "traceback": _text("".join(lines)[-4000:], 4000)}
    return {"ok": False, "error": _encode(error, {}), "components": components}


def _write(folder, body, tensors):
    if tensors:
        from safetensors.torch import save_file
        save_file(tensors, str(folder / "outputs.safetensors"))
    partial = folder / "response.json.partial"
    partial.write_text(json.dumps(body), encoding="utf-8")
    os.replace(partial, folder / "response.json")


def run(folder):
    """Answer the request in `folder`; every failure becomes an error response."""
    folder, request, tensors = Path(folder), None, {}
    try:
        request = Request(folder)
        data = _find(request.probe)(request)
        body = {"ok": True, "data": _encode(data if isinstance(data, dict) else {"value": data}, tensors),
                "components": request.components}
        _write(folder, body, tensors)
    except (Exception, SystemExit) as err:
        _write(folder, _failure(err, request.components if request else []), {})


# ---------------------------------------------------------------- built-in probes

def _default(value):
    if value is inspect.Parameter.empty:
        return None
    return value if value is None or isinstance(value, (bool, int, float, str)) else {"$repr": _text(repr(value), 200)}


@probe("describe")
def describe(req):
    """What a name is: kind, signature (parameter names and defaults), where it was defined."""
    obj, record = req.resolve(req.payload["name"])
    kind = "class" if inspect.isclass(obj) else "function" if inspect.isroutine(obj) else "other"
    try:
        params = inspect.signature(obj).parameters.values() if callable(obj) else []
    except (TypeError, ValueError):
        params = []
    return {"kind": kind, "type": type(obj).__name__, "used_name": record["used_name"],
            "params": [p.name for p in params],
            "defaults": {p.name: _default(p.default) for p in params if p.default is not p.empty},
            "origin": record}


@probe("state_shapes")
def state_shapes(req):
    """Parameters then buffers of a freshly built module: name, shape, dtype, buffer, persistent."""
    module = req.construct()
    persistent = set(module.state_dict())
    entries = [(n, t, False) for n, t in module.named_parameters()] + \
              [(n, t, True) for n, t in module.named_buffers()]
    return {"state": [{"name": n, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."),
                       "buffer": b, "persistent": n in persistent} for n, t, b in entries]}


def _load_strict(module, state):
    """Load every parameter; buffers not sent (e.g. a causal mask) keep their built values."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    buffers = {name for name, _ in module.named_buffers()}
    missing = [name for name in missing if name not in buffers]
    if missing or unexpected:
        raise ProbeError(f"the weights do not fit: missing keys {list(missing)}, unexpected keys "
                         f"{list(unexpected)}", "state_dict", missing=list(missing), unexpected=list(unexpected))


@probe("module_forward")
def module_forward(req):
    """Build, load a state dict strictly, eval, and call forward (or a method) under no_grad."""
    torch, p = _torch(), req.payload
    module = req.construct()
    if p.get("state_dict") is not None:
        _load_strict(module, {name: req.tensors[key] for name, key in p["state_dict"].items()})
    module.train(not p.get("eval", True))
    torch.manual_seed(p.get("seed", 0))
    call = getattr(module, p["method"]) if p.get("method") else module
    with torch.no_grad():
        output = call(*(req.tensors[key] for key in p.get("inputs", [])), **req.decode(p.get("kwargs", {})))
    return {"output": output}


@probe("call_function")
def call_function(req):
    """Call a function with decoded args/kwargs (seeded when payload has "seed")."""
    p = req.payload
    fn = req.resolve_own(p["name"])
    if "seed" in p:
        _torch().manual_seed(p["seed"])
    return {"result": fn(*req.decode(p.get("args", [])), **req.decode(p.get("kwargs", {})))}
