"""A stand-in for a pretrained `model` the grading machine could not load (no GPT-2 weights offline).

Called as "standin.model". The a5 notebooks build their `model` from downloaded GPT-2 weights; offline
that cell fails, and every later statement that adapts the model (a new head, freezing, LoRA layers,
the optimizer) fails with it. This probe rebuilds the model small and replays those statements:

1. find the statement that creates the model (`model = GPTModel(BASE_CONFIG)`, the first assignment
   to the name the notebook's model has), in a cell that failed;
2. build it with the notebook's own constructor (imported again if the failing cell never got to the
   import) and a small copy of its config (emb_dim 16, 2 layers, 2 heads; vocabulary and context as the
   notebook has them), the config's name bound to that copy while replaying;
3. replay, in order, the later top-level statements that adapt the model: those that mention the model
   or the optimizer and call nothing heavy (no training, evaluation, generation, plotting, saving or
   loading), each on its own, an error ending only that statement;
4. publish the stand-in `model` (and `optimizer`, and names the replay defined that the notebook lacks)
   in the notebook's namespace, where the checks look.

Nothing is done when the notebook has a working model. The answer says what was rebuilt and replayed.
"""

import ast
import re

SMALL = {"emb_dim": 16, "n_layers": 2, "n_heads": 2, "drop_rate": 0.0}
HEAVY = re.compile(r"train|fit|evaluat|calc_|generat|classify|plot|accuracy|loss|save|download|load|sleep|input|"
                   r"extract|tqdm|show|savefig|figure|summary|time|test|predict|sample|respond|query", re.IGNORECASE)
MODEL_NAMES = ("model",)
KEEP = ("model", "optimizer")


def _called_names(node):
    names = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            names.append(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _mentions(node, names):
    return any(isinstance(sub, ast.Name) and sub.id in names for sub in ast.walk(node))


def _adapts_model(node, model_name):
    """A statement that changes the model's structure or trainability, or builds its optimizer, cheaply."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
                         ast.With, ast.While, ast.Try, ast.Return)):
        return False
    if any(HEAVY.search(name) for name in _called_names(node)):
        return False
    if isinstance(node, ast.For) and not _mentions(node.iter, {model_name}):
        return False  # a loop over data, not over the model's parameters
    if _mentions(node, {model_name, "optimizer"}):
        return True
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets) and \
        all(isinstance(sub, (ast.Constant, ast.Load, ast.Name, ast.UnaryOp, ast.USub, ast.Tuple, ast.List))
            for sub in ast.walk(node.value))


def _statements(cells):
    """(cell index, statement, source) of every top-level statement of the code cells that parse."""
    found = []
    for index, source in cells:
        try:
            tree = ast.parse(_without_magics(source))
        except SyntaxError:
            continue
        for node in tree.body:
            found.append((index, node, ast.get_source_segment(_without_magics(source), node) or ""))
    return found


def _without_magics(source):
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _creation(statements, model_name):
    for position, (index, node, source) in enumerate(statements):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == model_name for t in node.targets) \
                and isinstance(node.value, ast.Call):
            return position, index, node, source
    return None


def _imports_before(statements, cell_index, position):
    """Import statements of the creation's cell (before it): the failing cell may never have reached them."""
    return [(node, source) for i, (index, node, source) in enumerate(statements)
            if index == cell_index and i < position and isinstance(node, (ast.Import, ast.ImportFrom))]


def _run(source, namespace):
    try:
        exec(compile(source, "<replayed statement>", "exec"), namespace)  # noqa: S102 - the student's own code
        return None
    except BaseException as err:  # noqa: BLE001 - a replayed statement's failure is reported, not raised
        return f"{type(err).__name__}: {str(err)[:200]}"


def probe_model(req):
    """payload: cells [[index, source, status], ...] (code cells in order). See the module docstring."""
    import torch

    namespace = req.namespace
    existing = req.global_value("model")
    if isinstance(existing, torch.nn.Module):
        return {"status": "own"}
    model_name = req.mapped_name("model") or "model"
    statements = _statements([(index, source) for index, source, _ in req.payload["cells"]])
    found = _creation(statements, model_name)
    if found is None:
        return {"status": "no_creation", "why": f"the notebook never assigns `{model_name} = ...(...)`"}
    position, cell_index, node, source = found
    status = {index: s for index, _, s in req.payload["cells"]}
    if status.get(cell_index) == "ok":
        return {"status": "not_failed", "why": f"cell {cell_index + 1} creates `{model_name}` without an error"}
    space = dict(namespace)
    imports = [_run(src, space) for _, src in _imports_before(statements, cell_index, position)]
    call = node.value
    try:
        constructor = eval(compile(ast.Expression(call.func), "<constructor>", "eval"), space)  # noqa: S307
    except Exception as err:  # noqa: BLE001 - e.g. the class was never imported
        return {"status": "failed", "why": f"cannot find the constructor `{ast.unparse(call.func)}`: {err}",
                "creation": source, "cell": cell_index, "imports": imports}
    config_arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "cfg"), None)
    config = space.get(config_arg.id) if isinstance(config_arg, ast.Name) else None
    if not isinstance(config, dict) or not {"emb_dim", "n_layers", "n_heads"} <= set(config):
        return {"status": "failed", "why": f"`{source}` is not built from a config dict with emb_dim, n_layers, "
                                           f"n_heads that the grader could shrink", "creation": source,
                "cell": cell_index}
    small = {**config, **SMALL}
    space[config_arg.id] = small
    torch.manual_seed(0)
    try:
        space[model_name] = constructor(small)
    except Exception as err:  # noqa: BLE001 - the student's constructor
        return {"status": "failed", "why": f"`{ast.unparse(call.func)}(small config)` raised "
                                           f"{type(err).__name__}: {err}", "creation": source, "cell": cell_index}
    replayed = []
    for index, stmt, text in statements[position + 1:]:
        if _adapts_model(stmt, model_name):
            error = _run(text, space)
            replayed.append({"cell": index, "source": text[:300], "error": error})
    published = [name for name in (model_name, "optimizer") if name in space and name not in namespace]
    published += [n for n, v in space.items() if n not in namespace and not n.startswith("_") and n not in published
                  and isinstance(v, (int, float, str, bool))]
    for name in published:
        namespace[name] = space[name]
    return {"status": "stand-in", "creation": source, "cell": cell_index, "config": _plain(small),
            "replayed": replayed, "published": published}


def _plain(cfg):
    return {str(k): v for k, v in cfg.items() if v is None or isinstance(v, (bool, int, float, str))}


def probe_summary(req):
    """The notebook's `model` in brief: its head's weight shape, trainable parameter names, and how many
    parameters the `optimizer` holds (for reports and tests)."""
    import torch

    model, optimizer = req.global_value("model"), req.global_value("optimizer")
    if not isinstance(model, torch.nn.Module):
        return {"model": None}
    head = next((m for m in reversed(list(model.modules())) if isinstance(m, torch.nn.Linear)), None)
    held = {id(p) for g in getattr(optimizer, "param_groups", []) for p in g["params"]}
    return {"model": type(model).__name__, "head": list(head.weight.shape) if head is not None else None,
            "trainable": [n for n, p in model.named_parameters() if p.requires_grad],
            "parameters": sum(1 for p in model.parameters() if p.requires_grad),
            "optimizer_params": sum(1 for p in model.parameters() if p.requires_grad and id(p) in held)}
