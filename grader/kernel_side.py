"""The kernel's half of the probe protocol (see grader/probe.py); runs next to untrusted code.

The grader loads this file with `runpy.run_path(<this file>)` in the kernel (once; the
functions are kept in sys.modules), so a student's own `grader.py` cannot shadow it. It calls
`preload()` right after the kernel starts, before the notebook's first cell: that imports torch
and keeps the grader's baseline (grader/probes_kernel/baseline.py: torch's functions, tensor
methods and settings as they come). `run(<request dir>)` puts that baseline back before every
probe and again before writing its results, so what the notebook patched (a stubbed
`torch.manual_seed`, `torch.Tensor.__eq__`, 64 threads) changes nothing the grader computes, and
says what it put back. `preload(heavy_after, heavy_grace)` also installs the governor that keeps the
notebook's heavy loops short (probes_kernel/governor.py); `governed(<sha1 of a cell>)` says what it did
to that cell. `serve(<socket path>)` answers many probes in one execute request (the grader's fast lane,
grader/kernel.py). At load time this file imports only the standard library.

A probe that the grader interrupts (its timeout) answers {"ok": false, "error": {"kind":
"interrupted", "where": <the notebook's function it was in>}}. The first `run` also notes which
of FOREIGN_PACKAGES the notebook loaded (before any probe imports `reference`).

Built-in probes are registered with `@probe("name")`. Probes shared by assignments live in
`grader/probes_kernel/<group>.py`, an assignment's own in its folder's `probes.py` (grader.assignments;
`preload` gets their paths), as plain functions `probe_<name>(req)` called as "<group>.<name>"; those files
are loaded by path too (with KERNEL_HELPERS, the folder of the shared ones, in their globals) and need not
import anything from here. A probe function takes a `Request` and returns a dict of JSON values and tensors
(nested in lists, tuples and dicts); tensors travel in outputs.safetensors.
"""

import contextlib
import dis
import inspect
import json
import linecache
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
CONFIG_ALIASES = {"ctx_len": "context_length"}  # GPT config keys of the book's early chapter 4-5 notebooks
KERNEL_HELPERS = Path(__file__).parent / "probes_kernel"  # the probes every assignment shares, and helpers
BASELINE_FILE = KERNEL_HELPERS / "baseline.py"
GOVERNOR_FILE = KERNEL_HELPERS / "governor.py"
WIRE = runpy.run_path(str(KERNEL_HELPERS / "wire.py"))  # the wire format, shared with the grader
# per kernel: preload()'s Baseline and Governor; the assignments' probe files by group; what the notebook loaded
STATE = {"baseline": None, "governor": None, "probe_files": {}, "notebook_modules": None}
MAX_SCANNED = 200  # objects followed when looking for foreign code a component uses
IMPORTED = object()  # _references: a module name the code imports itself


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
    baseline = STATE["baseline"]
    if baseline is not None and baseline.torch is not None:
        return baseline.torch
    import torch
    return torch


def preload(heavy_after=0.0, heavy_grace=0.0, probe_files=None):
    """Once per kernel, before the notebook's first cell: import torch and keep the grader's baseline of it;
    with `heavy_after` > 0, keep the notebook's heavy loops short (probes_kernel/governor.py). `probe_files`:
    {group: path} of the assignments' probes (grader.assignments.probe_files)."""
    STATE["probe_files"] = dict(probe_files or {})
    with contextlib.suppress(Exception):  # no torch here: the probes that need it say so
        import torch  # noqa: F401 - the baseline is torch as it comes, before any notebook code ran
    with contextlib.suppress(Exception):
        import numpy.random  # noqa: F401 - its seed function, which torch's import leaves unloaded
    STATE["baseline"] = runpy.run_path(str(BASELINE_FILE))["Baseline"]()
    if heavy_after > 0:
        with contextlib.suppress(ImportError):  # no torch or no IPython shell: nothing to keep short
            from IPython import get_ipython
            from torch.utils.data import DataLoader
            shell = get_ipython()
            if shell is not None:
                governor = runpy.run_path(str(GOVERNOR_FILE))["Governor"](heavy_after, heavy_grace)
                governor.install(shell, DataLoader)
                STATE["governor"] = governor


