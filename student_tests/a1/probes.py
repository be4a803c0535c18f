"""Kernel-side probes for assignment 1 (chapter 2): tokenizers, the sliding-window dataset, its loader.

Each probe builds or finds the student's object, runs it on the grader's inputs and returns plain
data: token ids as lists of ints, texts as strings, dataset items and batches as tensors. A
student's exception inside encode/decode is part of the answer ({"error": name, "message": ...}),
and so is one raised while building a dataset or loader (a ValueError on a text too short for one
window is correct behaviour), so a check can compare it with what the book allows.

Names outside the submission contract are found by what they are: the vocabulary (a dict from the
story's tokens to ids 0..n-1, a global or held by one of the notebook's objects), the GPT-2 BPE
tokenizer (an object that encodes like GPT-2), and the exercises' functions (GRADER_NAMES, the
book's name, then a name pattern and a trial call); every such probe says what it used and why.
"""

import inspect
import itertools
import operator
import re

MAX_ITEMS = 256  # dataset items / batches sent back at most
MAX_VOCAB = 200_000
MAX_CANDIDATES = 8
GPT2_HELLO = ("Hello, world!", [15496, 11, 995, 0])  # what GPT-2's BPE makes of a text (section 2.5)
OPTIONAL_LOADER_ARGS = ("drop_last", "num_workers")  # early versions of the book's loader lack these


def _own_modules(req):
    """Names of the modules the submission's own classes live in: the notebook's and its folder's .py files."""
    return {"__main__"} | {name for name, _ in req.submission_modules()}


def _is_own(obj, modules):
    """Whether obj (a class, or an instance's class) was defined in one of `modules`."""
    target = obj if inspect.isclass(obj) else type(obj)
    return (getattr(target, "__module__", None) or "") in modules


def _error(err):
    """The student's exception as data; "kinds" (its classes) lets a check accept a subclass of KeyError."""
    return {"error": type(err).__name__, "message": str(err)[:300],
            "kinds": [c.__name__ for c in type(err).__mro__ if c not in (object, BaseException)]}


def _ids(value):
    """A list of ints from a list, tuple, tensor or array of integers; TypeError otherwise."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    try:
        return [operator.index(i) for i in value]
    except TypeError:
        raise TypeError(f"expected a list of integer ids, got {type(value).__name__}: {str(value)[:120]}") from None


def _encode_all(encode, texts):
    results = []
    for text in texts:
        try:
            results.append({"ids": _ids(encode(text))})
        except Exception as err:  # noqa: BLE001 - the student's error is the answer
            results.append(_error(err))
    return results


def _decode_all(decode, id_lists):
    results = []
    for ids in id_lists:
        try:
            text = decode(ids)
            results.append({"text": text} if isinstance(text, str) else
                           {"error": "TypeError", "message": f"decode returned a {type(text).__name__}, not a str"})
        except Exception as err:  # noqa: BLE001 - the student's error is the answer
            results.append(_error(err))
    return results


def _own_name(req, used):
    """The notebook's own object under `used` (a name the exercise search returned), or a missing error."""
    obj = req.namespace.get(used)
    if obj is None:
        raise KeyError(f"{used} is not defined")
    return obj


def probe_tokenizer(req):
    """Build payload["name"](**init) (or payload["used_name"], an exercise found by search); encode
    payload["texts"], decode payload["ids"], and round trips, item by item.

    "round_trip_texts" are encoded then decoded, "round_trip_ids" decoded then encoded; a step that
    raises gives that item's error.
    """
    p = req.payload
    cls = _own_name(req, p["used_name"]) if p.get("used_name") else req.resolve_own(p["name"])
    tokenizer = cls(**req.decode(p.get("init", {})))
    return {"encoded": _encode_all(tokenizer.encode, p.get("texts", [])),
            "decoded": _decode_all(tokenizer.decode, p.get("ids", [])),
            "text_round_trip": [_decode_all(tokenizer.decode, [r["ids"]])[0] if "ids" in r else r
                                for r in _encode_all(tokenizer.encode, p.get("round_trip_texts", []))],
            "ids_round_trip": [_encode_all(tokenizer.encode, [r["text"]])[0] if "text" in r else r
                               for r in _decode_all(tokenizer.decode, p.get("round_trip_ids", []))]}


