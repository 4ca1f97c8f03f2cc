#!/usr/bin/env bash
# Tools for the Terraform tests (tests/terraform): python-hcl2 in the project venv, checkov in its
# own venv (.venv-checkov; its bc-python-hcl2 owns the same `hcl2` package and its pins clash with
# ours). Idempotent: a second run only checks. terraform itself is not installed here: the tests
# that need it skip with a message when /usr/local/bin/terraform or the provider mirror is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"
CHECKOV_VENV="${SARCOMA_XNAT_CHECKOV_VENV:-.venv-checkov}"
CHECKOV_VERSION="3.3.30"
HCL2_SPEC="python-hcl2>=8.1,<9"

# python-hcl2 (v8 API: SerializationOptions) in the project venv
if ! "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import hcl2
assert hasattr(hcl2, "SerializationOptions")
PY
then
  echo "installing $HCL2_SPEC into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$HCL2_SPEC"
fi

# checkov in its own venv, pinned
installed_checkov() {  # version from the package metadata: much faster than `checkov --version`
  "$CHECKOV_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('checkov'))" 2>/dev/null || true
}
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ "$(installed_checkov)" != "$CHECKOV_VERSION" ]; then
  echo "installing checkov==$CHECKOV_VERSION into $CHECKOV_VENV (about a minute)"
  if [ ! -x "$CHECKOV_VENV/bin/python" ]; then
    python3.11 -m venv "$CHECKOV_VENV" 2>/dev/null || python3 -m venv "$CHECKOV_VENV"
  fi
  "$CHECKOV_VENV/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
[ "$(installed_checkov)" = "$CHECKOV_VERSION" ] || { echo "checkov $CHECKOV_VERSION missing from $CHECKOV_VENV" >&2; exit 1; }

if command -v terraform >/dev/null 2>&1 && [ -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
  echo "terraform $(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null terraform version | head -1 | awk '{print $2}') and the AWS provider mirror found: terraform tests will run"
else
  echo "terraform binary or /opt/tf-plugins mirror missing: terraform-binary tests will be skipped"
fi
