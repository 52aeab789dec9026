#!/usr/bin/env bash
# Set up everything the tests need, then run the linter and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser download
# is not used).
if ! command -v chromium >/dev/null; then
    SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# The real MNIST files for the shipped-model test; a folder beside the repository is the default.
if [ -z "${MNIST_DATA_DIR:-}" ] && [ -d ../shared/data/mnist ]; then
    export MNIST_DATA_DIR="$PWD/../shared/data/mnist"
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The JavaScript: ESLint and Prettier at the versions package-lock.json pins (npm ci when they are missing).
npm ls --depth=0 >/dev/null 2>&1 || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm run --silent lint
npm run --silent format:check
# One worker per CPU core, each taking whole test files (their module-scoped apps and Hub servers stay
# with them): most tests wait on an app starting or a subprocess, so this takes a third off the run on
# two cores. "-n 0" runs everything in this process.
.venv/bin/python -m pytest --numprocesses auto --dist loadfile "$@"
