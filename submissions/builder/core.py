"""What every spec shares: the Sample record, correct samples read from their committed folders, one-bug copies,
renaming, and writing, running and checking samples.

A sample is its notebook cells as (kind, source) pairs, its README and the student's own .py modules. A spec
module (a1.py, ...) reads its correct samples from their committed folders (handed_in) and makes the others
from them (variant, renamed, own_names). Nothing here knows an assignment; build.py drives it.
"""

import json
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

MD, CODE = "md", "code"
KINDS = {MD: "markdown", CODE: "code"}
SUBMISSIONS = Path(__file__).resolve().parent.parent  # submissions/, holding a1/ ... a5/
# modules many samples hand in (their GPT code from earlier assignments): written by `build.py --modules`, which
# `bash .ci/install` runs, and never committed (.gitignore); each sample's copy is still its own text
GENERATED = ("previous_chapters.py",)


@dataclass(frozen=True)
class Run:
    """How the full build executes a notebook; its saved outputs come from this run."""

    data: tuple = ()  # shipped data files (reference/data) copied next to the notebook
    grader_mode: bool = False  # LLM_GRADER=1, the notebook's short path; otherwise as the student ran it
    timeout: int = 300  # seconds a cell may take
    in_folder: bool = False  # run in the sample's own folder, which keeps the figures it saves
    spam: bool = False  # a synthetic SMS Spam Collection where the book's download cell looks
    agg: bool = False  # MPLBACKEND=Agg
    prepare: object = None  # prepare(workdir): more files the notebook opens (never handed in)


@dataclass(frozen=True)
class Sample:
    """One bundled sample: what the builder writes into submissions/<assignment>/<student>/."""

    assignment: str
    student: str
    notebook: str  # file name of the notebook
    cells: list  # [(MD or CODE, source)] as handed in
    readme: str
    files: dict = field(default_factory=dict)  # the student's .py modules, {file name: source}
    run: Run = Run()
    run_cells: list = None  # cells executed instead (a long run handed in with a short run's outputs)
    may_fail: bool = False  # the handed-in notebook stops with an error
    committed: bool = False  # its committed folder is its source (see handed_in): nothing to compare it with

    @property
    def key(self):
        return f"{self.assignment}/{self.student}"