def governed(cell_digest):
    """JSON: what the governor did to the notebook cell whose source has this sha1 (null: nothing)."""
    governor = STATE["governor"]
    return json.dumps(governor.report(cell_digest) if governor is not None else None)


def _restore(settings=True):
    """Undo the notebook's patches of the grader's baseline; what was patched (see baseline.py)."""
    baseline = STATE["baseline"]
    return baseline.restore(settings) if baseline is not None else []


def _foreign_modules():
    """The names of the loaded modules of FOREIGN_PACKAGES, now."""
    return sorted(name for name in sys.modules.copy() if name.split(".")[0] in FOREIGN_PACKAGES)


def _is_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _shell():
    """The IPython shell the kernel runs, or None (a plain interpreter)."""
    return getattr(__import__("builtins"), "get_ipython", lambda: None)()


def _user_namespace():
    shell = _shell()
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def _origin(obj, workdir):
    """Where obj (or its class, for instances) was defined, and whether that is the submission."""
    target = obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)
    if inspect.isfunction(target):  # a decorated function (@torch.no_grad()): where its own code lives
        try:
            target = inspect.unwrap(target)
        except ValueError:
            pass
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
    record = {"module": module, "source": source and _text(source, 500), "in_submission": own}
    if own:
        record.update(uses=_foreign_uses(target, workdir), from_string=_from_string(target))
    return record


def _in_workdir(module_name, workdir):
    """Whether a loaded module's file lies in the submission folder (a student's own `reference.py` does)."""
    path = getattr(sys.modules.get(module_name), "__file__", None)
    try:
        return bool(path) and Path(path).resolve().is_relative_to(workdir)
    except (OSError, ValueError, TypeError):
        return False


def _is_foreign(value, workdir):
    """A module, class or function of FOREIGN_PACKAGES (instances are not: a notebook may build the book's model)."""
    if not (inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value)):
        return False
    name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None) or ""
    return name.split(".")[0] in FOREIGN_PACKAGES and not _in_workdir(name, workdir)


def _is_notebooks(value, workdir):
    """A class or function defined in the notebook or in a module of the submission folder."""
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        return False
    module = getattr(value, "__module__", None)
    return module == "__main__" or _in_workdir(module, workdir)


def _functions(obj):
    """The functions whose code makes up obj: itself, or a class's methods and properties."""
    if inspect.isfunction(obj):
        try:
            return [inspect.unwrap(obj)]
        except ValueError:  # a __wrapped__ cycle
            return [obj]
    found = []
    for value in vars(obj).values() if inspect.isclass(obj) else ():
        value = getattr(value, "__func__", value)  # staticmethod, classmethod
        parts = [value.fget, value.fset] if isinstance(value, property) else [value]
        found += [f for f in parts if inspect.isfunction(f)]
    return found


def _codes(code):
    yield code
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _codes(const)


def _references(fn):
    """(name, value) of what fn's code can reach: its globals by name, closures, defaults, and the modules it
    imports itself (`import x`, `importlib.import_module("x")`) as (name, IMPORTED)."""
    found = []
    for code in _codes(fn.__code__):
        for name in code.co_names:
            value = fn.__globals__.get(name, IMPORTED)
            if inspect.ismodule(value):  # `book.CausalAttention`: the module's attributes the code names
                attributes = [vars(value)[a] for a in code.co_names if a in vars(value)]
                found += [(name, a) for a in attributes if not inspect.ismodule(a)] or [(name, value)]
            elif value is not IMPORTED:
                found.append((name, value))
        found += [(i.argval, IMPORTED) for i in dis.get_instructions(code) if i.opname == "IMPORT_NAME"]
        if {"import_module", "__import__"} & set(code.co_names):
            found += [(c, IMPORTED) for c in code.co_consts if isinstance(c, str)]
    found += [("<closure>", cell.cell_contents) for cell in fn.__closure__ or () if _filled(cell)]
    found += [("<default>", v) for v in (fn.__defaults__ or ()) + tuple((fn.__kwdefaults__ or {}).values())]
    return found


