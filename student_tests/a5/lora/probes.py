"""Kernel-side probes for assignment 5, option LoRA (appendix E).

Called as "a5_lora.<name>". The LoRA components under test are always the student's (found with
`req.resolve_own`); the models they adapt may be built from the grader's reference package (a
tiny GPTModel with a classification head and the grader's weights) or from small nested test
modules defined here. The notebook's global `model` and `optimizer` are inspected, never changed.
"""

MAX_NAMES = 20


# ---------------------------------------------------------------- helpers

def _named(req, torch, name):
    """Build the student's `name`(**init) under manual_seed(seed); init values may hold an nn.Linear spec."""
    p = req.payload
    cls = req.resolve_own(name)
    torch.manual_seed(p.get("seed", 0))
    return cls(**req.decode(p.get("init", {})))


def _linear(req, torch):
    """nn.Linear(in_dim, out_dim, bias) with the sent weight (and bias), float32."""
    p = req.payload
    linear = torch.nn.Linear(p["in_dim"], p["out_dim"], bias=p["bias"])
    with torch.no_grad():
        linear.weight.copy_(req.decode(p["weight"]))
        if p["bias"]:
            linear.bias.copy_(req.decode(p["linear_bias"]))
    return linear


def _load(module, state, torch):
    missing, unexpected = module.load_state_dict(state, strict=False)
    buffers = {name for name, _ in module.named_buffers()}
    missing = [m for m in missing if m not in buffers]
    if missing or unexpected:
        raise ValueError(f"the weights do not fit: missing keys {missing}, unexpected keys {unexpected}")


def _parameters(module):
    return [{"name": n, "shape": list(t.shape), "requires_grad": bool(t.requires_grad)}
            for n, t in module.named_parameters()]


def _reference_classifier(req, torch):
    """A reference GPTModel(cfg) with an nn.Linear(emb_dim, num_classes) head and the sent weights (CPU)."""
    from reference.ch04 import GPTModel

    p = req.payload
    model = GPTModel(dict(p["cfg"]))
    model.out_head = torch.nn.Linear(p["cfg"]["emb_dim"], p["num_classes"])
    if p.get("state_dict") is not None:
        model.load_state_dict(req.decode(p["state_dict"]))
    return model


def _nested_model(torch):
    """Linear layers at depths 1 to 3, inside a custom module, a Sequential and a ModuleList, next to other layers."""
    nn = torch.nn

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(5, 7)
            self.norm = nn.LayerNorm(7)
            self.deeper = nn.Sequential(nn.ReLU(), nn.Linear(7, 6, bias=False))

        def forward(self, x):
            return self.deeper(self.norm(self.proj(x)))

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(4, 5)
            self.inner = Inner()
            self.blocks = nn.ModuleList([nn.Linear(6, 6) for _ in range(2)])
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            x = self.inner(self.embed(x))
            for block in self.blocks:
                x = torch.relu(block(x))
            return self.head(x)

    return Outer()


def _lora_classes(req):
    """The student's LoRALayer and LinearWithLoRA classes (GRADER_NAMES-aware); None where missing."""
    found = []
    for name in ("LoRALayer", "LinearWithLoRA"):
        try:
            obj = req.resolve(name)[0]
        except Exception:  # noqa: BLE001 - missing or unusable: the caller falls back
            obj = None
        found.append(obj if isinstance(obj, type) else None)
    return found


