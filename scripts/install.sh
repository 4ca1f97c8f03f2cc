#!/usr/bin/env bash
# Install what sarcoma-xnat needs on a fresh Debian 12 machine (Python 3.11, root).
#   scripts/install.sh demo   core package in .venv
#   scripts/install.sh test   everything the test suite needs (system packages, extras, tools)
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-demo}"
VENV="${SARCOMA_XNAT_VENV:-.venv}"

apt_install() {
  # install Debian packages that are missing; needs root (or sudo)
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

if [ "$profile" = "demo" ]; then
  "${PIP[@]}" -e .
  exit 0
fi

# system packages the tests drive for real: the PACS (Orthanc, DCMTK) and the container engine
apt_install orthanc dcmtk dicom3tools podman buildah runc debootstrap
# torch must come first and pinned: its CPU wheel lies on this machine's disk
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" -e ".[dev]"
for extra_script in scripts/install.d/*.sh; do
  [ -e "$extra_script" ] || continue
  VENV="$VENV" bash "$extra_script"
done