def _filled(cell):
    try:
        return cell.cell_contents is not IMPORTED
    except ValueError:  # an empty cell
        return False


def _foreign_uses(target, workdir):
    """What of FOREIGN_PACKAGES the target's code uses, directly or through the notebook's other code:
    [{"by": "CausalAttention.__init__", "uses": "reference.ch03.CausalAttention"}, ...]."""
    uses, seen, queue = [], {id(target)}, [target]

    def follow(value):
        if _is_notebooks(value, workdir) and id(value) not in seen and len(seen) < MAX_SCANNED:
            seen.add(id(value))
            queue.append(value)

    while queue:
        item = queue.pop(0)
        for base in item.__mro__[1:] if inspect.isclass(item) else ():
            follow(base)
        for fn in _functions(item):
            for name, value in _references(fn):
                if value is IMPORTED:
                    used = name if name.split(".")[0] in FOREIGN_PACKAGES and not _in_workdir(name, workdir) else None
                elif _is_foreign(value, workdir):
                    used = _qualified(value)
                else:
                    used = follow(value)  # the notebook's own code it calls: followed, nothing to record
                if used and {"by": fn.__qualname__, "uses": used} not in uses:
                    uses.append({"by": fn.__qualname__, "uses": used})
    return uses[:20]


def _qualified(value):
    if inspect.ismodule(value):
        return value.__name__
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', getattr(value, '__name__', '?'))}"


