"""Generic kernel-side probes: protocol self-checks and notebook globals."""


def probe_echo(req):
    """Send the payload and input tensors back unchanged (a round-trip check of the protocol)."""
    return {"payload": req.payload, "tensors": dict(req.tensors)}


def probe_global_type(req):
    """The type name and defining module of a notebook global, e.g. the trained `model`."""
    obj, record = req.resolve(req.payload["name"])
    return {"type": type(obj).__name__, "module": type(obj).__module__, "origin": record}
