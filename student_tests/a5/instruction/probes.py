"""Kernel-side probes for assignment 5, option "instruction" (chapter 7): prompts, dataset, collate, loss.

Called as "a5_instruction.<name>". They run next to the student's code, import torch inside the
functions, and use the student's classes and functions found through `req.resolve_own` (so
GRADER_NAMES mappings apply). Optional parts (exercise 7.2's prompt masking, a response
extraction helper) are found by the names below, then by name pattern; the result says which
names were graded, or {"found": False} when the notebook has none.
"""

import inspect
import operator
import re

MAX_ITEMS = 64
REQUIRED = ("format_input", "InstructionDataset", "custom_collate_fn", "calc_loss_batch")
MASKED_DATASET, MASKED_COLLATE = "InstructionDatasetMasked", "custom_collate_fn_masked"
EXTRACT = "extract_response"
EXTRACT_WORDS = ("extract", "parse", "clean", "strip", "split", "get", "only")
FACTORY = re.compile(r"(make|build|create|get)_")
NOT_TEXT = ("model", "tokenizer", "entry", "device", "data")  # parameters a text extractor does not take


def _ids(value, what):
    """A list of ints from a list, tuple, tensor or array of integer ids; TypeError otherwise."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    try:
        return [operator.index(i) for i in value]
    except TypeError:
        raise TypeError(f"{what} should be a list of integer token ids, got "
                        f"{type(value).__name__}: {str(value)[:160]}") from None


def _pair(result, what):
    """(inputs, targets) as tensors from a collate function's result."""
    import torch

    if not isinstance(result, (list, tuple)) or len(result) != 2:
        raise TypeError(f"{what} should return a pair (inputs, targets), got {type(result).__name__}")
    return [r if isinstance(r, torch.Tensor) else torch.as_tensor(r) for r in result]


def _try_format(req, entries):
    """The student's format_input of each entry (None where it is missing or raises)."""
    try:
        format_input = req.resolve_own("format_input")
    except Exception:  # noqa: BLE001 - a missing or imported format_input is reported by its own checks
        return None
    prompts = []
    for entry in entries:
        try:
            prompt = format_input(entry=dict(entry))
            prompts.append(prompt if isinstance(prompt, str) else None)
        except Exception:  # noqa: BLE001 - its own checks report the error
            prompts.append(None)
    return prompts


def probe_dataset(req):
    """InstructionDataset(data=..., tokenizer=...): its len, its items as id lists, and the notebook's prompts.

    payload: data (entries), tokenizer (GPT2_TOKENIZER). "prompts" is format_input(entry) per entry,
    so a check can tell a dataset bug from a format_input bug.
    """
    p = req.payload
    cls = req.resolve_own("InstructionDataset")
    data = [dict(entry) for entry in p["data"]]
    dataset = cls(data=data, tokenizer=req.decode(p["tokenizer"]))
    length = len(dataset)
    items = [_ids(dataset[i], f"InstructionDataset item {i}") for i in range(min(length, MAX_ITEMS))]
    changed = [i for i, (entry, given) in enumerate(zip(data, p["data"])) if entry != given]
    return {"length": length, "items": items, "prompts": _try_format(req, p["data"]),
            "changed_entries": [{"index": i, "now": {k: str(v)[:200] for k, v in data[i].items()}}
                                for i in changed[:3]]}


def probe_collate(req):
    """custom_collate_fn(batch=..., **kwargs): inputs and targets, with their device types and dtypes."""
    p = req.payload
    collate = req.resolve_own("custom_collate_fn")
    if p.get("where_only"):  # e.g. device="meta": where the tensors are, or the error (masking on meta may fail)
        try:
            inputs, targets = _pair(collate(batch=[list(item) for item in p["batch"]], **p.get("kwargs", {})),
                                    "custom_collate_fn")
        except Exception as err:  # noqa: BLE001 - inconclusive, not the student's fault
            return {"error": f"{type(err).__name__}: {str(err)[:200]}"}
        return {"devices": [inputs.device.type, targets.device.type]}
    inputs, targets = _pair(collate(batch=[list(item) for item in p["batch"]], **p.get("kwargs", {})),
                            "custom_collate_fn")
    return {"inputs": inputs, "targets": targets, "devices": [inputs.device.type, targets.device.type],
            "dtypes": [str(inputs.dtype), str(targets.dtype)]}