def _lora_parameter_ids(model, req, torch, base_ids=None):
    """ids of LoRA parameters: not among `base_ids` when given, else inside a LoRALayer (or a wrapper, not its
    Linear)."""
    if base_ids is not None:
        return {id(p) for p in model.parameters() if id(p) not in base_ids}
    layer_cls, wrapper_cls = _lora_classes(req)
    ids = set()
    for module in model.modules():
        if layer_cls is not None and isinstance(module, layer_cls):
            ids |= {id(p) for p in module.parameters()}
        elif layer_cls is None and wrapper_cls is not None and isinstance(module, wrapper_cls):
            linear = {id(p) for m in module.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
            ids |= {id(p) for p in module.parameters() if id(p) not in linear}
    return ids


def _linear_paths(model, torch):
    return {name: module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


def _wrapped(result, originals, torch):
    """Per original Linear path: what sits there now, and whether it wraps the original layer."""
    report = []
    for path, linear in originals.items():
        try:
            now = result.get_submodule(path)
        except AttributeError:
            report.append({"path": path, "type": "(gone)", "wrapped": False})
            continue
        wrapped = now is not linear and any(m is linear for m in now.modules()) and \
            len(list(now.parameters())) > len(list(linear.parameters()))
        report.append({"path": path, "type": type(now).__name__, "wrapped": wrapped})
    return report


def _module_at(model, path):
    """The module `model` reaches by following `path` attribute by attribute (None where it reaches none)."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _count(params, ids=None, trainable=None):
    return sum(p.numel() for p in params if (ids is None or id(p) in ids) and
               (trainable is None or p.requires_grad == trainable))


# ---------------------------------------------------------------- LoRALayer, LinearWithLoRA (E.4)

def probe_lora_layer(req):
    """The student's LoRALayer(**init) as built (seeded): its parameters and its output on payload x."""
    import torch

    layer = _named(req, torch, "LoRALayer")
    x = req.decode(req.payload["x"])
    with torch.no_grad():
        output = layer(x)
    return {"parameters": _parameters(layer), "tensors": {n: t.detach() for n, t in layer.named_parameters()},
            "output": output}


def probe_lora_layer_randomized(req):
    """The student's LoRALayer(**init) with every parameter drawn from N(0, 1), on each of payload xs."""
    import torch

    layer = _named(req, torch, "LoRALayer")
    generator = torch.Generator().manual_seed(req.payload.get("fill_seed", 0))
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
        return {"outputs": [layer(x) for x in req.decode(req.payload["xs"])]}


def probe_wrapper(req):
    """The student's LinearWithLoRA(linear=nn.Linear(...), rank, alpha): its parameters, and outputs on x.

    payload: in_dim, out_dim, bias, weight, linear_bias, rank, alpha, x, state_dict (student names;
    None keeps its own init), seed. `plain` is the Linear layer's own output before wrapping; `reached` names
    the wrapper's own parameters a gradient reaches once they hold random values (_reached).
    """
    import torch

    p = req.payload
    cls = req.resolve_own("LinearWithLoRA")
    linear = _linear(req, torch)
    x = req.decode(p["x"])
    with torch.no_grad():
        plain = linear(x)
    torch.manual_seed(p.get("seed", 0))
    wrapper = cls(linear=linear, rank=p["rank"], alpha=p["alpha"])
    if not isinstance(wrapper, torch.nn.Module):
        raise TypeError(f"LinearWithLoRA(...) built a {type(wrapper).__name__}, not a torch.nn.Module")
    parameters = _parameters(wrapper)
    if p.get("state_dict") is not None:
        _load(wrapper, req.decode(p["state_dict"]), torch)
    with torch.no_grad():
        output = wrapper(x)
    return {"parameters": parameters, "output": output, "plain": plain,
            "holds_linear": any(m is linear for m in wrapper.modules()),
            "reached": _reached(req, wrapper, linear, x, torch)}


def _reached(req, wrapper, linear, x, torch):
    """Names of the wrapper's own parameters (not the wrapped layer's) that a gradient reaches once they all hold
    random values (B no longer zero), on a copy of the wrapper."""
    import copy

    trial = copy.deepcopy(wrapper)
    inner = {id(q) for m in trial.modules() if isinstance(m, torch.nn.Linear) and m.weight.shape == linear.weight.shape
             for q in m.parameters()}
    own = [(n, q) for n, q in trial.named_parameters() if id(q) not in inner]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, q in own:
            q.copy_(torch.randn(q.shape, generator=generator))
    try:
        out = trial(x)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return []
        (out * torch.randn(out.shape, generator=generator)).sum().backward()
    except RuntimeError:
        return []
    with req.guard():  # judged with the grader's torch, whatever the student's code patched
        return [n for n, q in own if q.grad is not None and bool(q.grad.abs().sum() > 0)]


# ---------------------------------------------------------------- replace_linear_with_lora (E.4)

def probe_replace(req):
    """The student's replace_linear_with_lora on a model built here; which Linear layers it wrapped.

    payload: model ("nested", or "gpt" with cfg, num_classes, state_dict), freeze (bool: freeze
    every parameter first, as the book does), rank, alpha, x (input), seed.
    """
    import torch

    p = req.payload
    fn = req.resolve_own("replace_linear_with_lora")
    torch.manual_seed(p.get("seed", 0))
    model = _nested_model(torch) if p["model"] == "nested" else _reference_classifier(req, torch)
    model.eval()
    if p.get("freeze"):
        for param in model.parameters():
            param.requires_grad = False
    originals = _linear_paths(model, torch)
    base_ids = {id(q) for q in model.parameters()}
    x = req.decode(p["x"])
    with torch.no_grad():
        before = model(x)
    torch.manual_seed(p.get("seed", 0))
    returned = fn(model=model, rank=p["rank"], alpha=p["alpha"])
    result = returned if isinstance(returned, torch.nn.Module) else model
    result.eval()
    with torch.no_grad():
        after = result(x)
    params = list(result.parameters())
    lora_ids = _lora_parameter_ids(result, req, torch, base_ids)
    return {"linears": _wrapped(result, originals, torch), "before": before, "after": after,
            "trainable": _count(params, trainable=True), "lora_trainable": _count(params, lora_ids, True),
            "lora_total": _count(params, lora_ids), "returned": type(returned).__name__}


def probe_book_count(req):
    """Trainable parameters of GPT-2 small (reference GPTModel, 2-class head), frozen, then the student's
    replace_linear_with_lora(rank, alpha); built on the meta device (no memory), else on the CPU."""
    import torch

    from reference.ch04 import GPTModel

    p = req.payload
    fn = req.resolve_own("replace_linear_with_lora")

    def count(device):
        with torch.device(device):
            model = GPTModel(dict(p["cfg"]))
            model.out_head = torch.nn.Linear(p["cfg"]["emb_dim"], p["num_classes"])
            for param in model.parameters():
                param.requires_grad = False
            returned = fn(model=model, rank=p["rank"], alpha=p["alpha"])
        result = returned if isinstance(returned, torch.nn.Module) else model
        return _count(list(result.parameters()), trainable=True)

    try:
        return {"count": count("meta"), "device": "meta"}
    except Exception:  # noqa: BLE001 - code that needs real tensors: build it for real
        return {"count": count("cpu"), "device": "cpu"}


# ---------------------------------------------------------------- training only the LoRA parameters (E.4)

def probe_lora_train(req):
    """Freeze a reference classifier, wrap it with the student's replace_linear_with_lora, train a few AdamW steps.

    payload: cfg, num_classes, state_dict, rank, alpha, lr, inputs, targets (a list of batches), device.
    Returns the loss per step (the reference's last-token loss) and which parameters changed.
    """
    import torch

    from reference.ch06 import calc_loss_batch

    p = req.payload
    fn = req.resolve_own("replace_linear_with_lora")
    model = _reference_classifier(req, torch)
    for param in model.parameters():
        param.requires_grad = False
    names = {id(q): n for n, q in model.named_parameters()}
    torch.manual_seed(p.get("seed", 0))
    returned = fn(model=model, rank=p["rank"], alpha=p["alpha"])
    model = (returned if isinstance(returned, torch.nn.Module) else model).to(p["device"]).train()
    named = list(model.named_parameters())
    before = {n: q.detach().clone() for n, q in named}
    trainable = [q for _, q in named if q.requires_grad]
    lora_total = sum(1 for _, q in named if id(q) not in names)
    if not trainable:
        return {"losses": [], "trainable": 0, "lora_tensors": lora_total, "base_changed": [], "lora_changed": 0}
    optimizer = torch.optim.AdamW(trainable, lr=p["lr"], weight_decay=0.01)
    losses = []
    for inputs, targets in zip(req.decode(p["inputs"]), req.decode(p["targets"])):
        optimizer.zero_grad()
        loss = calc_loss_batch(inputs, targets, model, p["device"])
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    base_ids = set(names)
    with req.guard():
        changed = [(n, id(q) in base_ids) for n, q in named if not torch.equal(before[n], q.detach())]
    return {"losses": losses, "trainable": sum(q.numel() for q in trainable), "lora_tensors": lora_total,
            "base_changed": [n for n, is_base in changed if is_base][:MAX_NAMES],
            "lora_changed": sum(1 for _, is_base in changed if not is_base)}


# ---------------------------------------------------------------- the notebook's model (E.4)

def probe_global_model(req):
    """The notebook's global `model`: its LoRA and base parameters (total, trainable), wrapped and plain
    Linear layers, its output head's path (model_parts.py), and the trainable parameters the global
    `optimizer` does not hold."""
    import torch

    model, record = req.resolve("model")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"the global `model` is a {type(model).__name__}, not a torch.nn.Module")
    layer_cls, wrapper_cls = _lora_classes(req)
    lora_ids = _lora_parameter_ids(model, req, torch)
    named = list(model.named_parameters())
    params = [q for _, q in named]
    # a wrapper counts where the model reaches it by its path (setattr(model, "a.b.c", w) registers one under a
    # dotted name that forward never reaches: the Linear at a.b.c stays in place)
    placed = {n: m for n, m in model.named_modules()
              if wrapper_cls is not None and isinstance(m, wrapper_cls) and _module_at(model, n) is m}
    wrappers = list(placed)
    inside = {id(q) for m in placed.values() for q in m.modules()}
    plain = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and id(m) not in inside]
    optimizer = req.global_value("optimizer")
    missing = None
    if isinstance(optimizer, torch.optim.Optimizer):
        held = {id(q) for group in optimizer.param_groups for q in group["params"]}
        missing = [n for n, q in named if q.requires_grad and id(q) not in held]
    import runpy
    from pathlib import Path

    parts = runpy.run_path(str(Path(globals()["KERNEL_HELPERS"]) / "model_parts.py"))
    head_path, _ = parts["head"](model, torch)
    return {"used_name": record["used_name"], "found_classes": [c is not None for c in (layer_cls, wrapper_cls)],
            "head": head_path,
            "lora_total": _count(params, lora_ids), "lora_trainable": _count(params, lora_ids, True),
            "base_total": sum(q.numel() for q in params if id(q) not in lora_ids),
            "base_trainable": [n for n, q in named if q.requires_grad and id(q) not in lora_ids][:MAX_NAMES],
            "base_trainable_count": sum(q.numel() for q in params if q.requires_grad and id(q) not in lora_ids),
            "wrapped": len(wrappers), "plain_linears": plain[:MAX_NAMES], "plain_count": len(plain),
            "optimizer_missing": None if missing is None else missing[:MAX_NAMES],
            "optimizer_missing_count": None if missing is None else len(missing)}
