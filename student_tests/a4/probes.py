"""Kernel-side probes for assignment 4 (chapter 5 and appendix D): loss, training loops, sampling, GPT-2 weights.

Called as "a4.<name>". The component under test is always the student's (found through
`req.resolve_own`, GRADER_NAMES first); what it is fed is the grader's: a reference
GPTModel with the weights sent in the payload, loaders built from fixed tensors
(shuffle=False), models with fixed logits, a character-level stand-in tokenizer. While a
loop runs, the book's helpers it calls (calc_loss_batch, calc_loss_loader, evaluate_model,
generate_and_print_sample) stand in for the student's own, so each check grades one
component and a bug in a helper fails only that helper's checks.

Exercise functions (and a perplexity function) may carry any name: the `_*_candidate(s)`
helpers look for them by name pattern and signature (DESIGN.md), and every probe that grades
such a candidate returns which function it graded and why.
"""

import contextlib
import inspect
import io
import re

BOOK_HELPERS = ("calc_loss_batch", "calc_loss_loader", "evaluate_model", "generate_and_print_sample")
EPOCH_NAMES = ("num_epochs", "n_epochs", "epochs")
MAX_PRINTED = 2000
NO_EARLY_STOP = 10**9  # the patience a loop gets when a check does not test early stopping


# ---------------------------------------------------------------- what the student's code is fed

class StandInTokenizer:
    """A stand-in for GPT-2's tokenizer whose ids fit the checks' tiny vocabularies."""

    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def encode(self, text, allowed_special=None, **_):
        return [ord(c) % self.vocab_size for c in text]

    def decode(self, ids):
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        return "".join(chr(97 + int(i) % 26) for i in ids)


def _torch():
    import torch
    return torch


def _fixed_logits_model(torch, row):
    """A model whose next-token logits are `row` at every position, whatever the input."""

    class FixedLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.row = torch.nn.Parameter(row.clone().float(), requires_grad=False)

        def forward(self, idx):  # a fresh tensor: a student's code may edit the logits in place
            return self.row.expand(idx.shape[0], idx.shape[1], self.row.shape[-1]).clone()

    return FixedLogits().eval()


def _bigram_model(torch, table):
    """A model whose logits at each position are table[token]: the next token depends on the last one."""

    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Parameter(table.clone().float(), requires_grad=False)

        def forward(self, idx):
            return self.table[idx]

    return Bigram().eval()


def _reference_gpt(req, spec):
    """The reference GPTModel(spec["cfg"]) with spec["state"] (reference names) loaded."""
    from reference.ch04 import GPTModel

    model = GPTModel(dict(spec["cfg"]))
    model.load_state_dict(req.decode(spec["state"]), strict=False)
    return model


def _training_model(req, spec):
    """The model a training probe trains: the book's GPTModel with spec["state"], or the student's own GPTModel with
    spec["student_state"] (the same weights in their names), for a loop that reads their model's own attributes."""
    if spec.get("student_state") is None:
        return _reference_gpt(req, spec)
    model = req.resolve_own("GPTModel")(cfg=req.book_config(dict(spec["cfg"])))
    model.load_state_dict(req.decode(spec["student_state"]), strict=False)
    return model


def _model(req, spec):
    """The model a probe feeds to the student's function: "gpt", "fixed" (logits row) or "bigram"."""
    torch = _torch()
    if spec["kind"] == "gpt":
        return _reference_gpt(req, spec).eval()
    if spec["kind"] == "fixed":
        return _fixed_logits_model(torch, req.decode(spec["row"]))
    if spec["kind"] == "bigram":
        return _bigram_model(torch, req.decode(spec["table"]))
    raise ValueError(f"unknown model kind {spec['kind']!r}")


def _record_forwards(torch, model):
    """A list that gets, for every forward pass of `model`, whether it was in train mode and had gradients on."""
    calls = []
    model.register_forward_pre_hook(
        lambda module, args: calls.append({"training": bool(module.training), "grad": torch.is_grad_enabled()})
        if len(calls) < 10_000 else None)
    return calls


