#!/usr/bin/env bash
# The [seg,fl] extras (torch CPU wheel, MONAI, NVFlare 2.9, scikit-survival, lifelines, matplotlib)
# for the model and federated-learning tests. torch is pinned and installed first (its CPU wheel is
# on this machine's disk); nvflare without [PT] (that pulls torchvision, which breaks next to it).
# Idempotent: a second run only checks the imports.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
if "$PY" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
import torch, monai, nvflare, sksurv, lifelines, matplotlib  # noqa: F401
assert m.version("torch").startswith("2.13.0") and m.version("nvflare").startswith("2.9.")
PY
then
  exit 0
fi
echo "installing the [seg,fl] extras into $VENV (torch CPU, monai, nvflare 2.9, survival libraries)"
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install -q --disable-pip-version-check -e ".[seg,fl]"
