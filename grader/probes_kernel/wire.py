"""The probe wire format, both ways, in one module: JSON values with their tensors carried beside them.

The grader imports this file (grader.probes_kernel.wire) and kernel_side loads it by path inside the
student's kernel, so it imports only the standard library. A request's payload and a response's data are
JSON; each tensor travels in a safetensors file next to the JSON and stands in it as {"$tensor": key}.
The other markers are objects with one key:

    $tensor  a tensor of the file beside the JSON                  (both ways)
    $tuple   a tuple, given as a list                              (payloads)
    $global  the notebook's global with this book name             (payloads)
    $gpt2    GPT-2's tokenizer                                     (payloads)
    $linear  an nn.Linear with the given weight and bias           (payloads)
    $repr    a value that is not JSON, by its repr (with $type)    (responses)
"""

TENSOR, TUPLE, GLOBAL, GPT2, LINEAR, REPR, TYPE = "$tensor", "$tuple", "$global", "$gpt2", "$linear", "$repr", "$type"
MARKERS = frozenset({TENSOR, TUPLE, GLOBAL, GPT2, LINEAR, REPR})
MAX_DEPTH = 32


def marker(value):
    """The marker of a one-key marker object ({"$tensor": "a0"} -> "$tensor"); None for any other value."""
    if isinstance(value, dict) and len(value) == 1:
        [key] = value
        return key if key in MARKERS else None
    return None


def encode(value, tensors, *, prefix, as_tensor, keep_tuples, other=lambda value: value, key=str, depth=0):
    """The JSON form of `value`. Each value for which `as_tensor` gives a tensor goes into `tensors` under a new
    key ("<prefix><n>") and becomes {"$tensor": key}; tuples become {"$tuple": [...]} with `keep_tuples`, else
    lists; dict keys pass through `key`; any other value that is not JSON becomes other(value). Deeper than
    MAX_DEPTH: {"$repr": "<nested too deeply>"}."""
    if depth > MAX_DEPTH:
        return {REPR: "<nested too deeply>"}
    tensor = as_tensor(value)
    if tensor is not None:
        name = f"{prefix}{len(tensors)}"
        tensors[name] = tensor
        return {TENSOR: name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value

    def inner(item):
        return encode(item, tensors, prefix=prefix, as_tensor=as_tensor, keep_tuples=keep_tuples, other=other,
                      key=key, depth=depth + 1)

    if isinstance(value, tuple) and keep_tuples:
        return {TUPLE: [inner(item) for item in value]}
    if isinstance(value, (list, tuple)):
        return [inner(item) for item in value]
    if isinstance(value, dict):
        return {key(k): inner(v) for k, v in value.items()}
    return other(value)


def decode(value, resolve):
    """`value` with every marker object replaced by resolve(marker, content), lists and other objects walked.
    `resolve` gets the content as it is in the JSON (it decodes nested content itself where it has any)."""
    name = marker(value)
    if name is not None:
        return resolve(name, value[name])
    if isinstance(value, list):
        return [decode(item, resolve) for item in value]
    if isinstance(value, dict):
        return {k: decode(v, resolve) for k, v in value.items()}
    return value


def tensor_keys(value):
    """Every key that a {"$tensor": key} in `value` refers to, in order."""
    if marker(value) == TENSOR:
        yield value[TENSOR]
        return
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        yield from tensor_keys(item)
