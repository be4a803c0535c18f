"""Kernel-side probes for assignment 5, option classification (chapter 6).

Called as "a5_classification.<name>". The component under test is always the student's
(found with `req.resolve_own`); what it is fed may be built from the grader's reference
package: a small reference GPTModel with a `num_classes` head and the grader's weights
(sent as tensors, loaded by the book's parameter names), DataLoaders over sent tensors,
GPT-2's tokenizer. That model also answers GPT-2/nanoGPT's names for its parts (`transformer.wpe`,
`lm_head`, `config.block_size`); a student function that reads a name it lacks is reported as
"foreign_attribute" (the check holds it for review), and the mode each forward call ran in is recorded
(eval mode for accuracy and classification, training mode for training steps). The notebook's global
`model` and `optimizer` are inspected, never changed; their parts are found by model_parts.py.
"""

import csv
import math
import operator

MAX_ITEMS = 256


# ---------------------------------------------------------------- helpers

def _classifier(req, torch):
    """A reference GPTModel(cfg) with an nn.Linear(emb_dim, num_classes) head and the sent weights, in eval mode
    (training mode when payload "train" is true), answering the usual other names of its parts (_with_aliases)."""
    from reference.ch04 import GPTModel

    p = req.payload
    cfg = dict(p["cfg"])
    model = GPTModel(cfg)
    model.out_head = torch.nn.Linear(cfg["emb_dim"], p["num_classes"])
    model.load_state_dict(req.decode(p["state_dict"]))
    model = _with_aliases(model, cfg, torch).to(p.get("device", "cpu"))
    return model.train(bool(p.get("train")))


# The names GPT-2/nanoGPT/Hugging Face code reads from a model, as the book's model has them: the functions
# under test get the grader's model and must not fail for reading `model.config.block_size` instead of
# `model.pos_emb.weight.shape[0]`.
PART_ALIASES = {"wte": "tok_emb", "tok_embeddings": "tok_emb", "token_embedding": "tok_emb", "wpe": "pos_emb",
                "pos_embedding": "pos_emb", "position_embedding": "pos_emb", "h": "trf_blocks", "blocks": "trf_blocks",
                "layers": "trf_blocks", "ln_f": "final_norm", "norm_f": "final_norm", "lm_head": "out_head",
                "head": "out_head", "classifier": "out_head", "score": "out_head", "drop": "drop_emb"}
CONFIG_ALIASES = {"block_size": "context_length", "n_positions": "context_length", "n_ctx": "context_length",
                  "max_position_embeddings": "context_length", "max_seq_len": "context_length",
                  "n_embd": "emb_dim", "d_model": "emb_dim", "hidden_size": "emb_dim", "n_layer": "n_layers",
                  "num_hidden_layers": "n_layers", "n_head": "n_heads", "num_attention_heads": "n_heads",
                  "dropout": "drop_rate", "bias": "qkv_bias"}
_ALIASED = {}


class _Config(dict):
    """The model's config as a dict (the book's cfg["context_length"]) and as attributes under GPT-2's names
    too (config.block_size)."""

    def __getattr__(self, name):
        key = name if name in self else CONFIG_ALIASES.get(name)
        if key in self:
            return self[key]
        raise AttributeError(name)

    def __missing__(self, key):
        if CONFIG_ALIASES.get(key) in self:
            return self[CONFIG_ALIASES[key]]
        raise KeyError(key)


def _with_aliases(model, cfg, torch):
    """The model, answering `transformer.wpe`, `lm_head`, `config.block_size` and the like (PART_ALIASES,
    CONFIG_ALIASES) with its own parts and config, without registering anything twice."""
    cls = type(model)
    if cls not in _ALIASED:
        def __getattr__(self, name):
            try:
                return cls.__getattr__(self, name)
            except AttributeError:
                pass
            if name in PART_ALIASES:
                return cls.__getattr__(self, PART_ALIASES[name])
            if name in ("config", "cfg"):
                return self.__dict__["_grader_config"]
            if name == "transformer":
                return torch.nn.ModuleDict({alias: cls.__getattr__(self, own) for alias, own in
                                            (("wte", "tok_emb"), ("wpe", "pos_emb"), ("drop", "drop_emb"),
                                             ("h", "trf_blocks"), ("ln_f", "final_norm"))})
            raise AttributeError(f"'{cls.__name__}' object has no attribute '{name}'")

        _ALIASED[cls] = type(cls.__name__, (cls,), {"__getattr__": __getattr__, "__module__": cls.__module__,
                                                    "__qualname__": cls.__qualname__})
    model.__class__ = _ALIASED[cls]
    model.__dict__["_grader_config"] = _Config(cfg)
    return model


