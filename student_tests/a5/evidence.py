"""What the notebook as submitted shows of a training run: printed losses and accuracies, and plots.

Read from `nb.original`, the notebook with the student's own saved outputs (the grader does not
repeat a long training run). Not a check module; the a5 suites import it.
"""

import re
from dataclasses import dataclass

NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# not inside a longer word, but "train_loss=" and "val_acc" count ("_" is a word character to \b)
LOSS = re.compile(rf"(?<![A-Za-z])loss(?![A-Za-z])[^\n\d]{{0,20}}?({NUMBER})", re.IGNORECASE)
ACCURACY = re.compile(rf"(?<![A-Za-z])acc(?:uracy)?(?![A-Za-z])[^\n\d]{{0,20}}?({NUMBER})\s*%?", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    """Counts of what the saved outputs hold, and one example line of each kind."""

    code_cells: int
    cells_with_output: int
    loss_values: int
    accuracy_values: int
    plots: int
    loss_example: str = ""
    accuracy_example: str = ""

    @property
    def shows_training(self) -> bool:
        return bool(self.loss_values or self.accuracy_values or self.plots)

    def describe(self) -> str:
        found = [f"{self.loss_values} printed loss value(s)"
                 + (f" (e.g. `{self.loss_example}`)" if self.loss_example else ""),
                 f"{self.accuracy_values} printed accuracy value(s)"
                 + (f" (e.g. `{self.accuracy_example}`)" if self.accuracy_example else ""),
                 f"{self.plots} plot(s)"]
        return (f"{self.code_cells} code cells, {self.cells_with_output} with saved outputs; found "
                + ", ".join(found))


def output_texts(output) -> list[str]:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return [text if isinstance(text, str) else "".join(text)]
    data = output.get("data", {}) or {}
    plain = data.get("text/plain", "")
    return [plain if isinstance(plain, str) else "".join(plain)] if plain else []


def _plots(output) -> int:
    data = output.get("data", {}) or {}
    return int(output.get("output_type") in ("display_data", "execute_result")
               and any(key in data for key in ("image/png", "image/svg+xml", "image/jpeg")))


def training_evidence(notebook) -> Evidence:
    """Scan the code cells' saved outputs of `notebook` (nbformat) for losses, accuracies and plots."""
    cells = [c for c in (notebook.cells if notebook is not None else []) if c.get("cell_type") == "code"]
    losses, accuracies, plots, with_output = [], [], 0, 0
    for cell in cells:
        outputs = cell.get("outputs", []) or []
        with_output += bool(outputs)
        for output in outputs:
            plots += _plots(output)
            for text in output_texts(output):
                for line in text.splitlines():
                    losses += [line.strip()] * len(LOSS.findall(line))
                    accuracies += [line.strip()] * len(ACCURACY.findall(line))
    clip = lambda lines: lines[0][:80] if lines else ""
    return Evidence(len(cells), with_output, len(losses), len(accuracies), plots, clip(losses), clip(accuracies))