def _from_string(target):
    """The file name of code compiled from a string (`exec(inspect.getsource(...))` gives "<string>"), or None;
    code written in a cell or a file has a real path."""
    for fn in _functions(target):
        name = fn.__code__.co_filename
        if name.startswith("<") and not name.startswith("<ipython-input"):
            return name
    return None


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

    def mapped_name(self, book_name):
        """The student's own name for a book name in GRADER_NAMES, or None."""
        mapping = self.namespace.get("GRADER_NAMES")
        mapped = mapping.get(book_name) if isinstance(mapping, dict) else None
        return mapped if isinstance(mapped, str) and mapped else None

    def names_for(self, book_name):
        """Every notebook name the book name may be bound to: the book's and the GRADER_NAMES one."""
        return {book_name} | ({self.mapped_name(book_name)} - {None})

    def submission_modules(self):
        """(name, module) of the imported modules whose files lie in the submission folder, by name."""
        found = []
        for name, module in sorted(sys.modules.copy().items()):
            path = getattr(module, "__file__", None)
            try:
                inside = bool(path) and Path(path).resolve().is_relative_to(self.workdir)
            except (OSError, ValueError, TypeError):
                inside = False
            if inside and not name.startswith(FOREIGN_PACKAGES):
                found.append((name, module))
        return found

    def lookup(self, book_name):
        """(object, record) for a book name, or None: GRADER_NAMES, then the book's name in the notebook,
        then the book's name in a module of the submission folder that the notebook imported."""
        mapped = self.mapped_name(book_name)
        if mapped is not None:
            if mapped not in self.namespace:
                return None
            return self._record(book_name, mapped, self.namespace[mapped], "GRADER_NAMES")
        if book_name in self.namespace:
            return self._record(book_name, book_name, self.namespace[book_name], "the book's name")
        for module_name, module in self.submission_modules():
            value = getattr(module, book_name, None)
            if value is not None and not inspect.ismodule(value):
                return self._record(book_name, book_name, value, f"your module {module_name}.py")
        return None

    def _record(self, book_name, used, obj, how):
        record = {"component": book_name, "used_name": used, "found": how, **_origin(obj, self.workdir)}
        self.components.append(record)
        return obj, record

    def resolve(self, book_name):
        """The notebook's object for a book name (see lookup); a "missing" error when there is none."""
        found = self.lookup(book_name)
        if found is None:
            raise ProbeError(f"{book_name} is not defined", "missing", component=book_name,
                             mapped=self.mapped_name(book_name))
        return found

    def resolve_own(self, book_name):
        """Like resolve, but refuses objects defined outside the submission."""
        obj, record = self.resolve(book_name)
        if not record["in_submission"]:
            raise ProbeError(f"{book_name} comes from {record['module']}", "imported", **record)
        return obj

    def own(self, book_name):
        """The submission's own object for a book name, or None when it is missing or imported."""
        found = self.lookup(book_name)
        return found[0] if found is not None and found[1]["in_submission"] else None

    def global_value(self, book_name):
        """A notebook global (e.g. `model`, `optimizer`) by its book name, GRADER_NAMES first; None when absent."""
        found = self.lookup(book_name)
        return None if found is None else found[0]

    def own_functions(self):
        """(name, function) of the notebook's own public functions, in name order."""
        found = []
        for name, obj in sorted(self.namespace.copy().items()):
            if not name.startswith("_") and inspect.isfunction(obj) and _origin(obj, self.workdir)["in_submission"]:
                found.append((name, obj))
        return found

    def decode(self, value):
        """Payload values with their markers (probes_kernel/wire.py) made Python values: tensors, notebook
        globals, tuples, GPT-2's tokenizer, Linear layers."""
        return WIRE["decode"](value, self._resolve_marker)

    def _resolve_marker(self, name, content):
        if name == WIRE["TENSOR"]:
            return self.tensors[content]
        if name == WIRE["GLOBAL"]:
            return self.resolve(content)[0]
        if name == WIRE["TUPLE"]:
            return tuple(self.decode(v) for v in content)
        if name == WIRE["GPT2"]:
            from reference.assets import gpt2_encoding  # the grader's own offline copy of tiktoken's "gpt2"
            return gpt2_encoding()
        if name == WIRE["LINEAR"]:
            return _linear(_torch(), self.decode(content))
        return {name: content}

    def call(self, fn, arguments):
        """call_with_book_arguments: by keyword, or by position when the student renamed the parameters."""
        return call_with_book_arguments(fn, arguments)

    def describe(self, module):
        """describe_module(module): the tree the grader binds the book's weights to."""
        return describe_module(module)

    def guard(self):
        """A context for grader code that judges what the student's code did (after it ran, within one probe):
        the baseline's names are put back and tensor subclasses cannot intercept (baseline.py: guard)."""
        baseline = STATE["baseline"]
        return baseline.guard() if baseline is not None else contextlib.nullcontext()

    def book_config(self, cfg):
        """A copy of a GPT config dict that also answers the book's older key names (cfg["ctx_len"])."""
        return BookConfig(cfg)

    def construct(self):
        """Build payload["name"] with init_args/init_kwargs under torch.manual_seed(seed)."""
        torch, cls = _torch(), self.resolve_own(self.payload["name"])
        torch.manual_seed(self.payload.get("seed", 0))
        kwargs = self.decode(self.payload.get("init_kwargs", {}))
        if isinstance(kwargs.get("cfg"), dict):
            kwargs["cfg"] = self.book_config(kwargs["cfg"])
        args = self.decode(self.payload.get("init_args", []))
        module = cls(*args, **kwargs) if args else call_with_book_arguments(cls, kwargs)
        if not isinstance(module, torch.nn.Module):
            raise ProbeError(f"{self.payload['name']}(...) did not build a torch.nn.Module "
                             f"but a {type(module).__name__}")
        return module