def _loader(req, spec):
    """A DataLoader (shuffle=False, drop_last=False) over fixed input/target tensors."""
    torch = _torch()
    dataset = torch.utils.data.TensorDataset(req.decode(spec["inputs"]), req.decode(spec["targets"]))
    return torch.utils.data.DataLoader(dataset, batch_size=spec["batch_size"], shuffle=False, drop_last=False)


# ---------------------------------------------------------------- calling the student's functions

def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def _call_book(fn, args, **extra):
    """fn with the book's arguments (ordered (name, value) pairs): by keyword when it uses the book's
    parameter names, else by position (the existence check reports the renamed parameters)."""
    names = set(_parameters(fn))
    if all(name in names for name, _ in args):
        return fn(**dict(args), **extra)
    return fn(*(value for _, value in args), **extra)


def _fill(fn, known):
    """Keyword arguments for fn taken from `known` by parameter name; TypeError naming what is missing."""
    kwargs, missing = {}, []
    for name, param in _parameters(fn).items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in known:
            kwargs[name] = known[name]
        elif param.default is param.empty:
            missing.append(name)
    if missing:
        raise TypeError(f"{getattr(fn, '__name__', fn)} needs argument(s) {missing} that the grader cannot supply")
    return kwargs


def _same_parameters(value, book_fn):
    """Whether value is a function with exactly the book helper's parameter names (the helper under
    another name, e.g. evaluate(model, train_loader, val_loader, device, eval_iter))."""
    return inspect.isfunction(value) and list(_parameters(value)) == list(_parameters(book_fn))


@contextlib.contextmanager
def _book_helpers(req, fn, names=BOOK_HELPERS):
    """While the block runs, the book's helpers stand in for the student's (in the notebook and fn's
    module): found by the book's name, GRADER_NAMES, or the book helper's exact parameter names."""
    import reference.ch05 as ch05

    spaces = [req.namespace]
    module_globals = getattr(fn, "__globals__", None)
    if isinstance(module_globals, dict) and module_globals is not req.namespace:
        spaces.append(module_globals)
    saved = []
    for space in spaces:
        for book_name in names:
            book_fn = getattr(ch05, book_name)
            used = {u for u in req.names_for(book_name) if u in space}
            used |= {k for k, v in list(space.items()) if not k.startswith("_") and v is not fn
                     and _same_parameters(v, book_fn)}
            for name in used:
                saved.append((space, name, space[name]))
                space[name] = book_fn
    try:
        yield
    finally:
        for space, used, old in reversed(saved):
            space[used] = old


def _number(value):
    """A float from a float, an int or a one-element tensor; None for anything else."""
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _numbers(values):
    return [_number(v) for v in values] if isinstance(values, (list, tuple)) else None


def _error(err):
    return {"error": type(err).__name__, "message": str(err)[:300]}


def _signature_text(name, fn):
    try:
        return f"{name}{inspect.signature(fn)}"[:200]
    except (TypeError, ValueError):
        return name


# ---------------------------------------------------------------- loss (section 5.1)

def probe_loss_batch(req):
    """The student's calc_loss_batch on the reference model (payload: model, inputs, targets, device)."""
    p, torch = req.payload, _torch()
    fn = req.resolve_own("calc_loss_batch")
    model = _model(req, p["model"]).to(p["device"])
    loss = _call_book(fn, [("input_batch", req.decode(p["inputs"])), ("target_batch", req.decode(p["targets"])),
                           ("model", model), ("device", p["device"])])
    if not isinstance(loss, torch.Tensor):
        return {"type": type(loss).__name__, "value": _number(loss)}
    reached = None
    if loss.requires_grad and loss.dim() == 0:  # does loss.backward() reach the model's weights?
        loss.backward()
        with req.guard():  # judged with the grader's torch, whatever the student's code patched
            reached = sum(float(q.grad.abs().sum()) for q in model.parameters() if q.grad is not None) > 0
    return {"type": "Tensor", "loss": loss.detach().float().cpu(), "requires_grad": bool(loss.requires_grad),
            "reaches_weights": reached}


