#!/usr/bin/env bash
# Install everything the test suite needs, then run it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
VENV="${SARCOMA_XNAT_VENV:-.venv}"
set +e
"$VENV/bin/python" -m pytest -ra "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, say so
if [ $rc -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit $rc
