"""Kernel-side probes for assignment 3 (chapter 4): generation with the student's own GPTModel.

Called as "a3.<name>". They run next to the student's code, import only dataclasses and torch (inside the
functions), and use the student's classes and functions found through `req.resolve_own`.
"""

GENERATORS = ("generate_text_simple", "generate_text_simple_cached")
CONFIG_KEYS = ("emb_dim", "n_layers", "n_heads")


def _build_model(req, torch):
    """The student's GPTModel(cfg=...) under torch.manual_seed(seed), with the sent weights if any, in eval mode."""
    p = req.payload
    cls = req.resolve_own("GPTModel")
    torch.manual_seed(p.get("seed", 0))
    model = cls(cfg=req.book_config(p["cfg"]))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"GPTModel(cfg) built a {type(model).__name__}, not a torch.nn.Module")
    if p.get("state_dict") is not None:
        state = req.decode(p["state_dict"])
        missing, unexpected = model.load_state_dict(state, strict=False)
        buffers = {name for name, _ in model.named_buffers()}
        if [m for m in missing if m not in buffers] or unexpected:
            raise ValueError(f"the weights do not fit GPTModel: missing {missing}, unexpected {unexpected}")
    return model.eval()


def _greedy(model, idx, max_new_tokens, context_size, *, crop="last", position=-1):
    """The book's generate_text_simple loop (section 4.7); `crop`/`position` give the usual mistakes."""
    import torch

    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:] if crop == "last" else idx[:, :context_size]
        with torch.no_grad():
            logits = model(idx_cond)[:, position, :]
        idx_next = torch.argmax(torch.softmax(logits, dim=-1), dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def probe_greedy(req):
    """Greedy ids from the student's GPTModel with the book's loop (not the student's function).

    payload: cfg, seed, state_dict (optional, tensors by the student's names), idx (tensor),
    max_new_tokens, context_size.
    """
    import torch

    p = req.payload
    model = _build_model(req, torch)
    idx = req.decode(p["idx"])
    return {"ids": _greedy(model, idx, p["max_new_tokens"], p["context_size"])}


def probe_generate(req):
    """The student's generation function on their own GPTModel, next to the book's loop on the same model.

    payload: fn (generate_text_simple or generate_text_simple_cached), cfg, seed, state_dict
    (optional), idx (tensor), max_new_tokens, context_size (None: not passed), mistakes (default true),
    first_idx (optional: another prompt generated from first, on the same model).
    Returns ids (theirs), book (the book's loop), and unless mistakes is false the ids two common
    mistakes would give: first_tokens (cropping to the first context_size tokens), first_position
    (logits[:, 0, :]); with first_idx also first_ids (theirs on it) and first_book.
    """
    import torch

    p = req.payload
    if p["fn"] not in GENERATORS:
        raise ValueError(f"unknown generation function {p['fn']!r}")
    generate = req.resolve_own(p["fn"])
    model = _build_model(req, torch)
    idx, n, size = req.decode(p["idx"]), p["max_new_tokens"], p["context_size"]
    context = size or p["cfg"]["context_length"]
    expected = {"book": _greedy(model, idx, n, context)}
    if p.get("mistakes", True):
        expected["first_tokens"] = _greedy(model, idx, n, context, crop="first")
        expected["first_position"] = _greedy(model, idx, n, context, position=0)
    if p.get("first_idx") is not None:  # an earlier generation on the same model (state across calls)
        first = req.decode(p["first_idx"])
        expected["first_book"] = _greedy(model, first, n, context)
        expected["first_ids"] = _call_generate(generate, p["fn"], model, first, n, size, torch)
    return {"ids": _call_generate(generate, p["fn"], model, idx, n, size, torch), **expected}


def _call_generate(generate, name, model, idx, max_new_tokens, context_size, torch):
    """The student's generation function by keyword (context_size only when given); a tensor of ids."""
    kwargs = {"model": model, "idx": idx.clone(), "max_new_tokens": max_new_tokens}
    if context_size is not None:
        kwargs["context_size"] = context_size
    with torch.no_grad():
        ids = generate(**kwargs)
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} returned a {type(ids).__name__}, not a tensor of token ids")
    return ids


def _as_config(value):
    """A configuration as a dict: a dict, or a dataclass/namespace holding the book's keys as attributes (the
    settings of a `@dataclass class GPTConfig`); None for anything else."""
    import dataclasses

    if isinstance(value, dict):
        cfg = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        cfg = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif type(value).__name__ == "SimpleNamespace":
        cfg = dict(vars(value))
    else:
        return None
    return cfg if all(isinstance(cfg.get(k), int) and not isinstance(cfg.get(k), bool) for k in CONFIG_KEYS) else None


def probe_gpt_configs(req):
    """GPT configurations in the notebook's globals (exercise 4.1): dicts (or dataclass settings) with emb_dim,
    n_layers, n_heads.

    Looks at public globals and one level into dicts of them (e.g. {"gpt2-medium": {...}}).
    """
    found = []
    for name, value in list(req.namespace.items()):
        if name.startswith("_"):
            continue
        if (cfg := _as_config(value)) is not None:
            found.append({"where": name, "cfg": _plain(cfg)})
            continue
        for key, inner in list(value.items())[:50] if isinstance(value, dict) else []:
            if (cfg := _as_config(inner)) is not None:
                found.append({"where": f"{name}[{key!r}]", "cfg": _plain(cfg)})
    return {"configs": found[:50]}


def _plain(cfg):
    """JSON-safe copy of a config's scalar entries."""
    return {str(k): v for k, v in cfg.items() if v is None or isinstance(v, (bool, int, float, str))}


def probe_meta_parameter_count(req):
    """Parameters of the student's GPTModel(cfg) built on the meta device (no memory used): count (each tensor
    once) and tied (the elements of tensors shared under a second name, e.g. a head tied to the embedding)."""
    import torch

    cls = req.resolve_own("GPTModel")
    with torch.device("meta"):
        model = cls(cfg=req.book_config(req.payload["cfg"]))
    untied = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    count = sum(p.numel() for p in model.parameters())
    return {"count": count, "tied": untied - count}


def probe_initial_parameters(req):
    """The parameters of the student's GPTModel(cfg) as built under torch.manual_seed(seed), in creation order
    (a tiny cfg): whether they are the book's initial weights."""
    import torch

    cls = req.resolve_own("GPTModel")
    torch.manual_seed(req.payload.get("seed", 0))
    model = cls(cfg=req.book_config(req.payload["cfg"]))
    return {"parameters": [p.detach() for p in model.parameters()]}