def probe_seeded_loss(req):
    """The book's fact: torch.manual_seed(seed); the student's GPTModel(cfg).eval(); their calc_loss_batch."""
    p, torch = req.payload, _torch()
    cls, fn = req.resolve_own("GPTModel"), req.resolve_own("calc_loss_batch")
    torch.manual_seed(p["seed"])
    model = cls(cfg=dict(p["cfg"])).eval()
    with torch.no_grad():
        loss = _call_book(fn, [("input_batch", req.decode(p["inputs"])), ("target_batch", req.decode(p["targets"])),
                               ("model", model), ("device", "cpu")])
    return {"loss": _number(loss)}


def probe_loss_loader(req):
    """The student's calc_loss_loader (book's calc_loss_batch standing in) for each entry of payload["runs"].

    A run: {"loader": {inputs, targets, batch_size}, "num_batches": n or "absent" (not passed)}.
    """
    p = req.payload
    fn = req.resolve_own("calc_loss_loader")
    model = _model(req, p["model"]).to(p["device"])
    results = []
    with _book_helpers(req, fn, ("calc_loss_batch",)):
        for run in p["runs"]:
            extra = {} if run["num_batches"] == "absent" else {"num_batches": run["num_batches"]}
            try:
                value = _call_book(fn, [("data_loader", _loader(req, run["loader"])), ("model", model),
                                        ("device", p["device"])], **extra)
                results.append({"value": _number(value), "type": type(value).__name__})
            except Exception as err:  # noqa: BLE001 - reported per run
                results.append(_error(err))
    return {"results": results}


def _perplexity_candidates(req):
    """GRADER_NAMES["perplexity"] or `perplexity`, then own functions whose name mentions perplexity."""
    first = req.own("perplexity")
    found = [("perplexity", first)] if first is not None else []
    for name, fn in req.own_functions():
        if "perplexity" in name.lower() and all(fn is not f for _, f in found):
            found.append((name, fn))
    return found


def probe_perplexity(req):
    """The notebook's perplexity function on losses (payload["losses"]) or on a loader with the reference model."""
    p, torch = req.payload, _torch()
    found = _perplexity_candidates(req)
    if not found:
        return {"graded": None}
    name, fn = found[0]
    params = [n for n, q in _parameters(fn).items() if q.default is q.empty
              and q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)]
    graded = {"graded": _signature_text(name, fn), "name": name, "others": [n for n, _ in found[1:]]}
    if len(params) <= 1:
        values = []
        for loss in p["losses"]:
            for form in ("float", "tensor"):
                arg = torch.tensor(loss) if form == "tensor" else loss
                try:
                    values.append({"loss": loss, "form": form, "value": _number(fn(arg))})
                except Exception as err:  # noqa: BLE001 - reported per value
                    values.append({"loss": loss, "form": form, **_error(err)})
        return {**graded, "kind": "of a loss", "values": values}
    model = _model(req, p["model"])
    known = {"model": model, "device": "cpu", "num_batches": None}
    for alias in ("data_loader", "loader", "dataloader", "val_loader", "train_loader"):
        known[alias] = _loader(req, p["loader"])
    with _book_helpers(req, fn, ("calc_loss_batch", "calc_loss_loader")):
        value = fn(**_fill(fn, known))
    return {**graded, "kind": "of a loader", "value": _number(value)}


# ---------------------------------------------------------------- training (section 5.2, appendix D)