# ---------------------------------------------------------------- the GPT-2 BPE tokenizer, by behaviour

def _simple_tokenizer_types(req):
    found = (req.global_value(name) for name in ("SimpleTokenizerV1", "SimpleTokenizerV2"))
    return tuple(t for t in found if isinstance(t, type))


def _encodes_like_gpt2(obj):
    text, ids = GPT2_HELLO
    try:
        return _ids(obj.encode(text)) == ids
    except Exception:  # noqa: BLE001 - a tokenizer that cannot encode plain text is not GPT-2's
        return False


def _bpe_candidates(req, name):
    """(object, name) of what may be the notebook's BPE tokenizer, most likely first: `name`
    (GRADER_NAMES-aware) unless it is a word-level tokenizer, tiktoken encodings, other objects with
    encode and decode."""
    simple = _simple_tokenizer_types(req)
    found = []
    named = req.lookup(name)
    if named is not None and not isinstance(named[0], type) and not isinstance(named[0], simple):
        found.append((named[0], named[1]["used_name"]))
    others = [(key, value) for key, value in sorted(req.namespace.copy().items())
              if not key.startswith("_") and not isinstance(value, type) and not inspect.ismodule(value)
              and callable(getattr(value, "encode", None)) and callable(getattr(value, "decode", None))
              and not isinstance(value, (str, bytes)) and not isinstance(value, simple)]
    found += [(v, k) for k, v in others if type(v).__module__.startswith("tiktoken")]
    found += [(v, k) for k, v in others if not type(v).__module__.startswith("tiktoken")]
    unique = []
    for obj, key in found:
        if all(obj is not o for o, _ in unique):
            unique.append((obj, key))
    return unique


def probe_bpe_tokenizer(req):
    """Encode/decode with the notebook's GPT-2 BPE tokenizer: the first candidate (a global `tokenizer`,
    a tiktoken encoding, any object with encode/decode) that encodes a plain sentence like GPT-2."""
    p = req.payload
    candidates = _bpe_candidates(req, p.get("name", "tokenizer"))
    tokenizer, used = next(((obj, key) for obj, key in candidates if _encodes_like_gpt2(obj)), (None, None))
    if tokenizer is None:
        return {"found": False, "examined": [f"{key} ({type(obj).__name__})" for obj, key in candidates][:10]}
    allowed = set(p.get("allowed_special", []))

    def encode(text):
        try:
            return tokenizer.encode(text, allowed_special=allowed)
        except TypeError:  # a student's own BPE without tiktoken's keyword
            return tokenizer.encode(text)

    return {"found": True, "used_name": used, "type": type(tokenizer).__name__,
            "encoded": _encode_all(encode, p.get("texts", [])),
            "decoded": _decode_all(tokenizer.decode, p.get("ids", []))}


# ---------------------------------------------------------------- dataset and loader

def _pair(item, what):
    import torch
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise TypeError(f"{what} should be an (inputs, targets) pair, got {type(item).__name__}")
    return [torch.as_tensor(item[0]), torch.as_tensor(item[1])]


def probe_dataset(req):
    """Build the dataset with payload["init"]; its len and the items at payload["indices"] (all, capped, if
    absent). An exception while building it is the answer ({"error": ...}): on a text too short for one
    window, a ValueError or AssertionError is what the book's current code does."""
    p = req.payload
    cls = req.resolve_own(p["name"])
    try:
        dataset = cls(**req.decode(p.get("init", {})))
    except Exception as err:  # noqa: BLE001 - the student's refusal is the answer
        return _error(err)
    length = len(dataset)
    indices = p.get("indices")
    indices = range(min(length, MAX_ITEMS)) if indices is None else [i for i in indices if 0 <= i < length]
    return {"length": length, "items": [_pair(dataset[i], f"item {i}") for i in indices]}


