#!/usr/bin/env bash
# Installs what the tests need (see install-deps.sh), then lints and runs the
# whole suite against real agents and stores on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
VENV=${NETMON_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
"$VENV/bin/ruff" check .
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
