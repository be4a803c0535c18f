"""Kernel-side probes beyond the built-ins in grader/kernel_side.py, one file per group.

A file `<group>.py` here defines plain functions `probe_<name>(req)`; the grader calls them
as `Probe.call("<group>.<name>", payload, tensors)`. kernel_side loads the file by path with
runpy in the kernel, so it should import only what it needs (torch inside the function) and
need not import the grader: `req` is a kernel_side.Request (`req.payload`, `req.tensors`,
`req.resolve(book_name)`, `req.resolve_own(book_name)`, `req.decode(value)`,
`req.construct()`, `req.namespace`). Return a dict of JSON values and tensors.
"""