def call_with_book_arguments(fn, arguments):
    """fn(**arguments), the book's argument names in the book's order. When fn renamed some of them
    (`block_size` for `context_length`, `config` for `cfg`) and takes that many positional parameters,
    the arguments go by position instead: probes bind to what the code does, not to what it calls things."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(**arguments)
    names = {p.name for p in params}
    if set(arguments) <= names or any(p.kind is p.VAR_KEYWORD for p in params):
        return fn(**arguments)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) <= len(arguments) <= len(positional):
        return fn(*arguments.values())
    return fn(**arguments)


class BookConfig(dict):
    """A GPT config dict; a key of the book's early notebooks (CONFIG_ALIASES) reads its current one."""

    def __missing__(self, key):
        if key in CONFIG_ALIASES and CONFIG_ALIASES[key] in self:
            return self[CONFIG_ALIASES[key]]
        raise KeyError(key)


def _linear(torch, spec):
    """An nn.Linear holding the sent weight (out, in) and bias (or none)."""
    weight, bias = spec["weight"], spec.get("bias")
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def _load_tensors(path):
    from safetensors.torch import load_file
    return load_file(str(path))


def _encode(value, tensors):
    """JSON-able form of a probe's result (probes_kernel/wire.py): tensors (and numpy arrays) move to `tensors`
    as {"$tensor": key}, tuples become lists, anything else that is not JSON its repr."""
    return WIRE["encode"](value, tensors, prefix="t", as_tensor=_tensor_out, keep_tuples=False,
                          other=_repr_out, key=lambda k: _text(k, 200))


def _tensor_out(value):
    """A plain CPU copy of a tensor or numpy array on its way out; None for anything else."""
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        value = _torch().from_numpy(value.copy())
    if not _is_tensor(value):
        return None
    baseline = STATE["baseline"]
    return baseline.plain(value) if baseline is not None else value.detach().cpu().contiguous().clone()


def _repr_out(value):
    return {WIRE["REPR"]: _text(repr(value) if not inspect.isclass(value) else value.__qualname__, 200),
            WIRE["TYPE"]: type(value).__name__}


def _find(name):
    if name in PROBES:
        return PROBES[name]
    group, _, short = name.partition(".")
    if not (IDENTIFIER.fullmatch(group) and IDENTIFIER.fullmatch(short)):
        raise ProbeError(f"unknown probe {name!r}", "bad_request")
    if group not in GROUPS:
        path = Path(STATE["probe_files"].get(group) or KERNEL_HELPERS / f"{group}.py")
        GROUPS[group] = runpy.run_path(str(path), {"KERNEL_HELPERS": str(KERNEL_HELPERS)}) if path.is_file() else {}
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
                 "traceback": _text(_named_files("".join(lines))[-4000:], 4000)}
    return {"ok": False, "error": _encode(error, {}), "components": components}


def _named_files(text):
    """A traceback with each notebook cell's temporary file named as IPython names it (`Cell In[7], line 3`; the
    grader turns that into the notebook's cell) and the submission's own files named relative to its folder."""
    shell = _shell()
    if shell is not None:
        history = shell.history_manager.input_hist_parsed
        for filename, number in list(getattr(shell.compile, "_filename_map", {}).items()):
            cached = linecache.cache.get(filename)
            # the grader's own calls share a cell's number (they are not stored): only the stored cell's file counts
            if cached and 0 < number < len(history) and "".join(cached[2]).strip() == history[number].strip():
                text = text.replace(f'File "{filename}"', f"Cell In[{number}]")
    return text.replace(f'File "{os.getcwd()}{os.sep}', 'File "')


def _write(folder, body, tensors):
    if tensors:
        from safetensors.torch import save_file
        save_file(tensors, str(folder / "outputs.safetensors"))
    partial = folder / "response.json.partial"
    partial.write_text(json.dumps(body), encoding="utf-8")
    os.replace(partial, folder / "response.json")


