"""Stub components, one module per check suite: `SAMPLE` (a correct sample the stubs are appended to),
`STUBS` ({book name: {flavour: cell source}}), flavours "zeros", "input" and "constant" (returns zeros,
its input, or a constant of the right shape). A stub keeps the book's constructor and parameters, so
only what it computes gives it away. tests/test_stubs.py grades the sample with every component
replaced, rotating the flavours, and asserts that no check of a stubbed component earns
Correctness/Implementation points.
"""

FLAVOURS = ("zeros", "input", "constant")
