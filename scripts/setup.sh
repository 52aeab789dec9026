#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project's and the tests' dependencies. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# onnxruntime-web for the pad's in-browser reader (npm, pinned by package-lock.json)
bash scripts/web_runtime.sh
