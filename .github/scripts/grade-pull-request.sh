#!/usr/bin/env bash
# Grades the submission folders a pull request changes; writes the reports and comment.md to OUT_DIR.
#
#   grade-pull-request.sh BASE_SHA PR_CHECKOUT OUT_DIR
#
# The pull request's checkout is data, never code. Every Python process runs isolated (python -I)
# from a scratch directory, so a grader/, sitecustomize.py, torch/ ... the pull request adds is never
# imported: the grader is the one installed from the base commit, found on PATH.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BASE_SHA PR_CHECKOUT OUT_DIR" >&2; exit 2; }
base=$1
checkout=$(realpath "$2")
out=$(realpath -m "$3")
# The grader's child processes (python -m grader.grade, the kernel) are not started with -I.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"  # never the checkout: `python -m` would put the working directory first on sys.path
mkdir -p "$out"

python -I -m grader.ci changed --base "$base" --repo "$checkout" -z > changed
mapfile -d '' -t folders < changed
status=0
if [ ${#folders[@]} -gt 0 ]; then
  python -I -m grader.cli "${folders[@]}" --out "$out" -j 2 || status=$?
fi
python -I -m grader.ci summary "$out" > "$out/comment.md"
# grade exits 1 when the folders hold no submission; the comment says nothing was graded.
[ "$status" -le 1 ] || exit "$status"
