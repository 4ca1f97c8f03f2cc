#!/usr/bin/env bash
# Install the package and run the demo on a local archive. Extra arguments go to `sarcoma-xnat demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh demo
VENV="${SARCOMA_XNAT_VENV:-.venv}"
exec "$VENV/bin/sarcoma-xnat" demo "$@"
