"""The grader's torch as it was before the notebook ran, and the means to put it back (kernel side).

kernel_side.preload() builds a `Baseline` right after the kernel starts, before the notebook's
first cell: it imports torch and keeps the namespaces of the modules and classes the grader's
probes rely on (torch's seeding, thread and dtype functions, comparisons, tensor methods,
`random`, numpy's seeding, builtins) and torch's global settings. `restore()`, called before
every probe and again before its results are written, undoes what the notebook (or the code a
probe called) replaced, so a notebook that stubs `torch.manual_seed`, patches `torch.Tensor.__eq__`
or sets 64 threads changes nothing the grader computes. Loaded by path; it has no probes.
"""

import contextlib
import sys

MODULES = ("builtins", "json", "math", "random", "torch", "torch.random", "torch.nn.functional", "torch.testing",
           "torch.nn.init", "torch.linalg", "numpy", "numpy.random", "safetensors.torch")
CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"), ("torch.nn", "Parameter"))
SKIP = {"builtins": {"input"}}  # ipykernel swaps builtins.input for every request
LIBRARIES = ("torch", "numpy", "IPython", "ipykernel")  # their own wrappers (torch._dynamo's) are not the notebook's
MODULE_ATTRIBUTES = {"__doc__", "__name__", "__file__", "__spec__", "__loader__", "__package__", "__path__",
                     "__cached__", "__builtins__", "__dict__", "__weakref__", "__module__", "__qualname__"}


def _guarded(name):
    """Public names and dunders (`__eq__`, `__import__`), not private ones a library may rebind."""
    if name in MODULE_ATTRIBUTES:
        return False
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__") and len(name) > 4)


def _from_notebook(value):
    """Whether a replacement is worth telling the student about (torch's own wrappers are not)."""
    module = getattr(value, "__module__", None) or ""
    return not callable(value) or module.split(".")[0] not in LIBRARIES


def _settings(torch):
    """{setting: (getter, setter)} of torch's global settings a probe depends on, as torch has them now."""
    if torch is None:
        return {}
    found = {"thread count": (torch.get_num_threads, torch.set_num_threads),
             "default dtype": (torch.get_default_dtype, torch.set_default_dtype),
             "grad mode": (torch.is_grad_enabled, torch._C._set_grad_enabled),
             "deterministic algorithms": (torch.are_deterministic_algorithms_enabled,
                                          torch.use_deterministic_algorithms)}
    if hasattr(torch, "get_default_device"):  # the grader's is none set: set_default_device(None) clears it
        found["default device"] = (torch.get_default_device, lambda _: torch.set_default_device(None))
    return found


class Baseline:
    """Namespaces and settings captured before the notebook ran; `restore()` puts them back."""

    def __init__(self):
        self.modules = {name: sys.modules[name] for name in MODULES if name in sys.modules}
        self.names = {name: {k: v for k, v in vars(m).items() if _guarded(k) and k not in SKIP.get(name, ())}
                      for name, m in self.modules.items()}
        self.classes = {}
        for module, name in CLASSES:
            cls = getattr(sys.modules.get(module), name, None)
            if isinstance(cls, type):
                self.classes[f"{module}.{name}"] = (cls, {k: v for k, v in vars(cls).items() if _guarded(k)})
        self.torch = self.modules.get("torch")
        self.access = _settings(self.torch)
        self.settings = {name: get() for name, (get, _) in self.access.items()}
        native = getattr(self.torch, "_C", None)
        self._tensor_base = getattr(native, "TensorBase", None)
        self._no_subclass = getattr(native, "DisableTorchFunctionSubclass", contextlib.nullcontext)

    def restore(self, settings=True):
        """Put back every guarded name (and setting) the notebook changed; what it had changed, for the report."""
        changed = []
        for name, module in self.modules.items():
            changed += self._restore_module(name, module, self.names[name])
        for path, (cls, saved) in self.classes.items():
            changed += self._restore_class(path, cls, saved)
        return changed + (self._restore_settings() if settings else [])

    @contextlib.contextmanager
    def guard(self):
        """For grader code running after the student's inside one probe (a verdict, the encoding of results):
        the guarded names restored, and tensor subclasses' __torch_function__ switched off."""
        self.restore(settings=False)
        with self._no_subclass():
            yield

    def plain(self, tensor):
        """A detached, contiguous CPU copy of a tensor as a plain torch.Tensor, made by torch's C methods (a
        subclass's own `detach` or `clone` never runs)."""
        base = self._tensor_base
        with self._no_subclass():
            return base.clone(base.contiguous(base.cpu(base.detach(tensor))))

    def _restore_module(self, name, module, saved):
        changed = []
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            changed.append(f"sys.modules[{name!r}]")
        current = vars(module)
        for key, value in saved.items():
            if current.get(key, saved) is not value:
                new = current.get(key)
                setattr(module, key, value)
                if _from_notebook(new):
                    changed.append(f"{name}.{key}")
        return changed

    def _restore_class(self, path, cls, saved):
        changed = []
        for key in list(vars(cls)):
            if key not in saved and _guarded(key) and any(key in vars(base) for base in cls.__mro__[1:]):
                delattr(cls, key)  # a new attribute hiding a base class's method (torch.Tensor.clone)
                changed.append(f"{path}.{key}")
        for key, value in saved.items():
            if vars(cls).get(key, saved) is not value:
                setattr(cls, key, value)
                changed.append(f"{path}.{key}")
        return changed

    def _restore_settings(self):
        changed = []
        for name, (get, set_) in self.access.items():
            value = get()
            if value != self.settings[name]:
                set_(self.settings[name])
                changed.append(f"the {name} (set to {value}; the grader's is {self.settings[name]})")
        return changed
