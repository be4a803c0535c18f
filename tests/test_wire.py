"""The probe wire format (grader/probes_kernel/wire.py): what one side encodes, the other decodes back."""

import json

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.probes_kernel import wire

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8)
tensors = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=4).map(torch.tensor)
values = st.recursive(scalars | tensors, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=5).filter(lambda k: not k.startswith("$")), inner,
                                        max_size=3), max_leaves=12)


def _as_tensor(value):
    return value if isinstance(value, torch.Tensor) else None


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@given(value=values)
def test_a_payload_comes_back_with_its_tensors_and_tuples(value):
    """Encoded as the grader sends payloads, decoded as the kernel reads them: the same value, JSON between."""
    carried: dict = {}
    sent = json.loads(json.dumps(wire.encode(value, carried, prefix="a", as_tensor=_as_tensor, keep_tuples=True)))

    def resolve(name, content):
        return carried[content] if name == wire.TENSOR else tuple(wire.decode(v, resolve) for v in content)

    assert _same(wire.decode(sent, resolve), value)
    assert sorted(wire.tensor_keys(sent)) == sorted(carried)


def test_a_response_turns_tuples_into_lists_and_strangers_into_their_repr():
    carried: dict = {}
    sent = wire.encode({"pair": (1, torch.ones(2)), "odd": object}, carried, prefix="t", as_tensor=_as_tensor,
                       keep_tuples=False, other=lambda v: {wire.REPR: v.__qualname__, wire.TYPE: type(v).__name__})
    assert sent == {"pair": [1, {"$tensor": "t0"}], "odd": {"$repr": "object", "$type": "type"}}
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 2):
        deep = [deep]
    assert "<nested too deeply>" in json.dumps(wire.encode(deep, {}, prefix="t", as_tensor=_as_tensor,
                                                           keep_tuples=False))


def test_only_one_key_marker_objects_are_markers():
    assert wire.marker({"$tensor": "a0"}) == "$tensor" and wire.marker({"$gpt2": True}) == "$gpt2"
    assert wire.marker({"$tensor": "a0", "x": 1}) is None and wire.marker({"tensor": 1}) is None
    assert wire.marker(["$tensor"]) is None
