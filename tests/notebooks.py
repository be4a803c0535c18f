"""Golden notebooks for the engine's tests, built with nbformat in a temporary folder."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def markdown(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text)


def write_notebook(path: Path, *cells) -> Path:
    """Write a notebook whose cells are code sources (str) or ready-made cells; return its path."""
    nb = new_notebook(cells=[new_code_cell(c) if isinstance(c, str) else c for c in cells])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
