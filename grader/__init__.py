"""The grading engine: discover, load, execute, probe, compare, score, render."""

__version__ = "0.1.0"
