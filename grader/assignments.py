"""The course's assignments, found by discovery: one folder each, nothing about them kept in grader/.

Every folder under a suites root that holds an `assignment.toml` manifest is one assignment (or one
option of one). The roots are the `student_tests` package and the folders listed in the environment
variable LLM_GRADER_SUITES (separated by os.pathsep), so a course can add an assignment without
touching the grader. A folder holds everything about its assignment:

    assignment.toml   the manifest (below)
    rubric.toml       categories, items and points (grader.rubric)
    probes.py         kernel-side probes, `probe_<name>(req)`, called by checks as "<probes>.<name>";
                      loaded by path inside the student's kernel, never importable from their folder
    test_*.py         the checks (pytest, with the `nb` fixture of grader.plugin)

Manifest keys: `assignment` (the id gradebooks use; an assignment's options share it), `option`
(optional: the option's name; reports go to "<assignment>-<option>"), `notebook` (the file name a
submission's notebook must have), `probes` (optional: the name checks call its probes by), `book` and
`sections` (the chapter it follows and the sections it covers) and `data_files` (optional: files of
this folder placed beside the notebook, under the same relative path). The title is the rubric's.
"""

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MANIFEST = "assignment.toml"
SUITES_ENV = "LLM_GRADER_SUITES"
KEYS = {"assignment", "option", "notebook", "probes", "book", "sections", "data_files"}
REQUIRED = ("assignment", "notebook", "book", "sections")
ID = re.compile(r"^[a-z][a-z0-9]*$")
SKIP = {"__pycache__", ".git"}


class ManifestError(ValueError):
    """An assignment folder whose manifest is missing a key, has an unknown one, or clashes with another."""


@dataclass(frozen=True)
class Assignment:
    assignment: str
    option: str | None
    notebook: str
    folder: Path
    probes: str | None = None
    data_files: tuple[tuple[str, Path], ...] = ()  # (relative path in the workdir, source file)
    book: str = ""  # the chapter it follows, e.g. "chapter 4: implementing a GPT model from scratch"
    sections: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The report folder's name: the id, or "<id>-<option>"."""
        return f"{self.assignment}-{self.option}" if self.option else self.assignment

    @property
    def rubric(self) -> Path:
        return self.folder / "rubric.toml"

    @property
    def probe_file(self) -> Path | None:
        return self.folder / "probes.py" if self.probes else None


def package_root() -> Path:
    """The `student_tests` package: the suites shipped with the grader."""
    import student_tests

    return Path(student_tests.__file__).resolve().parent


def roots() -> tuple[Path, ...]:
    extra = tuple(Path(p).resolve() for p in os.environ.get(SUITES_ENV, "").split(os.pathsep) if p.strip())
    return (package_root(), *extra)


def all_assignments() -> tuple[Assignment, ...]:
    """Every assignment under the roots, sorted by id and option."""
    return _discover(roots())


@cache
def _discover(folders: tuple[Path, ...]) -> tuple[Assignment, ...]:
    found = [_read(path) for root in folders for path in _manifests(root)]
    seen: dict[tuple[str, str], Path] = {}
    for entry in found:
        for key in (("assignment", entry.name), ("notebook", entry.notebook), ("probes", entry.probes)):
            if key[1] is not None and key in seen:
                raise ManifestError(f"{entry.folder / MANIFEST} and {seen[key] / MANIFEST} both declare "
                                    f"{key[0]} {key[1]!r}")
            seen[key] = entry.folder
    return tuple(sorted(found, key=lambda a: (a.assignment, a.option or "")))


def _manifests(root: Path) -> list[Path]:
    if not root.is_dir():
        raise ManifestError(f"{SUITES_ENV} names {root}, which is not a folder")
    return sorted(p for p in root.rglob(MANIFEST) if not SKIP & set(p.relative_to(root).parts))


def _read(path: Path) -> Assignment:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ManifestError(f"{path} cannot be read: {err}") from None
    unknown, missing = set(data) - KEYS, [k for k in REQUIRED if k not in data]
    if unknown or missing:
        raise ManifestError(f"{path}: " + "; ".join(
            ([f"unknown keys {sorted(unknown)}"] if unknown else []) + ([f"missing {missing}"] if missing else [])))
    for key in ("assignment", "option", "probes"):
        if key in data and not (isinstance(data[key], str) and ID.match(data[key].replace("_", "x"))):
            raise ManifestError(f"{path}: {key} must be lower-case letters, digits and '_', not {data[key]!r}")
    if not str(data["notebook"]).endswith(".ipynb"):
        raise ManifestError(f"{path}: notebook must name an .ipynb file, not {data['notebook']!r}")
    folder = path.parent
    files = tuple((name, folder / name) for name in data.get("data_files", ()))
    for label, source in files + (("rubric.toml", folder / "rubric.toml"),) + (
            (("probes.py", folder / "probes.py"),) if data.get("probes") else ()):
        if not source.is_file():
            raise ManifestError(f"{path}: {label} is missing from {folder}")
    return Assignment(data["assignment"], data.get("option"), data["notebook"], folder, data.get("probes"),
                      files, str(data["book"]), tuple(data["sections"]))


def find(assignment: str, option: str | None = None) -> Assignment:
    """The assignment with this id (and option); ManifestError if there is none."""
    for entry in all_assignments():
        if (entry.assignment, entry.option) == (assignment, option):
            return entry
    known = ", ".join(a.name for a in all_assignments())
    name = f"{assignment}-{option}" if option else assignment
    raise ManifestError(f"no assignment {name!r} under {', '.join(map(str, roots()))} (known: {known})")


def probe_files() -> dict[str, str]:
    """{probe group name: its probes.py} for every assignment that has probes."""
    return {a.probes: str(a.probe_file) for a in all_assignments() if a.probes}