def _loader(torch, inputs, targets, batch_size):
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=False)


def _ids(value):
    """A list of ints from a tensor, array, list or tuple of integers."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, int):
        return value
    return [operator.index(i) for i in value]


def _number(value):
    """A float from a Python number or a one-element tensor/array; None when it is neither."""
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _describe(value):
    return f"a {type(value).__name__}: {str(value)[:80]}"


# ---------------------------------------------------------------- SpamDataset (6.3)

def probe_spam_dataset(req):
    """Write payload rows to a CSV with the book's header Label,Text, build the student's SpamDataset on it.

    payload: rows [[label, text], ...], kwargs (max_length and/or pad_token_id; absent ones keep
    the defaults), tokenizer. Returns len, items [{"ids": [...], "label": int}] and the
    dataset's max_length attribute (None when it has none).
    """
    p = req.payload
    cls = req.resolve_own("SpamDataset")
    path = req.folder / "spam.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Label", "Text"])
        writer.writerows(p["rows"])
    dataset = cls(csv_file=str(path), tokenizer=req.decode(p["tokenizer"]), **p.get("kwargs", {}))
    items = []
    for index in range(min(len(dataset), MAX_ITEMS)):
        item = dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"dataset[{index}] is {_describe(item)}; expected a pair (token ids, label)")
        items.append({"ids": _ids(item[0]), "label": _ids(item[1])})
    max_length = getattr(dataset, "max_length", None)
    return {"len": len(dataset), "items": items,
            "max_length": max_length if isinstance(max_length, int) else None}


# ---------------------------------------------------------------- the notebook's model (6.5)

def _parts():
    """grader/probes_kernel/model_parts.py's functions (loaded by path, once; kernel_side gives this file
    KERNEL_HELPERS, that folder)."""
    if "parts" not in _PARTS:
        import runpy
        from pathlib import Path

        _PARTS["parts"] = runpy.run_path(str(Path(globals()["KERNEL_HELPERS"]) / "model_parts.py"))
    return _PARTS["parts"]


_PARTS = {}


def _blocks(model, torch):
    return _parts()["blocks"](model, torch)


def _spine(model, blocks_path):
    return _parts()["spine"](model, blocks_path)


def _head(model, torch, parts=None):
    return _parts()["head"](model, torch, parts)


def _linear_of(module, torch):
    """The nn.Linear of a head (itself, or the Linear it wraps, e.g. LinearWithLoRA.linear)."""
    if isinstance(module, torch.nn.Linear):
        return module
    return next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)


def _trainable(module):
    params = list(module.parameters())
    return {"params": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


def _roles(model, torch):
    """Parameter counts (total, trainable) of the model's parts (model_parts.py): embeddings (before the blocks, and
    raw tensors of the model itself), each block, the final norm (the first part after them), the head, and any
    other part; with each part's path."""
    blocks_name, blocks = _blocks(model, torch)
    parts = _spine(model, blocks_name)
    head_name, head = _head(model, torch, parts)
    roles = {"blocks": [_trainable(b) for b in blocks] if blocks is not None else [],
             "head": _trainable(head) if head is not None else None, "embeddings": [], "norm": None, "other": []}
    names = {"blocks": blocks_name, "head": head_name, "norm": None, "embeddings": [], "other": []}
    after_blocks = False
    for name, child in parts:
        if child is None:
            after_blocks = True
        elif child is head:
            continue
        elif not after_blocks:
            roles["embeddings"].append(_trainable(child))
            names["embeddings"].append(name)
        elif roles["norm"] is None:
            roles["norm"], names["norm"] = _trainable(child), name
        else:
            roles["other"].append(_trainable(child))
            names["other"].append(name)
    direct = [p for n, p in model.named_parameters(recurse=False)]
    if direct:  # raw tensors of the model itself: its embedding tables, in every GPT written that way
        roles["embeddings"].insert(0, {"params": sum(p.numel() for p in direct),
                                       "trainable": sum(p.numel() for p in direct if p.requires_grad)})
        names["embeddings"].insert(0, "(parameters of the model itself)")
    return roles, names


