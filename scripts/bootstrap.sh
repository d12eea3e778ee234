# Sourced by the other scripts: a project virtualenv with this package installed.
# EXTRAS=local adds the local stack (emulator server, Temporal dev server); EXTRAS=dev also
# the test tools. Re-running is cheap once everything is there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
SPEC="."
if [ -n "${EXTRAS:-}" ]; then SPEC=".[${EXTRAS}]"; fi
.venv/bin/python -m pip install --quiet --editable "$SPEC"