def _accepted(fn, kwargs):
    """kwargs without the optional loader arguments fn does not take (the early book loader has neither
    drop_last nor num_workers); the names left out."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kwargs, []
    if any(q.kind == q.VAR_KEYWORD for q in params.values()):
        return kwargs, []
    dropped = [k for k in OPTIONAL_LOADER_ARGS if k in kwargs and k not in params]
    return {k: v for k, v in kwargs.items() if k not in dropped}, dropped


def probe_dataloader(req):
    """Call payload["name"](**kwargs) under torch.manual_seed(seed); len(loader) and its first batches, per
    pass over the loader when payload["epochs"] > 1 ("epochs": the batches of each pass).

    Keywords in OPTIONAL_LOADER_ARGS the function does not take are left out ("dropped"). An exception
    while building the loader or iterating it is the answer ({"error": ...})."""
    import torch
    p = req.payload
    make = req.resolve_own(p["name"])
    kwargs, dropped = _accepted(make, req.decode(p.get("kwargs", {})))
    limit = min(p.get("max_batches", MAX_ITEMS), MAX_ITEMS)
    torch.manual_seed(p.get("seed", 0))
    passes = []
    try:
        loader = make(**kwargs)
        for _ in range(max(1, min(p.get("epochs", 1), 4))):
            passes.append(list(itertools.islice(loader, limit)))
    except Exception as err:  # noqa: BLE001 - the student's refusal is the answer
        return {**_error(err), "dropped": dropped}
    try:
        count = len(loader)
    except TypeError:
        count = None
    epochs = [[_pair(b, f"batch {i}") for i, b in enumerate(batches)] for batches in passes]
    return {"num_batches": count, "batches": epochs[0], "epochs": epochs, "dropped": dropped}


# ---------------------------------------------------------------- the vocabulary, by type

def _vocabulary_items(value):
    """[[token, id], ...] when value is a dict from strings to the ids 0..n-1 (n >= 2), else None."""
    if not isinstance(value, dict) or not 2 <= len(value) <= MAX_VOCAB:
        return None
    items = []
    for token, i in list(value.items()):
        if not isinstance(token, str) or isinstance(i, bool) or not isinstance(i, int):
            return None
        items.append([token, i])
    return items if sorted(i for _, i in items) == list(range(len(items))) else None


def _held_vocabularies(req):
    """(where, items) of vocabulary dicts held as attributes by the notebook's own objects (a tokenizer)."""
    found, modules = [], _own_modules(req)
    for key, value in sorted(req.namespace.copy().items()):
        if key.startswith("_") or isinstance(value, type) or inspect.ismodule(value) or inspect.isroutine(value):
            continue
        if not _is_own(value, modules):
            continue
        for attr, held in sorted(getattr(value, "__dict__", {}).items()):
            items = _vocabulary_items(held)
            if items is not None:
                found.append((f"{key}.{attr}", items))
    return found


def _named_items(value):
    """[[token, id], ...] of a mapping from tokens to integer ids (any ids), else None."""
    if not hasattr(value, "items"):
        return None
    try:
        return [[str(token), operator.index(i)] for token, i in list(value.items())[:MAX_VOCAB]]
    except (TypeError, ValueError):
        return None


def probe_vocab(req):
    """The notebook's vocabularies as [token, id] pairs: "named", its `vocab` (GRADER_NAMES-aware) when that
    maps tokens to integer ids, and "candidates", every global dict from strings to ids 0..n-1 and every
    such dict held by one of the notebook's objects (a tokenizer's table), for the check to pick by content."""
    found = req.lookup(req.payload.get("name", "vocab"))
    items = None if found is None else _named_items(found[0])
    named = None if items is None else {"where": found[1]["used_name"], "items": items}
    others = [(key, items) for key, value in sorted(req.namespace.copy().items())
              if not key.startswith("_") and (items := _vocabulary_items(value)) is not None
              and (found is None or value is not found[0])]
    others += _held_vocabularies(req)
    return {"named": named,
            "candidates": [{"where": where, "items": items} for where, items in others[:MAX_CANDIDATES]]}