def _optimizer_coverage(req, model, torch):
    """Trainable parameters of `model` that the global `optimizer` does not hold (None: no optimizer)."""
    optimizer = req.global_value("optimizer")
    if not isinstance(optimizer, torch.optim.Optimizer):
        return None
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in held]
    return {"missing": missing[:20], "missing_count": len(missing)}


def _width(model, norm_path):
    """The model's width without an nn.Embedding (raw tables): the length of its final norm's scale, or None."""
    if not norm_path:
        return None
    try:
        norm = model.get_submodule(norm_path)
    except AttributeError:
        return None
    vectors = [q for q in norm.parameters() if q.dim() == 1]
    return int(vectors[0].shape[0]) if vectors else None


class _ForeignAttribute(Exception):
    """The student's function read an attribute the grader's model does not have (their own model's name for a
    part): not a bug the grader can judge on its model."""


def _on_grader_model(grader_model, fn, /, **kwargs):
    """fn(**kwargs); an AttributeError about the grader's model becomes _ForeignAttribute."""
    try:
        return fn(**kwargs)
    except AttributeError as err:
        if f"'{type(grader_model).__name__}' object has no attribute" in str(err):
            raise _ForeignAttribute(str(err)) from None
        raise


def _foreign(probe):
    """A probe whose student call may read their own model's attributes: answers {"foreign_attribute": message}."""
    def run(req):
        try:
            return probe(req)
        except _ForeignAttribute as err:
            return {"foreign_attribute": str(err)}

    run.__doc__ = probe.__doc__
    return run


def _logits(out, torch):
    """A model's logits: its output, the first tensor of a (logits, loss) tuple, or an output's `.logits`."""
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return getattr(out, "logits", out) if not isinstance(out, torch.Tensor) else out


def probe_global_model(req):
    """The notebook's global `model`: its head, which parts train, its output shape, the optimizer's coverage."""
    import torch

    model, record = req.resolve("model")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"the global `model` is {_describe(model)}, not a torch.nn.Module")
    head_name, head = _head(model, torch)
    linear = _linear_of(head, torch) if head is not None else None
    roles, names = _roles(model, torch)
    pos = getattr(model, "pos_emb", None)
    embedding = next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    result = {"used_name": record["used_name"], "type": type(model).__name__,
              "head": None if linear is None else {"name": head_name, "in": linear.in_features,
                                                   "out": linear.out_features, "type": type(head).__name__},
              "roles": roles, "names": names, "optimizer": _optimizer_coverage(req, model, torch),
              "num_classes": (req.global_value("num_classes") if isinstance(req.global_value("num_classes"), int)
                              else None),
              "context_length": pos.weight.shape[0] if isinstance(pos, torch.nn.Embedding) else None,
              "emb_dim": embedding.embedding_dim if embedding is not None else _width(model, names["norm"])}
    parameters = list(model.parameters())
    if parameters:
        device, was_training = parameters[0].device, model.training
        ids = torch.zeros(1, 4, dtype=torch.long, device=device)
        try:
            model.eval()
            with torch.no_grad():
                out = model(ids)
            out = _logits(out, torch)
            result["output_shape"] = list(out.shape) if isinstance(out, torch.Tensor) else None
        finally:
            model.train(was_training)
    return result


# ---------------------------------------------------------------- loss and accuracy (6.6)

def _probe_loss_batch(req):
    """The student's calc_loss_batch on a reference classifier.

    Payload: cfg, num_classes, state_dict, inputs, targets, device.

    Returns the loss, whether it requires grad, and how many of the model's weights its backward() reaches."""
    import torch

    p = req.payload
    fn = req.resolve_own("calc_loss_batch")
    model = _classifier(req, torch)
    loss = _on_grader_model(model, fn, input_batch=req.decode(p["inputs"]), target_batch=req.decode(p["targets"]),
                            model=model, device=p.get("device", "cpu"))
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"calc_loss_batch returned {_describe(loss)}; "
                        "expected a scalar tensor (to call .backward() on)")
    reached = []
    if loss.requires_grad and loss.numel() == 1:
        loss.backward()
        with req.guard():  # judged with the grader's torch, whatever the student's code patched
            reached = [n for n, q in model.named_parameters() if q.grad is not None and bool(q.grad.abs().sum() > 0)]
    return {"loss": loss.detach().float().cpu(), "requires_grad": bool(loss.requires_grad),
            "weights_reached": len(reached), "head_reached": any(n.startswith("out_head.") for n in reached)}


