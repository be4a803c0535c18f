"""The committed sample submissions are what submissions/build.py makes: for every sample the builder's cell
sources (kinds and sources, in order), README.md and .py modules equal the committed files. Nothing is
executed, so a stale sample (a spec edited without a rebuild, or a committed notebook edited by hand) fails
here in seconds, naming the sample and the first differing cell."""

import sys
from pathlib import Path

import pytest

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
sys.path.insert(0, str(SUBMISSIONS))

from builder import samples  # noqa: E402 - submissions/ is not a package
from builder.core import difference  # noqa: E402

SAMPLES = samples()


def test_every_committed_sample_folder_has_a_spec():
    committed = {f"{p.parent.name}/{p.name}" for p in SUBMISSIONS.glob("a*/*") if p.is_dir()}
    assert committed == {s.key for s in SAMPLES}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.key)
def test_committed_sample_is_current(sample):
    detail = difference(sample, SUBMISSIONS)
    if detail:
        pytest.fail(f"{sample.key} is not what the builder makes: {detail} "
                    f"(rebuild: .venv/bin/python submissions/build.py --only {sample.key})", pytrace=False)