def _training_setup(req):
    """Model (reference GPT on payload["device"]), loaders and optimizer as the payload describes them."""
    p, torch = req.payload, _torch()
    model = _training_model(req, p["model"]).to(p["device"])
    if p.get("start_eval"):  # as after generating a sample: the loop must switch train mode on itself
        model.eval()
    opt = p["optimizer"]
    optimizer_class = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[opt["kind"]]
    recorded = []

    class Recording(optimizer_class):
        """The optimizer the payload names, recording the learning rate of every step() call."""

        def step(self, *args, **kwargs):
            recorded.append(float(self.param_groups[0]["lr"]))
            return super().step(*args, **kwargs)

    optimizer = Recording(model.parameters(), lr=opt["lr"], weight_decay=opt["weight_decay"])
    return model, _loader(req, p["train"]), _loader(req, p["val"]), optimizer, recorded


def _known_training_arguments(req, model, train_loader, val_loader, optimizer):
    p = req.payload
    known = {"model": model, "train_loader": train_loader, "val_loader": val_loader, "optimizer": optimizer,
             "device": p["device"], "eval_freq": p["eval_freq"], "eval_iter": p["eval_iter"],
             "start_context": p["start_context"], "tokenizer": StandInTokenizer(p["model"]["cfg"]["vocab_size"])}
    known.update({name: p["num_epochs"] for name in EPOCH_NAMES})
    known.update(p.get("extra", {}))
    return known


@contextlib.contextmanager
def _captured(stream):
    """What the block prints, to stdout or stderr (tqdm) or through logging handlers made earlier (which hold the
    kernel's own streams), written to `stream`."""
    import logging

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [h for logger in loggers for h in getattr(logger, "handlers", [])
                if type(h) is logging.StreamHandler]
    saved = [(h, h.stream) for h in handlers]
    for handler, _ in saved:
        handler.stream = stream
    try:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield
    finally:
        for handler, old in saved:
            handler.stream = old


def _train(req, fn, name):
    """Run a training function on the payload's setup; what it returned, what it printed, the final weights."""
    torch = _torch()
    model, train_loader, val_loader, optimizer, recorded = _training_setup(req)
    forwards = _record_forwards(torch, model)
    known = _known_training_arguments(req, model, train_loader, val_loader, optimizer)
    for param in _parameters(fn):  # no early stopping unless the payload asks for it (None may not be accepted)
        if "patience" in param.lower() and param not in req.payload.get("extra", {}):
            known[param] = NO_EARLY_STOP
    book = [(n, known[n]) for n in ("model", "train_loader", "val_loader", "optimizer", "device")]
    epochs = next((n for n in EPOCH_NAMES if n in _parameters(fn)), "num_epochs")
    book += [(epochs, known[epochs])] + [(n, known[n])
                                         for n in ("eval_freq", "eval_iter", "start_context", "tokenizer")]
    try:  # by keyword when every parameter it needs has a name the grader knows (a subset of the book's is fine)
        by_keyword = _fill(fn, known)
    except TypeError:  # renamed parameters: the book's arguments by position
        by_keyword = None
    printed = io.StringIO()
    torch.manual_seed(0)
    try:
        with _book_helpers(req, fn), _captured(printed):
            if by_keyword is not None:
                result = fn(**by_keyword)
            else:
                result = _call_book(fn, book, **req.payload.get("extra", {}))
    except AttributeError as err:  # the student's code reads an attribute of their own GPTModel on the book's
        if getattr(err, "obj", None) is None or not any(err.obj is m for m in model.modules()):
            raise
        return {"graded": _signature_text(name, fn), "name": name, "model_attribute": err.name,
                "model_part": type(err.obj).__name__}
    returned = list(result) if isinstance(result, (list, tuple)) else [result]
    defaults = {n: q.default for n, q in _parameters(fn).items()
                if q.default is not q.empty and isinstance(q.default, (bool, int, float, str, type(None)))}
    return {"graded": _signature_text(name, fn), "name": name, "params": list(_parameters(fn)), "defaults": defaults,
            "returned": [_numbers(r) for r in returned],
            "returned_types": [type(r).__name__ for r in returned], "steps_lr": recorded,
            "state": {k: v.detach().float().cpu() for k, v in model.state_dict().items()},
            "printed": printed.getvalue()[:MAX_PRINTED], "training": bool(model.training),
            "step_modes": [c["training"] for c in forwards if c["grad"]][:500]}


