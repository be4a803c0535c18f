"""Discover submissions, identify their assignment, and read their notebooks with nbformat."""

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.assignments import all_assignments

SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", ".venv", "node_modules"}
MAX_DEPTH = 4


@dataclass(frozen=True)
class Submission:
    """One student's folder and the notebook to grade; `problem` says why it cannot be run."""

    student: str
    folder: Path
    notebook: Path | None
    assignment: str | None
    option: str | None = None
    warnings: tuple[str, ...] = field(default=())
    problem: str | None = None

    @property
    def label(self) -> str:
        return submission_label(self.assignment, self.option, self.student)


def submission_label(assignment: str | None, option: str | None, student: str) -> str:
    """'<id>-<option>/ada': how reports, summaries and comments name a submission."""
    return f"{assignment or '?'}{'-' + option if option else ''}/{student}"


def normalise(stem: str) -> str:
    """Lower case with everything but letters and digits removed: 'Assignment_7-Extra' -> 'assignment7extra'."""
    return re.sub(r"[^a-z0-9]", "", stem.lower())


STEM = re.compile(r"^([a-z]*?)([0-9]+)([a-z]*)$")  # 'assignment7extra' -> ('assignment', '7', 'extra')


def _close(word: str, target: str) -> bool:
    return word == target or difflib.SequenceMatcher(None, word, target).ratio() >= 0.8


def _matches(stem: str, expected: str) -> bool:
    """Whether a normalised stem ('assignmnet7', 'assignment7extar', 'assignment7ex') is close to a
    manifest's notebook stem: the same number, a close prefix, and a close or shortened option suffix."""
    given, wanted = STEM.match(stem), STEM.match(expected)
    if not given or not wanted:
        return stem == expected
    if given[2] != wanted[2] or not _close(given[1], wanted[1]):
        return False
    if not wanted[3]:
        return not given[3]
    return bool(given[3]) and (wanted[3].startswith(given[3]) or _close(given[3], wanted[3]))


def identify(notebook: Path) -> tuple[tuple[str, str | None] | None, str | None]:
    """(assignment, option) for a notebook filename, and a warning when the name was only close."""
    stem = normalise(notebook.stem)
    found = [a for a in all_assignments() if _matches(stem, normalise(Path(a.notebook).stem))]
    if len(found) != 1:
        return None, None
    [entry] = found
    slip = None if notebook.name == entry.notebook else (f"notebook {notebook.name!r} taken as {entry.notebook!r}; "
                                                         "please rename it")
    return (entry.assignment, entry.option), slip


def folder_assignment(folder: Path) -> str | None:
    """The assignment a folder is named for: its id or its notebook's stem without the option, in any case and
    with any separators ('a7', 'A7', 'assignment7', 'assignment_7' for an id a7 whose
    notebook is assignment7.ipynb)."""
    name = normalise(folder.name)
    for entry in all_assignments():
        match = STEM.match(normalise(Path(entry.notebook).stem))
        if name in {normalise(entry.assignment), match[1] + match[2] if match else None}:
            return entry.assignment
    return None


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file())


def submissions_in_folder(folder: Path, student: str | None = None) -> list[Submission]:
    """The submissions of one student folder: one per assignment notebook it holds."""
    student = student or folder.name
    expected = folder_assignment(folder.parent)
    found = []
    for notebook in _notebooks_in(folder):
        identity, slip = identify(notebook)
        if identity is None:
            continue
        warnings = (slip,) if slip else ()
        if expected and identity[0] != expected:
            warnings += (f"{notebook.name} is {identity[0]}'s notebook but sits under {folder.parent.name}/",)
        found.append(Submission(student, folder, notebook, identity[0], identity[1], warnings))
    if found:
        return found
    names = ", ".join(p.name for p in _notebooks_in(folder)) or "no .ipynb files"
    notebooks = [a.notebook for a in all_assignments()]
    wanted = [a.notebook for a in all_assignments() if a.assignment == expected] or notebooks
    problem = f"no notebook to grade in {folder.name}/: expected {' or '.join(wanted)} (found: {names})"
    return [Submission(student, folder, None, expected, None, (), problem)]


def _is_submission_dir(folder: Path) -> bool:
    return bool(_notebooks_in(folder)) or folder_assignment(folder.parent) is not None


def discover(paths: list[Path]) -> list[Submission]:
    """Every submission under the given paths: notebooks, student folders, or trees of them."""
    found: list[Submission] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix == ".ipynb":
            found.extend(s for s in submissions_in_folder(path.parent) if s.notebook in (None, path))
        elif path.is_dir():
            found.extend(_walk(path, depth=0))
        else:
            found.append(Submission(path.name, path, None, None, None, (), f"{path} is not a notebook or a folder"))
    return sorted(found, key=lambda s: (s.assignment or "~", s.option or "", s.student))


def _walk(folder: Path, depth: int) -> list[Submission]:
    if _is_submission_dir(folder):
        return submissions_in_folder(folder)
    if depth >= MAX_DEPTH:
        return []
    children = sorted(p for p in folder.iterdir()
                      if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith("."))
    return [s for child in children for s in _walk(child, depth + 1)]


@dataclass(frozen=True)
class LoadedNotebook:
    """A notebook read and validated by nbformat, or the reason it could not be."""

    notebook: nbformat.NotebookNode | None
    problem: str | None = None


def load_notebook(path: Path) -> LoadedNotebook:
    """Read a notebook as nbformat v4; unreadable or invalid files give a problem, not an exception."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        return LoadedNotebook(None, f"{path.name} does not follow the notebook format: {_first_line(exc)}; "
                                    "open it in Jupyter and save it again")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadedNotebook(None, f"{path.name} could not be read: {exc}")
    except Exception as exc:  # nbformat raises NotJSONError and friends for broken files
        return LoadedNotebook(None, f"{path.name} is not a valid notebook file "
                                    f"({type(exc).__name__}: {_first_line(exc)}); "
                                    "open it in Jupyter and save it again")
    return LoadedNotebook(notebook)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
