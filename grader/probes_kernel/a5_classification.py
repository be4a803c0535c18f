"""Kernel-side probes for assignment 5, option classification (chapter 6).

Called as "a5_classification.<name>". The component under test is always the student's
(found with `req.resolve_own`); what it is fed may be built from the grader's reference
package: a small reference GPTModel with a `num_classes` head and the grader's weights
(sent as tensors, loaded by the book's parameter names), DataLoaders over sent tensors,
GPT-2's tokenizer. The notebook's global `model` and `optimizer` are inspected, never changed.
"""

import csv
import math
import operator

MAX_ITEMS = 256


# ---------------------------------------------------------------- helpers

def _classifier(req, torch):
    """A reference GPTModel(cfg) with an nn.Linear(emb_dim, num_classes) head and the sent weights, eval mode."""
    from reference.ch04 import GPTModel

    p = req.payload
    cfg = dict(p["cfg"])
    model = GPTModel(cfg)
    model.out_head = torch.nn.Linear(cfg["emb_dim"], p["num_classes"])
    model.load_state_dict(req.decode(p["state_dict"]))
    return model.to(p.get("device", "cpu")).eval()


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

def _blocks(model, torch):
    """(name, module) of the transformer blocks: `trf_blocks`, else the largest ModuleList/Sequential child."""
    containers = (torch.nn.ModuleList, torch.nn.Sequential)
    if isinstance(getattr(model, "trf_blocks", None), containers):
        return "trf_blocks", model.trf_blocks
    found = [(n, m) for n, m in model.named_children() if isinstance(m, containers) and len(m) > 0]
    return max(found, key=lambda nm: len(nm[1]), default=(None, None))


def _head(model, torch):
    """(name, module) of the output head: `out_head`, else the last top-level child that is a Linear (or wraps one)."""
    head = getattr(model, "out_head", None)
    if isinstance(head, torch.nn.Module):
        return "out_head", head
    linear = [(n, m) for n, m in model.named_children()
              if isinstance(m, torch.nn.Linear) or any(isinstance(c, torch.nn.Linear) for c in m.children())]
    return linear[-1] if linear else (None, None)


def _linear_of(module, torch):
    """The nn.Linear of a head (itself, or the Linear it wraps, e.g. LinearWithLoRA.linear)."""
    if isinstance(module, torch.nn.Linear):
        return module
    return next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)


def _trainable(module):
    params = list(module.parameters())
    return {"params": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


def _roles(model, torch):
    """Parameter counts (total, trainable) of the model's parts: embeddings, each block, final norm, head."""
    blocks_name, blocks = _blocks(model, torch)
    head_name, head = _head(model, torch)
    children = [(n, m) for n, m in model.named_children() if list(m.parameters())]
    roles = {"blocks": [_trainable(b) for b in blocks] if blocks is not None else [],
             "head": _trainable(head) if head is not None else None, "embeddings": [], "norm": None, "other": []}
    names = {"blocks": blocks_name, "head": head_name, "norm": None, "embeddings": [], "other": []}
    after_blocks = False
    for name, child in children:
        if child is blocks:
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
    if direct:
        roles["other"].append({"params": sum(p.numel() for p in direct),
                               "trainable": sum(p.numel() for p in direct if p.requires_grad)})
        names["other"].append("(parameters of the model itself)")
    return roles, names


def _optimizer_coverage(req, model, torch):
    """Trainable parameters of `model` that the global `optimizer` does not hold (None: no optimizer)."""
    optimizer = req.global_value("optimizer")
    if not isinstance(optimizer, torch.optim.Optimizer):
        return None
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in held]
    return {"missing": missing[:20], "missing_count": len(missing)}


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
              "num_classes": req.global_value("num_classes") if isinstance(req.global_value("num_classes"), int) else None,
              "context_length": pos.weight.shape[0] if isinstance(pos, torch.nn.Embedding) else None,
              "emb_dim": embedding.embedding_dim if embedding is not None else None}
    parameters = list(model.parameters())
    if parameters:
        device, was_training = parameters[0].device, model.training
        ids = torch.zeros(1, 4, dtype=torch.long, device=device)
        try:
            model.eval()
            with torch.no_grad():
                out = model(ids)
            result["output_shape"] = list(out.shape) if isinstance(out, torch.Tensor) else None
        finally:
            model.train(was_training)
    return result


# ---------------------------------------------------------------- loss and accuracy (6.6)