def probe_train(req):
    """The student's train_model_simple (or payload["fn"], a book name) with payload["extra"] keywords."""
    name = req.payload.get("fn", "train_model_simple")
    if name not in ("train_model_simple", "train_model"):
        raise ValueError(f"unknown training function {name!r}")
    return _train(req, req.resolve_own(name), name)


def _accumulation_candidate(req):
    """(function, its accumulation parameter, why): train_model_simple(accumulation_steps=...), then own
    functions with a parameter that mentions accumulation, then own functions whose name mentions it."""
    book = req.own("train_model_simple")
    if book is not None and "accumulation_steps" in _parameters(book):
        return "train_model_simple", book, "accumulation_steps", "the accumulation_steps keyword of train_model_simple"
    pattern = re.compile(r"accum", re.IGNORECASE)
    for name, fn in req.own_functions():
        param = next((n for n in _parameters(fn) if pattern.search(n)), None)
        if param is not None:
            return name, fn, param, f"its parameter `{param}` mentions accumulation"
    for name, fn in req.own_functions():
        param = next((n for n in _parameters(fn) if re.search(r"steps|^k$|micro", n)), None)
        if pattern.search(name) and param is not None:
            return name, fn, param, f"its name mentions accumulation (steps set through `{param}`)"
    return None


def probe_accumulation(req):
    """Exercise 5.4: the notebook's accumulating training function with payload["steps"] accumulation steps."""
    found = _accumulation_candidate(req)
    if found is None:
        return {"graded": None}
    name, fn, param, why = found
    req.payload["extra"] = {**req.payload.get("extra", {}), param: req.payload["steps"]}
    return {**_train(req, fn, name), "why": why}


TRAINING_PARAMETERS = ("train_loader", "optimizer", "n_epochs", "num_epochs", "epochs")


def _schedule_candidate(req):
    """train_model (GRADER_NAMES first), else a training function (it takes a loader, an optimizer or a number
    of epochs) with a warmup parameter; a bare schedule such as get_lr(step, warmup_steps, ...) is not one."""
    book = req.own("train_model")
    if book is not None:
        return "train_model", book, "the book's name train_model"
    for name, fn in req.own_functions():
        params = _parameters(fn)
        if any("warmup" in n.lower() for n in params) and any(n in params for n in TRAINING_PARAMETERS):
            return name, fn, "a training function with a warmup parameter"
    return None


def probe_schedule(req):
    """Exercise 5.1: the notebook's warmup + cosine training loop (train_model) on the payload's setup."""
    found = _schedule_candidate(req)
    if found is None:
        return {"graded": None}
    name, fn, why = found
    warmup = next((n for n in _parameters(fn) if "warmup" in n.lower()), "warmup_steps")
    req.payload["extra"] = {**req.payload.get("extra", {}), warmup: req.payload["warmup_steps"]}
    return {**_train(req, fn, name), "why": why}


def probe_evaluate(req):
    """The student's evaluate_model on a reference GPT that records, per forward pass, its mode and
    whether gradients were enabled (book's calc_loss_loader/calc_loss_batch standing in)."""
    p, torch = req.payload, _torch()
    fn = req.resolve_own("evaluate_model")
    inner, calls = _reference_gpt(req, p["model"]), []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, *args, **kwargs):
            calls.append({"training": self.training, "grad": torch.is_grad_enabled()})
            return self.inner(*args, **kwargs)

    model = Recorder().to(p["device"]).train()
    with _book_helpers(req, fn, ("calc_loss_batch", "calc_loss_loader")):
        result = _call_book(fn, [("model", model), ("train_loader", _loader(req, p["train"])),
                                 ("val_loader", _loader(req, p["val"])), ("device", p["device"]),
                                 ("eval_iter", p["eval_iter"])])
    returned = list(result) if isinstance(result, (list, tuple)) else [result]
    return {"returned": _numbers(returned),
            "requires_grad": [bool(getattr(r, "requires_grad", False)) for r in returned],
            "calls": calls, "training_after": bool(model.training)}