def probe_collate_twice(req):
    """custom_collate_fn called twice on the same token lists, as a DataLoader does every epoch.

    payload: batch (token id lists). Each call gets a new outer list holding the same item lists (a
    DataLoader hands the dataset's own items over); returns both results and the items afterwards.
    """
    collate = req.resolve_own("custom_collate_fn")
    items = [list(item) for item in req.payload["batch"]]
    calls = []
    for _ in range(2):
        inputs, targets = _pair(collate(batch=list(items)), "custom_collate_fn")
        calls.append({"inputs": inputs, "targets": targets})
    return {"calls": calls, "items_after": [_ids(item, "a batch item") for item in items]}


# ---------------------------------------------------------------- optional parts found by name


def _mapped_names(req):
    """Every notebook name GRADER_NAMES maps a book name to: those functions are something else."""
    mapping = req.namespace.get("GRADER_NAMES")
    return {v for v in mapping.values() if isinstance(v, str)} if isinstance(mapping, dict) else set()


def _candidate(req, book_name, matches):
    """(name, object): the book name (GRADER_NAMES first), else the first own global that `matches` and that is
    neither a required component nor mapped to another book name."""
    own = req.own(book_name)
    if own is not None:
        return req.mapped_name(book_name) or book_name, own
    taken = set().union(*(req.names_for(n) for n in REQUIRED)) | _mapped_names(req)
    # a factory (make_masked_collate(pad_id) returning the collate function) after the function it makes
    for name, value in sorted(req.namespace.copy().items(), key=lambda kv: (FACTORY.match(kv[0]) is not None, kv[0])):
        if name.startswith("_") or name in taken or not matches(name.lower(), value):
            continue
        obj = req.own(name)
        if obj is not None:
            return name, obj
    return None, None


def _is_dataset(name, value):
    return "mask" in name and inspect.isclass(value) and hasattr(value, "__getitem__")


def _is_collate(name, value):
    return "mask" in name and "collate" in name and inspect.isfunction(value)


def probe_masked_batch(req):
    """Exercise 7.2: a batch of payload["data"] through the notebook's prompt-masking dataset and/or collate.

    The masked dataset (InstructionDatasetMasked, else a class whose name mentions "mask") replaces
    InstructionDataset, the masked collate (custom_collate_fn_masked, else a function whose name
    mentions "mask" and "collate") replaces custom_collate_fn; each is called positionally,
    dataset(data, tokenizer) and collate(items), as DataLoader would.
    """
    p = req.payload
    dataset_name, dataset_cls = _candidate(req, MASKED_DATASET, _is_dataset)
    collate_name, collate = _candidate(req, MASKED_COLLATE, _is_collate)
    if dataset_cls is None and collate is None:
        return {"found": False}
    if dataset_cls is None:
        dataset_name, dataset_cls = "InstructionDataset", req.resolve_own("InstructionDataset")
    if collate is None:
        collate_name, collate = "custom_collate_fn", req.resolve_own("custom_collate_fn")
    dataset = dataset_cls([dict(entry) for entry in p["data"]], req.decode(p["tokenizer"]))
    items = [dataset[i] for i in range(len(p["data"]))]
    inputs, targets = _pair(collate(items), collate_name)
    return {"found": True, "dataset": dataset_name, "collate": collate_name, "inputs": inputs, "targets": targets,
            "prompts": _try_format(req, p["data"])}


def _is_extractor(name, value):
    """A function named like a response extractor that takes the generated text (and the prompt), not a model."""
    if not ("response" in name and any(w in name for w in EXTRACT_WORDS) and inspect.isfunction(value)
            and not name.startswith("generate")):
        return False
    try:
        params = list(inspect.signature(value).parameters)
    except (TypeError, ValueError):
        return True
    return 1 <= _required_params(value) <= 2 and not any(w in p.lower() for p in params for w in NOT_TEXT)


def _required_params(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    return sum(1 for q in params if q.default is q.empty and q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD))


