#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04 or later).
# It installs bubblewrap (the grader's sandbox) and, in a virtual environment at $GRADER_VENV,
# CPU-only torch and the grader: from the llm-autograder source folder in the zip when there is
# one, else the pinned release. A virtual environment, because newer Ubuntus refuse pip installs
# into the system Python.
set -euo pipefail
cd "$(dirname "$0")"
venv="${GRADER_VENV:-/opt/llm-autograder}"

apt-get update
apt-get install -y --no-install-recommends bubblewrap python3 python3-venv
rm -rf /var/lib/apt/lists/*

python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
if [ -d llm-autograder ]; then
    "$venv/bin/pip" install ./llm-autograder
else
    "$venv/bin/pip" install "llm-autograder==${GRADER_VERSION:-0.1.0}"
fi
"$venv/bin/grade" --version
