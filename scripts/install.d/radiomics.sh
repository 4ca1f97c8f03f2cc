#!/usr/bin/env bash
# The [radiomics] extra: pyradiomics-bhklab (PyRadiomics for Python 3.11; built from its sdist,
# so it needs a C compiler, numpy being installed already). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
if "$PY" -c "import radiomics.featureextractor" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v cc >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi
echo "installing the [radiomics] extra into $VENV (pyradiomics-bhklab)"
"$PY" -m pip install -q --disable-pip-version-check -e ".[radiomics]"
"$PY" -c "import radiomics.featureextractor"
