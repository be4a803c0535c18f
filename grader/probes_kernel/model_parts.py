"""Where a GPT's parts are: its blocks, the parts before and after them, its output head (kernel side).

Loaded by path (with runpy) by the probes of the fine-tuning assignments; it has no probes of its own.
A model's blocks are its largest repeated container at any depth (the binder's idea, grader/bind.py:
children of one type with the same parameter shapes), so the book's `trf_blocks`, nanoGPT's
`transformer.h` and a student's `stack` are all found; the parts are the children of the model and of
each container on the way to the blocks, in registration order; the head is the last part after the
blocks named like a head (grader/aliases.toml's out_head names) or, failing that, the last one that is a
Linear layer or wraps one.
"""


def head_names():
    """Names a model's output head goes by: grader/aliases.toml's out_head names (read by path; the probes import
    nothing of the grader's), with the classification heads students add."""
    import tomllib
    from pathlib import Path

    names = {"out_head", "lm_head", "head", "classifier", "classification_head", "cls_head", "score", "fc_out"}
    path = Path(__file__).resolve().parent.parent / "aliases.toml"
    try:
        names |= {n.lower() for n in tomllib.loads(path.read_text(encoding="utf-8"))["units"]["out_head"]}
    except (OSError, KeyError, ValueError):
        pass
    return names


def repeated(model, torch):
    """(path, container) of every ModuleList/Sequential whose children are modules of one type with the same
    parameter shapes (the binder's repeated containers, grader/bind.py): blocks, heads."""
    found = []
    for path, module in model.named_modules():
        if not isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)) or len(module) == 0:
            continue
        kids = list(module.children())
        shapes = [sorted(tuple(q.shape) for q in kid.parameters()) for kid in kids]
        if len({type(kid) for kid in kids}) == 1 and shapes[0] and all(s == shapes[0] for s in shapes):
            found.append((path, module))
    return found


def blocks(model, torch):
    """(path, module) of the transformer blocks: `trf_blocks`, else the repeated container that holds the most
    parameters, at any depth (nanoGPT's `transformer.h`); (None, None) when there is none."""
    containers = (torch.nn.ModuleList, torch.nn.Sequential)
    if isinstance(getattr(model, "trf_blocks", None), containers):
        return "trf_blocks", model.trf_blocks
    found = repeated(model, torch)
    size = lambda module: sum(q.numel() for q in module.parameters())
    return max(found, key=lambda pm: (size(pm[1]), -pm[0].count(".")), default=(None, None))


def spine(model, blocks_path):
    """(path, module) of the model's parts in registration order (the forward order of every GPT we know): the
    children of the model and of each container on the way to the blocks, the blocks as (path, None). Parts
    without parameters (dropout) are left out. Without blocks: the model's children."""
    parts = []

    def walk(module, prefix):
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if path == blocks_path:
                parts.append((path, None))
            elif blocks_path and blocks_path.startswith(f"{path}."):
                walk(child, f"{path}.")
            elif any(True for _ in child.parameters()):
                parts.append((path, child))

    walk(model, "")
    return parts


def wraps_linear(module, torch):
    return isinstance(module, torch.nn.Linear) or any(isinstance(m, torch.nn.Linear) for m in module.modules())


def head(model, torch, parts=None):
    """(path, module) of the output head among the parts after the blocks: the last one named like a head
    (out_head, lm_head, head, classifier, ...), else the last that is a Linear layer or wraps one."""
    if parts is None:
        parts = spine(model, blocks(model, torch)[0])
    after = [(path, m) for path, m in parts[next((i + 1 for i, (_, m) in enumerate(parts) if m is None), 0):]
             if m is not None]
    names = head_names()
    named = [(path, m) for path, m in after if path.rpartition(".")[2].lower() in names and wraps_linear(m, torch)]
    linear = [(path, m) for path, m in after if wraps_linear(m, torch)]
    return (named or linear or [(None, None)])[-1]
