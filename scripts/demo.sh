#!/usr/bin/env bash
# The main job: a training run end to end on the local stack (Temporal dev server,
# emulator, worker), with live progress, then everything shut down.
# Extra arguments go to `arkor-temporal dev run`, e.g. --keep-up or another spec.
EXTRAS="${EXTRAS:-local}" source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/arkor-temporal dev run "$@"