# ---------------------------------------------------------------- exercises, by name then by pattern

def _try_char_tokenizer(cls):
    tokenizer = cls(text="ab")
    return isinstance(tokenizer.decode(tokenizer.encode("ba")), str)


def _try_pad_collate(fn):
    import torch
    batch = [(torch.tensor([1, 2]), torch.tensor([2, 3])), (torch.tensor([5]), torch.tensor([6]))]
    result = fn(batch)
    return isinstance(result, (list, tuple)) and len(result) == 2


def _try_frequencies(fn):
    return _count_pairs(fn([3, 1, 3])) is not None


def _count_pairs(counts):
    """[[id, count], ...] of a mapping (a dict, a Counter) or of a sequence of (id, count) pairs (most_common());
    None for anything else."""
    if hasattr(counts, "items"):
        return [[operator.index(k), operator.index(v)] for k, v in counts.items()]
    if isinstance(counts, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in counts):
        pairs = [[operator.index(k), operator.index(v)] for k, v in counts]
        return pairs if len({k for k, _ in pairs}) == len(pairs) else None
    return None


EXERCISES = {  # book name: (kind, name pattern, trial call)
    "CharTokenizer": ("class", re.compile(r"char", re.IGNORECASE), _try_char_tokenizer),
    "pad_collate": ("function", re.compile(r"pad", re.IGNORECASE), _try_pad_collate),
    "token_frequencies": ("function", re.compile(r"freq|count.*token|token.*count", re.IGNORECASE), _try_frequencies),
}


def _trial(trial, obj):
    """None when obj takes the exercise's trial call; else why not (one that raises is not the exercise's)."""
    try:
        return None if trial(obj) else "its trial call gave something else than the exercise's result"
    except Exception as err:  # noqa: BLE001 - any failure means "not this one"
        return f"its trial call raised {type(err).__name__}: {str(err)[:120]}"


def _own_kind(req, kind):
    """(name, object) of the notebook's own classes or functions, in name order."""
    if kind == "function":
        return req.own_functions()
    modules = _own_modules(req)
    return [(name, obj) for name, obj in sorted(req.namespace.copy().items())
            if not name.startswith("_") and inspect.isclass(obj) and _is_own(obj, modules)]


def probe_find_exercise(req):
    """The notebook's function or class for an exercise: GRADER_NAMES, the book's name, then its own
    classes/functions whose name matches the exercise's pattern and that accept a trial call."""
    book = req.payload["name"]
    kind, pattern, trial = EXERCISES[book]
    found = req.lookup(book)
    if found is not None and found[1]["in_submission"]:
        return {"used_name": found[1]["used_name"], "why": found[1]["found"]}
    imported = None if found is None else found[1]["module"]
    rejected = []
    for name, obj in _own_kind(req, kind):
        if not pattern.search(name) or name in req.payload.get("exclude", []):
            continue
        if (why := _trial(trial, obj)) is None:
            return {"used_name": name, "why": f"its name matching /{pattern.pattern}/ and a trial call with "
                                              f"the exercise's arguments"}
        rejected.append({"name": name, "why": why})
    return {"used_name": None, "imported_from": imported, "rejected": rejected}


def probe_frequencies(req):
    """Call payload["used_name"] (the exercise search's result) on token_ids; its counts as [id, count] pairs, or
    {"not_counts": what it returned} when that is neither a mapping nor a sequence of (id, count) pairs."""
    p = req.payload
    counts = _own_name(req, p["used_name"])(req.decode(p["token_ids"]))
    pairs = _count_pairs(counts)
    return {"pairs": pairs} if pairs is not None else {"not_counts": repr(counts)[:200]}
