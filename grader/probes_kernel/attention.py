"""Kernel-side probes for assignment 2 (chapter 3, attention), called as "attention.<name>".

`probe_forward_runs` builds the student's module several times in one kernel round trip
(each run: constructor keywords, seed, optional weights, train/eval, inputs) and returns the
outputs, and on request the results of every softmax the forward pass called (the
attention weights), observed with a TorchFunctionMode so `torch.softmax`, `F.softmax`,
`Tensor.softmax` and `nn.Softmax` are all seen. Loaded by path by kernel_side.py; imports
torch only when called.
"""

SOFTMAX_NAMES = ("softmax",)


def _capture_mode(torch, captured):
    """A TorchFunctionMode that records the output of every softmax call (at most 16)."""

    class SoftmaxRecorder(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            if getattr(func, "__name__", "") in SOFTMAX_NAMES and isinstance(result, torch.Tensor) \
                    and len(captured) < 16:
                captured.append(result.detach().clone())
            return result

    return SoftmaxRecorder()


def _build(req, torch, name, run):
    cls = req.resolve_own(name)
    torch.manual_seed(run.get("seed", 0))
    module = req.call(cls, req.decode(run.get("init", {})))
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{name}(...) did not build a torch.nn.Module but a {type(module).__name__}")
    state = run.get("state_dict")
    if state is not None:
        missing, unexpected = module.load_state_dict(req.decode(state), strict=False)
        buffers = {n for n, _ in module.named_buffers()}
        missing = [n for n in missing if n not in buffers]
        if missing or unexpected:
            raise ValueError(f"the weights do not fit: missing keys {missing}, unexpected keys {list(unexpected)}")
    module.train(not run.get("eval", True))
    return module


def probe_forward_runs(req):
    """Each run of payload["runs"] builds payload["name"] afresh and calls it on its inputs."""
    import torch

    outputs, captures = [], []
    for run in req.payload["runs"]:
        module = _build(req, torch, req.payload["name"], run)
        torch.manual_seed(run.get("seed", 0))
        captured = []
        with torch.no_grad():
            x = req.decode(run["inputs"])
            if run.get("capture"):
                with _capture_mode(torch, captured):
                    output = module(*x)
            else:
                output = module(*x)
        outputs.append(output)
        captures.append(captured)
    return {"outputs": outputs, "captured": captures}


def probe_global_tensors(req):
    """The notebook's tensors under payload["names"] (GRADER_NAMES applies); None for a missing or non-tensor name."""
    import torch

    found = {}
    for name in req.payload["names"]:
        try:
            value, _ = req.resolve(name)
        except Exception as err:  # kernel_side's ProbeError of kind "missing": the name is not defined
            if getattr(err, "kind", None) != "missing":
                raise
            value = None
        found[name] = value.detach().clone() if isinstance(value, torch.Tensor) else None
    return {"tensors": found}


def probe_small_matrices(req):
    """The notebook's own 2-D float tensors (at most payload["limit"], each at most 4096 elements), by name:
    candidates for values the book computes inline (section 3.3's context vectors)."""
    import torch

    found = {}
    for name, value in sorted(req.namespace.copy().items()):
        if len(found) >= req.payload.get("limit", 64):
            break
        if not name.startswith("_") and isinstance(value, torch.Tensor) and value.dim() == 2 \
                and value.is_floating_point() and 0 < value.numel() <= 4096:
            found[name] = value.detach().float().clone()
    return {"tensors": found}
