"""Kernel-side probes for assignment 1 (chapter 2): tokenizers, the sliding-window dataset, its loader.

Each probe builds or finds the student's object, runs it on the grader's inputs and returns plain
data: token ids as lists of ints, texts as strings, dataset items and batches as tensors. A
student's exception inside encode/decode is part of the answer ({"error": name, "message": ...}),
so a check can say "raised KeyError" or compare it with the reference's behaviour.
"""

import operator

MAX_ITEMS = 256  # dataset items / batches sent back at most
MAX_VOCAB = 200_000


def _error(err):
    return {"error": type(err).__name__, "message": str(err)[:300]}


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


def probe_tokenizer(req):
    """Build payload["name"](**init); encode payload["texts"], decode payload["ids"], and round trips, item by item.

    "round_trip_texts" are encoded then decoded, "round_trip_ids" decoded then encoded; a step that
    raises gives that item's error.
    """
    p = req.payload
    tokenizer = req.resolve_own(p["name"])(**req.decode(p.get("init", {})))
    return {"encoded": _encode_all(tokenizer.encode, p.get("texts", [])),
            "decoded": _decode_all(tokenizer.decode, p.get("ids", [])),
            "text_round_trip": [_decode_all(tokenizer.decode, [r["ids"]])[0] if "ids" in r else r
                                for r in _encode_all(tokenizer.encode, p.get("round_trip_texts", []))],
            "ids_round_trip": [_encode_all(tokenizer.encode, [r["text"]])[0] if "text" in r else r
                               for r in _decode_all(tokenizer.decode, p.get("round_trip_ids", []))]}


def _simple_tokenizer_types(req):
    found = (req.global_value(name) for name in ("SimpleTokenizerV1", "SimpleTokenizerV2"))
    return tuple(t for t in found if isinstance(t, type))


def _bpe_candidate(req, name):
    """The notebook's BPE tokenizer: `name` (GRADER_NAMES-aware) unless it is a word-level one, else a tiktoken global."""
    simple = _simple_tokenizer_types(req)
    try:
        obj, record = req.resolve(name)
        if not isinstance(obj, type) and hasattr(obj, "encode") and not isinstance(obj, simple):
            return obj, record["used_name"]
    except Exception as err:  # a missing name: look further
        if getattr(err, "kind", None) != "missing":
            raise
    for key, value in sorted(req.namespace.items()):
        if not key.startswith("_") and type(value).__module__.startswith("tiktoken"):
            return value, key
    return None, None


def probe_bpe_tokenizer(req):
    """Encode/decode with the notebook's GPT-2 BPE tokenizer (a global `tokenizer`, or any tiktoken encoding)."""
    p = req.payload
    tokenizer, used = _bpe_candidate(req, p.get("name", "tokenizer"))
    if tokenizer is None:
        return {"found": False}
    allowed = set(p.get("allowed_special", []))

    def encode(text):
        try:
            return tokenizer.encode(text, allowed_special=allowed)
        except TypeError:  # a student's own BPE without tiktoken's keyword
            return tokenizer.encode(text)

    return {"found": True, "used_name": used, "type": type(tokenizer).__name__,
            "encoded": _encode_all(encode, p.get("texts", [])),
            "decoded": _decode_all(tokenizer.decode, p.get("ids", []))}


def _pair(item, what):
    import torch
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise TypeError(f"{what} should be an (inputs, targets) pair, got {type(item).__name__}")
    return [torch.as_tensor(item[0]), torch.as_tensor(item[1])]


def probe_dataset(req):
    """Build the dataset with payload["init"]; its len and the items at payload["indices"] (all, capped, if absent)."""
    p = req.payload
    dataset = req.resolve_own(p["name"])(**req.decode(p.get("init", {})))
    length = len(dataset)
    indices = p.get("indices")
    indices = range(min(length, MAX_ITEMS)) if indices is None else [i for i in indices if 0 <= i < length]
    return {"length": length, "items": [_pair(dataset[i], f"item {i}") for i in indices]}


def probe_dataloader(req):
    """Call payload["name"](**kwargs) under torch.manual_seed(seed); len(loader) and its first batches."""
    import torch
    p = req.payload
    make = req.resolve_own(p["name"])
    torch.manual_seed(p.get("seed", 0))
    loader = make(**req.decode(p.get("kwargs", {})))
    try:
        count = len(loader)
    except TypeError:
        count = None
    batches = []
    for batch in loader:
        if len(batches) >= min(p.get("max_batches", MAX_ITEMS), MAX_ITEMS):
            break
        batches.append(_pair(batch, f"batch {len(batches)}"))
    return {"num_batches": count, "batches": batches}


def probe_vocab(req):
    """The notebook's vocabulary (a global `vocab`, GRADER_NAMES-aware) as [token, id] pairs."""
    obj, record = req.resolve(req.payload.get("name", "vocab"))
    if not hasattr(obj, "items"):
        return {"used_name": record["used_name"], "type": type(obj).__name__, "items": None}
    items = list(obj.items())[:MAX_VOCAB]
    return {"used_name": record["used_name"], "type": type(obj).__name__,
            "items": [[str(token), operator.index(i)] for token, i in items]}


def probe_frequencies(req):
    """Call payload["name"](token_ids) and return its mapping as [id, count] pairs."""
    p = req.payload
    counts = req.resolve_own(p["name"])(req.decode(p["token_ids"]))
    if not hasattr(counts, "items"):
        raise TypeError(f"expected a mapping from token id to count, got {type(counts).__name__}")
    return {"pairs": [[operator.index(k), operator.index(v)] for k, v in counts.items()]}
