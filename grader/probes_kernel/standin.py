"""A stand-in for a pretrained `model` the grading machine could not load (no GPT-2 weights offline).

Called as "standin.model". The fine-tuning notebooks build their `model` from downloaded GPT-2 weights; offline
that cell fails, and every later statement that adapts the model (a new head, freezing, LoRA layers,
the optimizer) fails with it. This probe rebuilds the model small and replays those statements:

1. find the statement that creates the model (`model = GPTModel(BASE_CONFIG)`, the first assignment
   to the name the notebook's model has), in a cell that failed;
2. build it with the notebook's own constructor (the cheap statements of that cell before it, imports
   and config, run again: the failing cell may never have got to them) and a small copy of its config
   (emb_dim 16, 2 layers, 2 heads, no dropout; vocabulary and context as the notebook has them; the
   width and heads kept when a statement that adapts the model writes the width as a number,
   `nn.Linear(768, 2)`), the config's name bound to that copy while replaying. A config is
   a dict or an object (a dataclass such as nanoGPT's GPTConfig, a namespace) with the book's keys
   (emb_dim, n_layers, n_heads) or GPT-2/nanoGPT/Hugging Face ones (n_embd, n_layer, n_head, d_model,
   hidden_size, num_hidden_layers, ...), passed as the first argument, as cfg=/config=, or as keyword
   arguments of the constructor itself; chained calls (`GPT(cfg).to(device)`) are applied after;
3. replay, in order, the later top-level statements that adapt the model: those that mention the model
   or the optimizer and call nothing heavy (no training, evaluation, generation, plotting, saving or
   loading), each on its own, an error ending only that statement;
4. publish the stand-in `model` (and `optimizer`, and names the replay defined that the notebook lacks)
   in the notebook's namespace, where the checks look.

Nothing is done when the notebook has a working model. The answer says what was rebuilt and replayed.
"""

import ast
import copy
import dataclasses
import re

SMALL = {"emb_dim": 16, "n_layers": 2, "n_heads": 2, "drop_rate": 0.0}
# The spellings of each size a config may use: the book's, GPT-2/nanoGPT's, Hugging Face's, generic ones.
SIZE_KEYS = {
    "emb_dim": ("emb_dim", "n_embd", "n_embed", "d_model", "hidden_size", "embed_dim", "emb_size", "dim",
                "embedding_dim", "d_emb"),
    "n_layers": ("n_layers", "n_layer", "num_layers", "num_hidden_layers", "n_blocks", "num_blocks", "depth"),
    "n_heads": ("n_heads", "n_head", "num_heads", "num_attention_heads"),
}
FF_KEYS = ("n_inner", "d_ff", "ff_dim", "ffn_dim", "hidden_dim", "intermediate_size", "mlp_dim", "d_hidden")
DROP_KEYS = ("drop_rate", "dropout", "dropout_rate", "p_drop", "attn_pdrop", "resid_pdrop", "embd_pdrop",
             "drop", "attn_dropout", "resid_dropout")
CONFIG_KEYWORDS = ("cfg", "config", "conf", "model_config", "gpt_config", "settings", "args")
CHAINED = ("to", "eval", "train", "cuda", "cpu", "float", "double", "half", "bfloat16", "requires_grad_")
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


def _setup_before(statements, cell_index, position):
    """The statements of the creation's cell before it that call nothing heavy (imports, the config, the class):
    the failing cell may never have reached them (the book's appendix E imports gpt_download, which fails
    offline, before it defines BASE_CONFIG). Downloads and loads are left out."""
    return [(node, source) for i, (index, node, source) in enumerate(statements)
            if index == cell_index and i < position and not isinstance(node, ast.While)
            and not any(HEAVY.search(name) for name in _called_names(node))]


def _run(source, namespace):
    try:
        exec(compile(source, "<replayed statement>", "exec"), namespace)  # noqa: S102 - the student's own code
        return None
    except BaseException as err:  # noqa: BLE001 - a replayed statement's failure is reported, not raised
        return f"{type(err).__name__}: {str(err)[:200]}"


def _keys(config):
    """The config's keys or attributes (a dict, a dataclass, a namespace or another plain object)."""
    if isinstance(config, dict):
        return set(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name for f in dataclasses.fields(config)}
    return set(getattr(config, "__dict__", {}))


def _small_values(keys, config_get, literals=frozenset()):
    """{the config's key: its small value} for every size, feed-forward and dropout key it has; None when it lacks
    a width, a depth or a head count. A width the notebook writes as a number where it adapts the model
    (`nn.Linear(in_features=768, ...)`) is kept, with the head count and feed-forward size: only the depth shrinks."""
    small = {}
    widths = {config_get(k) for k in SIZE_KEYS["emb_dim"] if k in keys}
    keep_width = bool(widths & set(literals))
    for size, spellings in SIZE_KEYS.items():
        found = [k for k in spellings if k in keys and isinstance(config_get(k), int)]
        if not found:
            return None
        if not (keep_width and size in ("emb_dim", "n_heads")):
            small.update({k: SMALL[size] for k in found})
    if not keep_width:
        small.update({k: 4 * SMALL["emb_dim"] for k in FF_KEYS if k in keys and isinstance(config_get(k), int)})
    small.update({k: 0.0 for k in DROP_KEYS if k in keys and isinstance(config_get(k), float)})
    return small