# ---------------------------------------------------------------- sampling (section 5.3)

def _generate_kwargs(p):
    return {k: p[k] for k in ("temperature", "top_k", "eos_id", "top_p") if k in p}


def probe_generate(req):
    """The student's generate on a model (gpt / fixed / bigram), seeded; payload["rows"] > 1 draws many
    single tokens at once from a batch of identical prompts, falling back to one long row if batches fail."""
    p, torch = req.payload, _torch()
    fn = req.resolve_own("generate")
    model, idx = _model(req, p["model"]), req.decode(p["idx"])
    model.train(p.get("start_mode") == "train")
    forwards = _record_forwards(torch, model)
    book = lambda ids, n: [("model", model), ("idx", ids), ("max_new_tokens", n), ("context_size", p["context_size"])]
    torch.manual_seed(p.get("seed", 0))
    rows = p.get("rows", 1)
    if rows == 1:
        ids = _ids(torch, _call_book(fn, book(idx, p["max_new_tokens"]), **_generate_kwargs(p)))
        return {"ids": ids, "mode": "one", "forward_modes": [c["training"] for c in forwards][:200],
                "training_after": bool(model.training)}
    try:
        out = _call_book(fn, book(idx.repeat(rows, 1), 1), **_generate_kwargs(p))
        return {"ids": _ids(torch, out)[:, idx.shape[1]:].reshape(-1), "mode": "batch"}
    except Exception as err:  # noqa: BLE001 - e.g. the book's top-k threshold only broadcasts over one row
        batch_error = _error(err)
    torch.manual_seed(p.get("seed", 0))
    out = _call_book(fn, book(idx, rows), **_generate_kwargs(p))
    return {"ids": _ids(torch, out)[0, idx.shape[1]:], "mode": "sequence", "batch_error": batch_error}


def _ids(torch, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"generate returned a {type(value).__name__}, not a tensor of token ids")
    return value.detach().cpu().long()


def _nucleus_candidates(req):
    """generate with a top_p parameter, then own functions whose name mentions top_p/nucleus, then own
    sampling/generation/filter functions with a top_p parameter; (name, function, why)."""
    found = []
    book = req.own("generate")
    if book is not None and "top_p" in _parameters(book):
        found.append(("generate", book, "the top_p keyword of generate"))
    pattern = re.compile(r"top_?p|nucleus", re.IGNORECASE)
    for name, fn in req.own_functions():
        if pattern.search(name) and all(fn is not f for _, f, _ in found):
            found.append((name, fn, "its name mentions top_p / nucleus"))
    sampler = re.compile(r"sampl|generat|filter|decod", re.IGNORECASE)  # not e.g. a helper that counts tokens
    for name, fn in req.own_functions():
        if "top_p" in _parameters(fn) and sampler.search(name) and all(fn is not f for _, f, _ in found):
            found.append((name, fn, "it takes a top_p parameter"))
    return found


def _p_parameter(fn):
    names = list(_parameters(fn))
    for guess in ("top_p", "p", "nucleus_p", "threshold", "prob", "cumulative_prob"):
        if guess in names:
            return guess
    return next((n for n in names if re.search(r"top_?p|nucleus", n, re.IGNORECASE)), None)