def handed_in(assignment, student, run=Run(), generated=None, root=SUBMISSIONS):
    """A correct sample whose committed folder is its own source: the notebook's cells, README.md and the
    student's .py modules as committed (edit them there, e.g. in Jupyter), plus `generated` ({file name: text},
    the GENERATED modules, which are not committed). One-bug copies are made from it with `variant`."""
    folder = root / assignment / student
    notebooks = sorted(folder.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise ValueError(f"{assignment}/{student} must hold one notebook, not {[p.name for p in notebooks]}")
    kind_of = {saved: kind for kind, saved in KINDS.items()}
    cells = [(kind_of[kind], source) for kind, source in saved_cells(notebooks[0])]
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py")) if p.name not in GENERATED}
    return Sample(assignment, student, notebooks[0].name, cells, (folder / "README.md").read_text(encoding="utf-8"),
                  {**files, **(generated or {})}, run=run, committed=True)


def replace_once(texts, old, new):
    """`texts` ({key: source}) with `old` replaced by `new`; it must occur exactly once among them all."""
    hits = [(key, text.count(old)) for key, text in texts.items() if old in text]
    if len(hits) != 1 or hits[0][1] != 1:
        raise ValueError(f"replacement does not apply exactly once ({hits}): {old[:80]!r}")
    key = hits[0][0]
    return {**texts, key: texts[key].replace(old, new)}


def with_bug(cells, replacements, files=None):
    """The cells (and module files, when given) with each (old, new) applied exactly once across all of them."""
    texts = {**{i: source for i, (_, source) in enumerate(cells)}, **(files or {})}
    for old, new in replacements:
        texts = replace_once(texts, old, new)
    new_cells = [(kind, texts[i]) for i, (kind, _) in enumerate(cells)]
    return new_cells if files is None else (new_cells, {name: texts[name] for name in files})


def variant(base, student, replacements=(), **changes):
    """A copy of `base` under another student's name, with `changes` to its fields, then each (old, new) applied
    exactly once to its cells or modules."""
    sample = replace(base, student=student, committed=False, **changes)
    cells, files = with_bug(sample.cells, replacements, sample.files)
    return replace(sample, cells=cells, files=files)


def renamed(cells, renames, *required):
    """The cells with each (regex, name) applied to the code cells; each of `required` must appear afterwards."""
    out = []
    for kind, source in cells:
        if kind == CODE:
            for pattern, name in renames:
                source = re.sub(pattern, name, source)
        out.append((kind, source))
    require(out, *required)
    return out


def word_renames(mapping):
    """(regex, name) renames of whole words, from {book name: own name}."""
    return [(rf"\b{book}\b", mine) for book, mine in mapping.items()]


def require(cells, *texts):
    """Fail unless each text occurs in some code cell (a rename or rewrite that silently did nothing)."""
    joined = "\n".join(source for kind, source in cells if kind == CODE)
    missing = [text for text in texts if text not in joined]
    if missing:
        raise ValueError(f"not in the code cells: {missing}")


def grader_names(mapping, comment="# The grader looks for the book's names; mine differ, so I map them here."):
    """A GRADER_NAMES cell's source: the comment, then one `"book": "mine",` line per entry."""
    entries = "".join(f'    "{book}": "{mine}",\n' for book, mine in mapping.items())
    return f"{comment}\nGRADER_NAMES = {{\n{entries}}}"


def own_names(cells, renames, mapping, *required):
    """The cells renamed (see renamed), then a "Names for the grader" heading and the GRADER_NAMES cell."""
    return renamed(cells, renames, *required) + [(MD, "## Names for the grader"), (CODE, grader_names(mapping))]


# ---------------------------------------------------------------- comparing with the committed files

def saved_cells(path):
    """The (kind, source) cells of a saved notebook, read as JSON (fast, no validation)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(cell["cell_type"], "".join(cell["source"])) for cell in cells]


def first_line_apart(a, b):
    """The first line where two texts differ, as 'line N: a != b'."""
    a_lines, b_lines = a.splitlines(), b.splitlines()
    n = next((i for i, (x, y) in enumerate(zip(a_lines, b_lines)) if x != y), min(len(a_lines), len(b_lines)))
    pick = lambda lines: lines[n] if n < len(lines) else "<end>"
    return f"line {n + 1}: builder {pick(a_lines)!r} != committed {pick(b_lines)!r}"


def difference(sample, root):
    """Where the committed sample differs from what the builder makes (None when it is current). Compares the
    cell kinds and sources in order, README.md and the .py modules byte for byte; executes nothing."""
    folder = root / sample.assignment / sample.student
    if not (folder / sample.notebook).is_file():
        return f"{sample.notebook} is missing"
    expected = [(KINDS[kind], source) for kind, source in sample.cells]
    committed = saved_cells(folder / sample.notebook)
    for i, (mine, theirs) in enumerate(zip(expected, committed)):
        if mine != theirs:
            detail = first_line_apart(mine[1], theirs[1]) if mine[0] == theirs[0] else f"{mine[0]} != {theirs[0]}"
            return f"cell {i} differs, {detail}"
    if len(expected) != len(committed):
        return f"the builder makes {len(expected)} cells, the committed notebook has {len(committed)}"
    files = {"README.md": sample.readme, **sample.files}
    extra = {p.name for p in folder.iterdir() if p.suffix in (".py", ".ipynb")} - set(files) - {sample.notebook}
    if extra:
        return f"files the builder does not make: {sorted(extra)}"
    for name, text in files.items():
        if name in GENERATED and not (folder / name).exists():
            continue  # not written yet (build.py --modules); checked by generated_missing where it matters
        if not (folder / name).is_file() or (folder / name).read_bytes() != text.encode("utf-8"):
            return f"{name} differs"
    return None


def generated(sample):
    """{file name: text} of the sample's modules that are generated rather than committed."""
    return {name: text for name, text in sample.files.items() if name in GENERATED}


def write_generated(sample, root):
    """Write the sample's generated modules into its folder under `root`; how many were written."""
    folder = root / sample.assignment / sample.student
    for name, text in generated(sample).items():
        (folder / name).write_text(text, encoding="utf-8")
    return len(generated(sample))


def generated_missing(samples, root):
    """The generated modules of `samples` not (yet) in their folders, as assignment/student/file paths."""
    return [f"{s.key}/{name}" for s in samples for name in generated(s)
            if not (root / s.assignment / s.student / name).is_file()]


# ---------------------------------------------------------------- building (executes the notebooks)

def notebook(cells):
    """An nbformat notebook of the cells, with stable cell ids so a rebuild changes only what changed."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell(s) if kind == MD else new_code_cell(s) for kind, s in cells])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def set_up_run(sample, workdir, tiktoken_cache):
    """Put what the notebook opens into `workdir` (data files, modules, the spam set, a checkpoint) and set the
    environment its kernel inherits."""
    from reference.assets import data_path

    workdir.mkdir(parents=True, exist_ok=True)
    for name in sample.run.data:
        shutil.copyfile(data_path(name), workdir / name)
    for name, text in sample.files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    if sample.run.spam:
        from reference.ch06 import write_synthetic_spam_tsv

        (workdir / "sms_spam_collection").mkdir()
        write_synthetic_spam_tsv(workdir / "sms_spam_collection" / "SMSSpamCollection.tsv")
    if sample.run.prepare is not None:
        sample.run.prepare(workdir)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache)
    os.environ.pop("LLM_GRADER", None)
    os.environ.pop("MPLBACKEND", None)
    if sample.run.grader_mode:
        os.environ["LLM_GRADER"] = "1"
    if sample.run.agg:
        os.environ["MPLBACKEND"] = "Agg"


def execute(sample, workdir):
    """The executed notebook (run_cells when given, then the handed-in sources put back over their outputs)."""
    from nbclient import NotebookClient

    nb = notebook(sample.run_cells or sample.cells)
    NotebookClient(nb, timeout=sample.run.timeout, kernel_name="python3", allow_errors=True, record_timing=False,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors and not sample.may_fail:
        raise SystemExit(f"{sample.key}: a cell raised {errors[0].ename}: {errors[0].evalue}")
    for cell, (_, source) in zip(nb.cells, sample.cells):
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs = coalesced(cell.outputs)
    return nb


def coalesced(outputs):
    """Consecutive outputs of one stream merged (the kernel's chunking varies from run to run)."""
    merged = []
    for output in outputs:
        last = merged[-1] if merged else None
        if output.output_type == "stream" and last and last.output_type == "stream" and last.name == output.name:
            last.text += output.text
        else:
            merged.append(output)
    return merged


def build(sample, root, scratch):
    """Execute the sample's notebook and write it, README.md and the modules into its folder under `root`."""
    import nbformat

    from grader.execute import _seed_tiktoken_cache

    folder = root / sample.assignment / sample.student
    shutil.rmtree(folder, ignore_errors=True)
    cache = scratch / "tiktoken"
    if not cache.exists():
        _seed_tiktoken_cache(cache)  # the shipped GPT-2 BPE files: tiktoken never downloads
    workdir = folder if sample.run.in_folder else scratch / sample.assignment / sample.student
    set_up_run(sample, workdir, cache)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(execute(sample, workdir), folder / sample.notebook)
    for name, text in {"README.md": sample.readme, **sample.files}.items():
        (folder / name).write_text(text, encoding="utf-8")
    print("wrote", folder, flush=True)
