"""The committed sample submissions are what submissions/build.py makes. A correct sample's committed folder is
its own source; for every sample made from one (a one-bug copy, a renamed copy) the builder's cell sources
(kinds and sources, in order), README.md and .py modules equal the committed files. Nothing is executed, so
a stale copy (a correct notebook or a spec edited without a rebuild, or a copy edited by hand) fails here in
seconds, naming the sample and the first differing cell. The generated modules (previous_chapters.py,
written by `submissions/build.py --modules`) are present, current and never committed."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
sys.path.insert(0, str(SUBMISSIONS))

from builder import samples  # noqa: E402 - submissions/ is not a package
from builder.a1 import BUGS  # noqa: E402
from builder.core import GENERATED, difference, generated_missing, handed_in, variant  # noqa: E402

SAMPLES = samples()


def test_every_committed_sample_folder_has_a_spec():
    committed = {f"{p.parent.name}/{p.name}" for p in SUBMISSIONS.glob("a*/*") if p.is_dir()}
    assert committed == {s.key for s in SAMPLES}


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.committed], ids=lambda s: s.key)
def test_committed_sample_is_current(sample):
    detail = difference(sample, SUBMISSIONS)
    if detail:
        pytest.fail(f"{sample.key} is not what the builder makes: {detail} "
                    f"(rebuild: .venv/bin/python submissions/build.py --only {sample.key})", pytrace=False)


def test_an_edited_correct_sample_makes_its_copies_stale(tmp_path):
    for student in ("ada-correct", "ben-decode-spaces"):
        shutil.copytree(SUBMISSIONS / "a1" / student, tmp_path / "a1" / student)
    copy = variant(handed_in("a1", "ada-correct", root=tmp_path), "ben-decode-spaces", BUGS["ben-decode-spaces"])
    assert difference(copy, tmp_path) is None
    notebook = tmp_path / "a1" / "ada-correct" / "assignment1.ipynb"
    notebook.write_text(notebook.read_text().replace("Edith Wharton", "E. Wharton", 1))
    copy = variant(handed_in("a1", "ada-correct", root=tmp_path), "ben-decode-spaces", BUGS["ben-decode-spaces"])
    assert difference(copy, tmp_path).startswith("cell 2 differs, line 3: builder")


def test_generated_modules_are_written():
    missing = generated_missing(SAMPLES, SUBMISSIONS)
    assert not missing, (f"{len(missing)} generated modules are missing, e.g. {missing[0]}: run "
                         f"`.venv/bin/python submissions/build.py --modules` (bash .ci/install runs it)")


@pytest.mark.skipif(shutil.which("git") is None or not (SUBMISSIONS.parent / ".git").exists(),
                    reason="not a git checkout")
def test_generated_modules_are_ignored_not_committed():
    tracked = subprocess.run(["git", "ls-files", "submissions"], cwd=SUBMISSIONS.parent, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert not [path for path in tracked if Path(path).name in GENERATED]
    written = [str(p.relative_to(SUBMISSIONS.parent)) for name in GENERATED for p in SUBMISSIONS.glob(f"*/*/{name}")]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=SUBMISSIONS.parent,
                             capture_output=True, text=True).stdout.splitlines()
    assert written and sorted(ignored) == sorted(written)