def _interrupted(err, request):
    """The response of a probe the grader interrupted: where in the notebook's code it was."""
    where = None
    for frame, _ in traceback.walk_tb(err.__traceback__):
        path = frame.f_code.co_filename
        mine = frame.f_globals.get("__name__") == "__main__" or (
            request is not None and Path(path).is_absolute() and Path(path).resolve().is_relative_to(request.workdir))
        where = getattr(frame.f_code, "co_qualname", frame.f_code.co_name) if mine else where
    return {"ok": False, "error": {"kind": "interrupted", "name": "KeyboardInterrupt", "message": "interrupted",
                                   "where": where}, "components": _encode(request.components if request else [], {})}


def run(folder):
    """Answer the request in `folder` with the baseline restored; every failure becomes an error response."""
    folder, request, tensors = Path(folder), None, {}
    if STATE["notebook_modules"] is None:  # the first probe: what the notebook loaded, before probes load more
        STATE["notebook_modules"] = _foreign_modules()
    try:
        restored = _restore()
        request = Request(folder)
        data = _find(request.probe)(request)
        restored += _restore()
        body = {"ok": True, "data": _encode(data if isinstance(data, dict) else {"value": data}, tensors),
                "components": request.components, "restored": list(dict.fromkeys(restored))}
        _write(folder, body, tensors)
    except KeyboardInterrupt as err:  # the grader's timeout
        _write(folder, _interrupted(err, request), {})
    except (Exception, SystemExit) as err:
        _write(folder, _failure(err, request.components if request else []), {})


def serve(path):
    """Answer many probes in one execute request: connect to the grader's Unix socket at `path`, then for each
    line (a request folder) `run` it and answer "done"; an empty line, the socket's end or an interrupt between
    requests ends it. A probe interrupted by the grader's timeout still answers, as `run` does."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        try:
            for line in conn.makefile("rb"):
                folder = line.decode("utf-8", "replace").strip()
                if not folder:
                    break
                run(folder)
                conn.sendall(b"done\n")
        except (KeyboardInterrupt, OSError):
            pass


# ---------------------------------------------------------------- built-in probes

def _default(value):
    if value is inspect.Parameter.empty:
        return None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.device):  # device=torch.device("cpu") is the book's "cpu"
        return str(value)
    return value if value is None or isinstance(value, (bool, int, float, str)) else {"$repr": _text(repr(value), 200)}


@probe("notebook_modules")
def notebook_modules(req):
    """The modules of FOREIGN_PACKAGES (the grader's `reference`, the book's `llms_from_scratch`) that were loaded
    when the first probe ran, i.e. by the notebook, and are not the submission's own files: {package: [modules]}."""
    found = {}
    for name in STATE["notebook_modules"] or ():
        if not _in_workdir(name, req.workdir):
            found.setdefault(name.split(".")[0], []).append(name)
    return {"packages": found}


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


MODULE_KINDS = (("Linear", "linear"), ("Embedding", "embedding"), ("LayerNorm", "layernorm"),
                ("MultiheadAttention", "torch_mha"))


def _module_kind(module, torch):
    for class_name, kind in MODULE_KINDS:
        if isinstance(module, getattr(torch.nn, class_name)):
            return kind
    return "conv1d" if type(module).__name__ == "Conv1D" else "other"


def describe_module(module):
    """A module tree as data: modules (path, type, kind) in registration order, parameters and
    buffers (name, shape, owner path, attribute), and `ties`: parameter names that share one
    tensor with an earlier name (a tied output head)."""
    torch = _torch()
    modules, params, buffers = [], [], []
    for path, sub in module.named_modules():
        modules.append({"path": path, "type": type(sub).__name__, "kind": _module_kind(sub, torch)})
        for leaf, tensor in sub.named_parameters(recurse=False):
            params.append({"name": f"{path}.{leaf}" if path else leaf, "shape": list(tensor.shape), "owner": path,
                           "leaf": leaf, "trainable": bool(tensor.requires_grad)})
        for leaf, tensor in sub.named_buffers(recurse=False):
            buffers.append({"name": f"{path}.{leaf}" if path else leaf, "shape": list(tensor.shape), "owner": path})
    first, ties = {}, {}
    for name, tensor in module.named_parameters(remove_duplicate=False):
        if id(tensor) in first:
            ties[name] = first[id(tensor)]
        else:
            first[id(tensor)] = name
    return {"modules": modules, "params": [q for q in params if q["name"] not in ties], "buffers": buffers,
            "ties": ties}


