"""a1's signature check takes the loader of the book's early versions, `create_dataloader_v1(txt, batch_size=4,
max_length=256, stride=128, shuffle=True)` (no drop_last, no num_workers; the loader checks already call it
without them), and still fails a loader that declares drop_last with a default other than the book's True."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
EARLY = '''\
def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True):
    tokenizer = tiktoken.get_encoding("gpt2")
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
'''
DROP_LAST_FALSE = (EARLY.replace("shuffle=True):", "shuffle=True, drop_last=False):")
                   .replace("shuffle=shuffle)", "shuffle=shuffle, drop_last=drop_last)"))


@pytest.mark.parametrize(("loader", "passes"), [(EARLY, True), (DROP_LAST_FALSE, False)],
                         ids=["early", "drop-last-false"])
def test_signature_check_on_the_early_loader(tmp_path, loader, passes):
    folder = shutil.copytree(ROOT / "submissions" / "a1" / "ada-correct", tmp_path / "ada")
    path = folder / "assignment1.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import tiktoken\nfrom torch.utils.data import DataLoader\n\n"
                                                    + loader))
    nbformat.write(notebook, path)
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "student_tests" / "a1"), "--submission",
                             str(folder), "-q", "-p", "no:cacheprovider", "-k", "test_defined_with_the_book_signature"],
                            capture_output=True, text=True, timeout=300)
    assert "4 passed" in result.stdout if passes else "3 passed" in result.stdout, result.stdout[-3000:]
    if not passes:
        assert "defaults {'drop_last': False}" in result.stdout and "missing" not in result.stdout
