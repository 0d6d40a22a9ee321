#!/usr/bin/env bash
# Installs netmon (see install-deps.sh) and runs the daemon on its embedded
# defaults: a simulated network served by snmpsim on loopback, polled every
# 10 s into the local SQLite store. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
VENV=${NETMON_VENV:-.venv}
exec "$VENV/bin/netmon" run --demo "$@"