@probe("module_tree")
def module_tree(req):
    """The tree of a freshly built module (describe_module), for binding the book's weights to it."""
    return describe_module(req.construct())


@probe("grader_params")
def grader_params(req):
    """The notebook's GRADER_PARAMS: {their parameter path prefix: the book's}, flat or per component."""
    value = req.namespace.get("GRADER_PARAMS")
    clean = {}
    for key, item in list(value.items())[:200] if isinstance(value, dict) else []:
        if isinstance(key, str) and isinstance(item, str):
            clean[key] = item
        elif isinstance(key, str) and isinstance(item, dict):
            clean[key] = {a: b for a, b in list(item.items())[:200] if isinstance(a, str) and isinstance(b, str)}
    return {"params": clean}


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


def _dropout_recorder(torch, calls):
    """A TorchFunctionMode that records (shape, p) of every dropout that acts (training mode), and whether what it
    drops looks like attention weights: all >= 0, each row summing to 1 (the softmax's result, not the scores)."""

    def weights(tensor):
        rows = tensor.detach().float().sum(dim=-1)
        return bool((tensor >= 0).all()) and bool(((rows - 1).abs() <= 1e-4).all())

    class DropoutRecorder(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if name in ("dropout", "dropout_") and len(calls) < 64:
                p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
                training = kwargs.get("training", args[2] if len(args) > 2 else True)
                if training and p:
                    calls.append({"shape": list(args[0].shape), "p": float(p), "weights": weights(args[0])})
            elif name == "scaled_dot_product_attention" and len(calls) < 64:
                p = kwargs.get("dropout_p", args[4] if len(args) > 4 else 0.0)
                if p:
                    q, k = args[0], args[1]
                    calls.append({"shape": [*q.shape[:-1], k.shape[-2]], "p": float(p), "fused": True})
            return func(*args, **kwargs)

    return DropoutRecorder()


def _forward_once(req, module, torch):
    """(output, dropout calls, indices of the inputs the call changed in place) of one call on copies of the
    inputs."""
    p = req.payload
    module.train(not p.get("eval", True))
    torch.manual_seed(p.get("seed", 0))
    call = getattr(module, p["method"]) if p.get("method") else module
    sent = [req.tensors[key] for key in p.get("inputs", [])]
    inputs = [x.clone() for x in sent]
    calls = []
    with torch.no_grad():
        if p.get("trace_dropout"):
            with _dropout_recorder(torch, calls):
                output = call(*inputs, **req.decode(p.get("kwargs", {})))
        else:
            output = call(*inputs, **req.decode(p.get("kwargs", {})))
    changed = [i for i, (x, y) in enumerate(zip(inputs, sent)) if x.shape != y.shape or not bool(
        ((x == y) | (x.isnan() & y.isnan())).all())]
    return output, calls, changed


@probe("module_forward")
def module_forward(req):
    """Build, load a state dict strictly, eval, and call forward (or a method) under no_grad.

    payload "candidates" (a list of state dicts) runs the module once per candidate: "outputs"
    holds each one's output, or {"error": ...} where that candidate raised. "trace_dropout"
    also returns the dropout calls of the (first) run; "changed_inputs" the inputs a run changed in place (each
    run gets its own copies)."""
    torch, p = _torch(), req.payload
    module = req.construct()
    states = p.get("candidates") or [p.get("state_dict")]
    outputs, first_error, calls, changed = [], None, None, set()
    for state in states:
        try:
            if state is not None:
                _load_strict(module, {name: req.tensors[key] for name, key in state.items()})
            output, traced, touched = _forward_once(req, module, torch)
            calls = traced if calls is None else calls
            changed.update(touched)
            outputs.append(output)
        except Exception as err:  # noqa: BLE001 - one candidate's failure; all failing is raised
            first_error = first_error or err
            outputs.append({"error": _text(f"{type(err).__name__}: {err}", 500)})
    if first_error is not None and all(isinstance(o, dict) for o in outputs):
        raise first_error
    return {"output": outputs[0], "outputs": outputs, "dropout_calls": calls or [], "changed_inputs": sorted(changed)}


def _tensors_left_behind(module, torch):
    """`path (shape)` of the tensors (not parameters or buffers, at least 1-D) kept as attributes of `module` or a
    submodule that stayed on the CPU when it moved, unless its class moves them itself (`self.mask.to(`)."""
    kept = []
    for path, sub in module.named_modules():
        try:
            source = inspect.getsource(type(sub))
        except (OSError, TypeError):
            source = ""
        for name, value in vars(sub).items():
            if (isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter) and value.dim() >= 1
                    and value.device.type == "cpu" and f"self.{name}.to(" not in source
                    and f"self.{name}.type_as(" not in source):
                kept.append(f"`{path + '.' if path else ''}{name}` {tuple(value.shape)}")
    return kept