def probe_extract(req):
    """The notebook's response extraction (extract_response, else a function like `*extract*response*`).

    payload: cases, a list of [generated_text, input_text]. A function with one required parameter
    gets the generated text only; one with two gets (generated_text, input_text).
    """
    name, fn = _candidate(req, EXTRACT, _is_extractor)
    if fn is None:
        return {"found": False}
    arity = _required_params(fn)
    results = []
    for generated, prompt in req.payload["cases"]:
        value = fn(generated) if arity <= 1 else fn(generated, prompt)
        results.append(value if isinstance(value, str) else {"$type": type(value).__name__})
    return {"found": True, "name": name, "arity": arity, "results": results}


# ---------------------------------------------------------------- training smoke test


def _tiny_gpt(req, torch):
    """The reference GPTModel (a fixed model, not the student's) with the grader's weights."""
    from reference.ch04 import GPTModel

    p = req.payload
    model = GPTModel(dict(p["cfg"]))
    model.load_state_dict(req.decode(p["weights"]))
    return model.to(p["device"])


def _loss_summary(loss):
    """A loss as data: its value when it is a finite-size scalar tensor, its type, shape and whether it has a
    gradient."""
    import torch

    if not isinstance(loss, torch.Tensor):
        return {"value": float(loss) if isinstance(loss, (int, float)) else None, "type": type(loss).__name__,
                "shape": None, "requires_grad": False}
    scalar = loss.numel() == 1 and (loss.is_floating_point() or loss.is_complex())
    return {"value": float(loss.detach().reshape(-1)[0]) if scalar else None, "type": str(loss.dtype),
            "shape": list(loss.shape), "requires_grad": bool(loss.requires_grad)}


def probe_losses(req):
    """calc_loss_batch(inputs, targets, model, device) on the grader's tiny GPT, once per targets tensor.

    payload: cfg, weights, inputs, targets (a list of tensors), device, train (the model's mode), seed
    (set before every call, so dropout draws the same masks). Returns each loss (loss_summary), the
    reference's loss of the first targets computed the same way (the model's logits against the
    targets, cross-entropy ignoring -100) and the model's mode after the calls.
    """
    import torch

    p = req.payload
    loss_fn, device, seed = req.resolve_own("calc_loss_batch"), p["device"], p.get("seed", 0)
    model = _tiny_gpt(req, torch)
    model.train(bool(p.get("train")))
    inputs, all_targets = req.decode(p["inputs"]).to(device), [t.to(device) for t in req.decode(p["targets"])]
    losses = []
    for targets in all_targets:
        torch.manual_seed(seed)
        losses.append(_loss_summary(loss_fn(inputs, targets, model, device)))
    training_after = model.training
    model.train(bool(p.get("train")))
    torch.manual_seed(seed)
    logits = model(inputs)
    reference = torch.nn.functional.cross_entropy(logits.flatten(0, 1), all_targets[0].flatten())
    return {"losses": losses, "reference": float(reference), "training_after": bool(training_after)}


def probe_train_smoke(req):
    """A fixed tiny GPT trained a few AdamW steps with the student's custom_collate_fn and calc_loss_batch.

    payload: cfg, weights ({reference parameter name: tensor}), batch (token id lists), device,
    steps, lr, masked_targets (optional tensor: targets with the prompt positions at -100 too).
    Returns the collated batch, the student's loss on it before training (and on masked_targets),
    and the loss at every step.
    """
    import torch

    p = req.payload
    collate, loss_fn = req.resolve_own("custom_collate_fn"), req.resolve_own("calc_loss_batch")
    device = p["device"]
    torch.manual_seed(p.get("seed", 0))
    model = _tiny_gpt(req, torch)
    inputs, targets = _pair(collate(batch=[list(item) for item in p["batch"]], device=device), "custom_collate_fn")
    model.eval()
    with torch.no_grad():
        first = loss_fn(inputs, targets, model, device)
        masked = None
        masked_targets = req.decode(p.get("masked_targets"))
        if masked_targets is not None and masked_targets.shape == targets.shape:
            masked = float(loss_fn(inputs, masked_targets.to(device), model, device))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=0.1)
    losses = []
    for _ in range(p["steps"]):
        optimizer.zero_grad()
        loss = loss_fn(inputs, targets, model, device)
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            raise TypeError(f"calc_loss_batch returned {type(loss).__name__} without a gradient; "
                            f"it must return the loss tensor so training can call loss.backward()")
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return {"inputs": inputs, "targets": targets, "loss": float(first), "masked_loss": masked, "losses": losses}
