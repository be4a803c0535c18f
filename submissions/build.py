"""Build the bundled sample submissions, or check that the committed ones are current.

Run from the repository root:

    .venv/bin/python submissions/build.py                  # execute and write every sample
    .venv/bin/python submissions/build.py --only a3        # an assignment, a student, or a3/ada-correct
    .venv/bin/python submissions/build.py --check          # compare sources with the committed files only
    .venv/bin/python submissions/build.py --modules        # write the generated modules (bash .ci/install does)

A correct sample's committed folder is its own source: its notebook, README.md and .py modules (edit them
there, in Jupyter or an editor). A spec module per assignment (submissions/builder/a1.py, ...) names those
samples and makes the others from them: one-bug copies by replacements that must apply exactly once, copies
under the student's own names, a long run handed in with a short run's outputs. The full build executes each
notebook with nbclient and writes submissions/<assignment>/<student>/; after editing a correct sample, rebuild
its assignment so that its copies follow. --check executes nothing: it compares the copies' cell sources (in
order), README.md and modules with the committed files.
The verdicts each sample must get are in submissions/<assignment>/expected*.toml, written by hand.

The modules many samples hand in (core.GENERATED: previous_chapters.py, their GPT code from earlier
assignments) are not committed: --modules writes them from the specs, without executing anything, and
`bash .ci/install` runs it, so the README's quick start grades complete samples.
"""

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from builder import samples  # noqa: E402 - after the path set-up above
from builder.core import build, difference, write_generated  # noqa: E402


def check(chosen, root):
    """Print every chosen sample that differs from the committed files; the exit status says whether any did."""
    stale = [(s.key, d) for s in chosen if (d := difference(s, root))]
    for key, detail in stale:
        print(f"{key}: {detail}")
    print(f"{len(chosen) - len(stale)} of {len(chosen)} samples are current")
    return 1 if stale else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="assignments, students or assignment/student keys")
    parser.add_argument("--check", action="store_true", help="compare sources only, execute nothing")
    parser.add_argument("--modules", action="store_true", help="write only the generated modules, execute nothing")
    parser.add_argument("--out", type=Path, default=HERE, help="folder holding a1/ ... a5/ (default: submissions/)")
    args = parser.parse_args(argv)
    try:
        chosen = samples(args.only)
    except ValueError as problem:
        parser.error(str(problem))
    if args.check:
        return check(chosen, args.out)
    if args.modules:
        written = sum(write_generated(sample, args.out) for sample in chosen)
        print(f"wrote {written} generated modules (previous_chapters.py) into the samples")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        for sample in chosen:
            build(sample, args.out, Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