def probe_loss_batch(req):
    """The student's calc_loss_batch on a reference classifier; payload: cfg, num_classes, state_dict, inputs, targets, device."""
    import torch

    p = req.payload
    fn = req.resolve_own("calc_loss_batch")
    model = _classifier(req, torch)
    loss = fn(input_batch=req.decode(p["inputs"]), target_batch=req.decode(p["targets"]), model=model,
              device=p.get("device", "cpu"))
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"calc_loss_batch returned {_describe(loss)}; expected a scalar tensor (to call .backward() on)")
    return {"loss": loss.detach().float().cpu(), "requires_grad": bool(loss.requires_grad)}


def probe_accuracy_loader(req):
    """The student's calc_accuracy_loader on a reference classifier and a DataLoader over the sent tensors.

    payload: cfg, num_classes, state_dict, inputs, targets, batch_size, num_batches (None: not passed), device.
    """
    import torch

    p = req.payload
    fn = req.resolve_own("calc_accuracy_loader")
    model = _classifier(req, torch)
    loader = _loader(torch, req.decode(p["inputs"]), req.decode(p["targets"]), p["batch_size"])
    kwargs = {} if p.get("num_batches") is None else {"num_batches": p["num_batches"]}
    value = fn(data_loader=loader, model=model, device=p.get("device", "cpu"), **kwargs)
    number = _number(value)
    if number is None:
        raise TypeError(f"calc_accuracy_loader returned {_describe(value)}; expected a number between 0 and 1")
    return {"accuracy": number}


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
    """While the training function runs, the book's loss and accuracy helpers stand in for the student's
    (under their book names and GRADER_NAMES names), so the training loop is graded on its own."""

    def __init__(self, req, fn):
        import reference.ch06 as book

        space = getattr(fn, "__globals__", None)
        self.space = space if isinstance(space, dict) else {}
        self.swaps = {n: getattr(book, h) for h in HELPERS for n in req.names_for(h) if n in self.space}
        self.saved = {}

    def __enter__(self):
        for name, book_fn in self.swaps.items():
            self.saved[name] = self.space[name]
            self.space[name] = book_fn

    def __exit__(self, *exc):
        self.space.update(self.saved)


def probe_train_classifier(req):
    """The student's train_classifier_simple on a reference classifier, the sent data (not shuffled) and AdamW,
    with the book's calc_loss_batch, calc_loss_loader, calc_accuracy_loader and evaluate_model standing in.

    payload: cfg, num_classes, state_dict, train/val inputs and targets, batch_size, lr, weight_decay,
    num_epochs, eval_freq, eval_iter, seed, device. Returns its five results and the final head weight.
    """
    import torch

    p = req.payload
    fn = req.resolve_own("train_classifier_simple")
    model = _classifier(req, torch)
    train = _loader(torch, req.decode(p["train_inputs"]), req.decode(p["train_targets"]), p["batch_size"])
    val = _loader(torch, req.decode(p["val_inputs"]), req.decode(p["val_targets"]), p["batch_size"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    torch.manual_seed(p.get("seed", 0))
    with _book_helpers(req, fn):
        result = fn(model=model, train_loader=train, val_loader=val, optimizer=optimizer,
                    device=p.get("device", "cpu"), num_epochs=p["num_epochs"], eval_freq=p["eval_freq"],
                    eval_iter=p["eval_iter"])
    if not isinstance(result, (tuple, list)) or len(result) != 5:
        raise TypeError(f"train_classifier_simple returned {_describe(result)}; expected the book's five results "
                        "(train_losses, val_losses, train_accs, val_accs, examples_seen)")
    names = ("train_losses", "val_losses", "train_accs", "val_accs")
    out = {name: _series(value, name) for name, value in zip(names, result[:4])}
    out["examples_seen"] = _number(result[4])
    out["head_weight"] = model.out_head.weight.detach().cpu()
    out["finite"] = all(math.isfinite(v) for name in names for v in out[name])
    return out


# ---------------------------------------------------------------- using the classifier (6.8)

def probe_classify(req):
    """The student's classify_review on a reference classifier for each text; payload: texts, max_length, pad_token_id."""
    import torch

    p = req.payload
    fn = req.resolve_own("classify_review")
    model = _classifier(req, torch)
    tokenizer = req.decode(p["tokenizer"])
    labels = []
    for text in p["texts"]:
        kwargs = {k: p[k] for k in ("max_length", "pad_token_id") if p.get(k) is not None}
        label = fn(text=text, model=model, tokenizer=tokenizer, device=p.get("device", "cpu"), **kwargs)
        labels.append(label if isinstance(label, str) else _describe(label))
    return {"labels": labels}