def _shrunk(config, literals=frozenset()):
    """A small copy of a config (dict or object), or None when it is not one the grader can shrink."""
    if isinstance(config, dict):
        small = _small_values(set(config), config.get, literals)
        return None if small is None else type(config)({**config, **small}) if type(config) is not dict \
            else {**config, **small}
    keys = _keys(config)
    small = _small_values(keys, lambda k: getattr(config, k, None), literals) if keys else None
    if small is None:
        return None
    if dataclasses.is_dataclass(config):
        try:
            return dataclasses.replace(config, **small)
        except (TypeError, ValueError):
            pass
    copied = copy.copy(config)
    for key, value in small.items():
        setattr(copied, key, value)
    return copied


def _unchained(call):
    """(the constructor call, the chained method calls after it): `GPT(cfg).to(device).eval()`."""
    chain = []
    while isinstance(call.func, ast.Attribute) and call.func.attr in CHAINED and isinstance(call.func.value, ast.Call):
        chain.insert(0, call)
        call = call.func.value
    return call, chain


def _config_argument(call):
    """The AST node of the config the constructor is given (first argument, or cfg=/config=...), or None."""
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in CONFIG_KEYWORDS), None)


def _eval(node, space):
    """An expression of the notebook's, evaluated in the replay's namespace."""
    return eval(compile(ast.Expression(node), "<replayed expression>", "eval"), space)


def _literals(statements):
    """The integer constants written in statements (a width typed as a number: `nn.Linear(768, 2)`)."""
    return frozenset(sub.value for node in statements for sub in ast.walk(node)
                     if isinstance(sub, ast.Constant) and type(sub.value) is int)


def _build(call, space, torch, literals=frozenset()):
    """(model, small config, config name or None) built with a shrunk config; raises ValueError when the call
    has no config the grader can shrink."""
    constructor = _eval(call.func, space)
    node = _config_argument(call)
    rest = {k.arg: _eval(k.value, space) for k in call.keywords if k.arg is not None and k.value is not node}
    if node is not None:
        config = _eval(node, space)
        small = _shrunk(config, literals)
        if small is None:
            raise ValueError(f"`{ast.unparse(node)}` is not a config (dict or object) with a width, a depth and a "
                             f"head count (emb_dim/n_embd/d_model, n_layers/n_layer, n_heads/n_head) the grader "
                             f"could shrink")
        name = node.id if isinstance(node, ast.Name) else None
        if name is not None:
            space[name] = small
        torch.manual_seed(0)
        if call.args:
            return constructor(small, *[_eval(a, space) for a in call.args[1:]], **rest), small, name
        keyword = next(k.arg for k in call.keywords if k.value is node)
        return constructor(**{keyword: small}, **rest), small, name
    small = _shrunk(rest, literals)
    if small is None:
        raise ValueError("the constructor is given neither a config nor the model's sizes as keywords")
    torch.manual_seed(0)
    return constructor(**small), small, None


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
    setup = [_run(src, space) for _, src in _setup_before(statements, cell_index, position)]
    call, chain = _unchained(node.value)
    adapting = [stmt for _, stmt, _ in statements[position + 1:] if _adapts_model(stmt, model_name)]
    try:
        model, small, config_name = _build(call, space, torch, _literals(adapting))
    except ValueError as err:
        return {"status": "failed", "why": f"`{source[:200]}`: {err}", "creation": source, "cell": cell_index}
    except Exception as err:  # noqa: BLE001 - the class was never imported, or the student's constructor raised
        return {"status": "failed", "why": f"rebuilding `{ast.unparse(call)[:200]}` small raised "
                                           f"{type(err).__name__}: {str(err)[:200]}", "creation": source,
                "cell": cell_index, "setup_errors": [e for e in setup if e]}
    space[model_name] = model
    replayed = []
    for link in chain:  # GPT(cfg).to(device).eval(): the chained calls, on the small model
        try:
            result = getattr(space[model_name], link.func.attr)(
                *[_eval(a, space) for a in link.args], **{k.arg: _eval(k.value, space) for k in link.keywords if k.arg})
            space[model_name] = result if isinstance(result, torch.nn.Module) else space[model_name]
            error = None
        except Exception as err:  # noqa: BLE001 - a chained call's failure is reported, like a replayed statement's
            error = f"{type(err).__name__}: {str(err)[:200]}"
        replayed.append({"cell": cell_index, "source": f".{link.func.attr}(...)", "error": error})
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
            "config_name": config_name, "replayed": replayed, "published": published}


def _plain(cfg):
    """The config's plain values under the book's size names too (emb_dim, n_layers, n_heads), for the report."""
    items = cfg.items() if isinstance(cfg, dict) else ((k, getattr(cfg, k, None)) for k in sorted(_keys(cfg)))
    plain = {str(k): v for k, v in items if v is None or isinstance(v, (bool, int, float, str))}
    for size, spellings in SIZE_KEYS.items():
        value = next((plain[k] for k in spellings if k in plain), None)
        if value is not None:
            plain.setdefault(size, value)
    return plain


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