class _ModeRecorder:
    """Records, for every forward call of a model, whether it ran in training mode and with gradients enabled."""

    def __init__(self, model):
        self.model, self.calls, self.handle = model, [], None

    def __enter__(self):
        import torch

        def hook(module, args):
            self.calls.append((module.training, torch.is_grad_enabled()))

        self.handle = self.model.register_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()

    def summary(self):
        """Counts: forward calls, those in training mode, and gradient-enabled ones (training steps) in eval mode."""
        return {"forward_calls": len(self.calls), "train_mode_calls": sum(1 for t, _ in self.calls if t),
                "grad_calls": sum(1 for _, g in self.calls if g),
                "grad_calls_in_eval_mode": sum(1 for t, g in self.calls if g and not t)}


def _probe_accuracy_loader(req):
    """The student's calc_accuracy_loader on a reference classifier and a DataLoader over the sent tensors.

    payload: cfg, num_classes, state_dict, inputs, targets, batch_size, num_batches (None: not passed), device,
    train (hand the model over in training mode), seed (for dropout). Returns the accuracy and the modes its
    forward calls ran in (_ModeRecorder).
    """
    import torch

    p = req.payload
    fn = req.resolve_own("calc_accuracy_loader")
    model = _classifier(req, torch)
    loader = _loader(torch, req.decode(p["inputs"]), req.decode(p["targets"]), p["batch_size"])
    kwargs = {} if p.get("num_batches") is None else {"num_batches": p["num_batches"]}
    torch.manual_seed(p.get("seed", 0))
    with _ModeRecorder(model) as modes:
        value = _on_grader_model(model, fn, data_loader=loader, model=model, device=p.get("device", "cpu"), **kwargs)
    number = _number(value)
    if number is None:
        raise TypeError(f"calc_accuracy_loader returned {_describe(value)}; expected a number between 0 and 1")
    return {"accuracy": number, **modes.summary()}


def _probe_loss_loader(req):
    """The student's calc_loss_loader on a reference classifier (eval mode) and a DataLoader over the sent tensors,
    with the book's calc_loss_batch standing in for theirs (graded on its own).

    payload: cfg, num_classes, state_dict, inputs, targets, batch_size, num_batches (None: not passed), device.
    """
    import torch

    p = req.payload
    fn = req.resolve_own("calc_loss_loader")
    model = _classifier(req, torch).eval()
    loader = _loader(torch, req.decode(p["inputs"]), req.decode(p["targets"]), p["batch_size"])
    kwargs = {} if p.get("num_batches") is None else {"num_batches": p["num_batches"]}
    with torch.no_grad(), _book_helpers(req, fn, ("calc_loss_batch",)):
        value = _on_grader_model(model, fn, data_loader=loader, model=model, device=p.get("device", "cpu"), **kwargs)
    number = _number(value)
    if number is None:
        raise TypeError(f"calc_loss_loader returned {_describe(value)}; expected a number (the mean batch loss)")
    return {"loss": number}


# ---------------------------------------------------------------- training (6.7)

def _series(value, what):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{what} is {_describe(value)}; expected a list of numbers")
    numbers = [_number(v) for v in value]
    if any(n is None for n in numbers):
        raise TypeError(f"{what} holds {_describe(value)}; expected numbers")
    return numbers


HELPERS = ("calc_loss_batch", "calc_loss_loader", "calc_accuracy_loader", "evaluate_model")