@probe("meta_forward")
def meta_forward(req):
    """Build the module, move it to PyTorch's meta device (shapes only: it stands for a GPU here) and call it on
    meta inputs (payload "inputs": [{"shape", "dtype"}]). {"ok": true}; {"device_error": ...} when a tensor stayed
    on the CPU (a mask kept as a plain attribute, not a buffer; a tensor made in forward without the input's
    device); {"inconclusive": ...} for any other error (code the meta device cannot run, e.g. .item())."""
    torch, p = _torch(), req.payload
    module = req.construct().to("meta").eval()
    kept = _tensors_left_behind(module, torch)
    if kept:  # an in-place masked_fill_ on meta does not check devices, so look for them as well as running it
        return {"device_error": f"it keeps {', '.join(kept)} as a plain tensor attribute, which .to(device) leaves "
                                f"on the CPU"}
    inputs = [torch.empty(spec["shape"], dtype=getattr(torch, spec["dtype"]), device="meta") for spec in p["inputs"]]
    try:
        with torch.no_grad():
            module(*inputs)
    except Exception as err:  # noqa: BLE001 - the student's code: the error is the answer
        text = _text(f"{type(err).__name__}: {err}", 300)
        stayed = "is not on the expected device cpu" in text or (
            "Expected all tensors to be on the same device" in text and "cpu" in text)
        return {"device_error" if stayed else "inconclusive": text}
    return {"ok": True}


@probe("parameter_use")
def parameter_use(req):
    """Which parameters of a freshly built module shape its output: forward on the inputs (training mode off),
    backward from a fixed random projection of the output; a parameter with no or an all-zero gradient is unused."""
    torch, p = _torch(), req.payload
    module = req.construct()
    module.train(False)
    inputs = [req.tensors[key] for key in p.get("inputs", [])]
    output = module(*inputs)
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        raise ProbeError(f"{p['name']} returned a {type(output).__name__}, not a float tensor")
    if not bool(torch.isfinite(output).all()):  # NaN gradients would make every weight look unused
        return {"unused": [], "output_grad": output.requires_grad, "not_finite": True}
    if not output.requires_grad:
        return {"unused": [n for n, _ in module.named_parameters()], "output_grad": False}
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(0))
    (output * weights).sum().backward()
    with req.guard():
        unused = [n for n, q in module.named_parameters() if q.grad is None or not bool(q.grad.abs().sum() > 0)]
    return {"unused": unused, "output_grad": True}


@probe("call_function")
def call_function(req):
    """Call a function with decoded args/kwargs (seeded when payload has "seed")."""
    p = req.payload
    fn = req.resolve_own(p["name"])
    if "seed" in p:
        _torch().manual_seed(p["seed"])
    return {"result": fn(*req.decode(p.get("args", [])), **req.decode(p.get("kwargs", {})))}