def _sample_nucleus(req, fn, row, top_p):
    """What fn does with logits `row` and top_p: the tokens it kept (a filter) or sampled (a sampler)."""
    p, torch = req.payload, _torch()
    params = _parameters(fn)
    p_name = _p_parameter(fn)
    torch.manual_seed(p.get("seed", 0))
    if "model" in params:  # a generation function
        model = _fixed_logits_model(torch, row)
        known = {"model": model, "idx": torch.zeros(p["rows"], 1, dtype=torch.long), "max_new_tokens": 1,
                 "context_size": 4, "temperature": 1.0, p_name or "top_p": top_p}
        try:
            out = fn(**_fill(fn, known))
            return {"kind": "sampled", "tokens": _ids(torch, out)[:, 1:].reshape(-1), "requested": p["rows"]}
        except Exception as err:  # noqa: BLE001 - retry with one row
            known.update(idx=torch.zeros(1, 1, dtype=torch.long), max_new_tokens=p["rows"])
            torch.manual_seed(p.get("seed", 0))
            out = fn(**_fill(fn, known))
            return {"kind": "sampled", "tokens": _ids(torch, out)[0, 1:], "batch_error": _error(err),
                    "requested": p["rows"]}
    logits = row.clone().float().unsqueeze(0)
    out = fn(logits, **{p_name: top_p}) if p_name and list(params).index(p_name) > 0 else fn(logits, top_p)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if isinstance(out, torch.Tensor) and out.numel() == row.numel() and out.is_floating_point():
        with req.guard():
            out = out.reshape(-1)
            is_probs = bool(torch.isfinite(out).all() and (out >= 0).all() and abs(float(out.sum()) - 1) < 1e-3)
            kept = out > 0 if is_probs else torch.isfinite(out)
        return {"kind": "probabilities" if is_probs else "filtered logits", "kept": kept}
    tokens = []  # a sampler returning one token per call
    for _ in range(p["rows"] // 4):
        value = fn(logits, **{p_name: top_p}) if p_name and list(params).index(p_name) > 0 else fn(logits, top_p)
        tokens.append(int(_number(value)))
    return {"kind": "sampled", "tokens": torch.tensor(tokens, dtype=torch.long), "requested": p["rows"] // 4}


def probe_nucleus(req):
    """Exercise 5.2: the best nucleus-sampling candidate on payload["row"] with payload["top_p"]."""
    found = _nucleus_candidates(req)
    if not found:
        return {"graded": None}
    name, fn, why = found[0]
    result = _sample_nucleus(req, fn, req.decode(req.payload["row"]), req.payload["top_p"])
    return {"graded": _signature_text(name, fn), "name": name, "why": why, "others": [n for n, _, _ in found[1:]],
            **result}


# ---------------------------------------------------------------- GPT-2 weights (section 5.5)

def _openai_params(req, tensors):
    """The book's `params` dict (numpy arrays, OpenAI's nesting) from flat "a.b.c" tensor names."""
    params = {"blocks": []}
    for key, value in sorted(tensors.items()):
        parts, array = key.split("."), value.numpy()
        if parts[0] == "blocks":
            index = int(parts[1])
            while len(params["blocks"]) <= index:
                params["blocks"].append({})
            node = params["blocks"][index]
            parts = parts[2:]
        else:
            node = params
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = array
    return params


def probe_load_weights(req):
    """The student's GPTModel(cfg) (seeded) after their load_weights_into_gpt(gpt, params): logits on
    payload["inputs"] and the model's state dict; an exception comes back as the answer."""
    p, torch = req.payload, _torch()
    cls, fn = req.resolve_own("GPTModel"), req.resolve_own("load_weights_into_gpt")
    torch.manual_seed(p.get("seed", 0))
    gpt = cls(cfg=dict(p["cfg"]))
    params = _openai_params(req, req.decode(p["params"]))
    try:
        returned = _call_book(fn, [("gpt", gpt), ("params", params)])
    except Exception as err:  # noqa: BLE001 - the student's error is the answer
        return {"load_error": _error(err)}
    model = returned if isinstance(returned, torch.nn.Module) else gpt
    model.eval()
    try:
        with torch.no_grad():
            logits = model(req.decode(p["inputs"]))
    except Exception as err:  # noqa: BLE001 - e.g. a weight left in OpenAI's (in, out) layout
        return {"forward_error": _error(err)}
    return {"logits": logits, "state": {k: v.detach().float().cpu() for k, v in model.state_dict().items()}}