class _book_helpers:
    """While the training function (or calc_loss_loader) runs, the book's loss and accuracy helpers (`helpers`)
    stand in for the student's (under their book names and GRADER_NAMES names), so it is graded on its own."""

    def __init__(self, req, fn, helpers=HELPERS):
        import reference.ch06 as book

        space = getattr(fn, "__globals__", None)
        self.space = space if isinstance(space, dict) else {}
        self.swaps = {n: getattr(book, h) for h in helpers for n in req.names_for(h) if n in self.space}
        self.saved = {}

    def __enter__(self):
        for name, book_fn in self.swaps.items():
            self.saved[name] = self.space[name]
            self.space[name] = book_fn

    def __exit__(self, *exc):
        self.space.update(self.saved)


def _extras(fn):
    """Arguments the book's repository adds to train_classifier_simple without a default (its notebook takes a
    `tokenizer` it never uses): GPT-2's tokenizer, so that such a loop runs too."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    wanted = params.get("tokenizer")
    if wanted is None or wanted.default is not inspect.Parameter.empty:
        return {}
    from reference.assets import gpt2_encoding

    return {"tokenizer": gpt2_encoding()}


def _probe_train_classifier(req):
    """The student's train_classifier_simple on a reference classifier, the sent data (not shuffled) and AdamW,
    with the book's calc_loss_batch, calc_loss_loader, calc_accuracy_loader and evaluate_model standing in.

    payload: cfg, num_classes, state_dict, train/val inputs and targets, batch_size, lr, weight_decay,
    num_epochs, eval_freq, eval_iter, seed, device. Returns its five results, the final head weight and the modes
    its forward calls ran in (training steps must run in training mode; the model is handed over in eval mode).
    """
    import torch

    p = req.payload
    fn = req.resolve_own("train_classifier_simple")
    model = _classifier(req, torch)
    train = _loader(torch, req.decode(p["train_inputs"]), req.decode(p["train_targets"]), p["batch_size"])
    val = _loader(torch, req.decode(p["val_inputs"]), req.decode(p["val_targets"]), p["batch_size"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    torch.manual_seed(p.get("seed", 0))
    with _book_helpers(req, fn), _ModeRecorder(model) as modes:
        result = _on_grader_model(model, fn, model=model, train_loader=train, val_loader=val, optimizer=optimizer,
                                  device=p.get("device", "cpu"), num_epochs=p["num_epochs"],
                                  eval_freq=p["eval_freq"], eval_iter=p["eval_iter"], **_extras(fn))
    if not isinstance(result, (tuple, list)) or len(result) != 5:
        raise TypeError(f"train_classifier_simple returned {_describe(result)}; expected the book's five results "
                        "(train_losses, val_losses, train_accs, val_accs, examples_seen)")
    names = ("train_losses", "val_losses", "train_accs", "val_accs")
    out = {name: _series(value, name) for name, value in zip(names, result[:4])}
    out["examples_seen"] = _number(result[4])
    out["head_weight"] = model.out_head.weight.detach().cpu()
    out["finite"] = all(math.isfinite(v) for name in names for v in out[name])
    out["modes"] = modes.summary()
    return out


# ---------------------------------------------------------------- using the classifier (6.8)

def _probe_classify(req):
    """The student's classify_review on a reference classifier for each text; payload: texts, max_length, pad_token_id,
    train (hand the model over in training mode), seed. Returns the labels and the modes of the forward calls."""
    import torch

    p = req.payload
    fn = req.resolve_own("classify_review")
    model = _classifier(req, torch)
    tokenizer = req.decode(p["tokenizer"])
    labels = []
    torch.manual_seed(p.get("seed", 0))
    with _ModeRecorder(model) as modes:
        for text in p["texts"]:
            kwargs = {k: p[k] for k in ("max_length", "pad_token_id") if p.get(k) is not None}
            label = _on_grader_model(model, fn, text=text, model=model, tokenizer=tokenizer,
                                     device=p.get("device", "cpu"), **kwargs)
            labels.append(label if isinstance(label, str) else _describe(label))
    return {"labels": labels, **modes.summary()}


# The probes that hand the student's function the grader's model (see _foreign).
probe_loss_batch = _foreign(_probe_loss_batch)
probe_accuracy_loader = _foreign(_probe_accuracy_loader)
probe_loss_loader = _foreign(_probe_loss_loader)
probe_train_classifier = _foreign(_probe_train_classifier)
probe_classify = _foreign(_probe_classify)
