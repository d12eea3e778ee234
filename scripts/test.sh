#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (real Temporal dev server + emulator).
EXTRAS=dev source "$(dirname "$0")/bootstrap.sh"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
