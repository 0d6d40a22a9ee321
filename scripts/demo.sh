#!/usr/bin/env bash
# Installs what the demo needs and nothing more -- python3-venv (if missing),
# snmpsim in its own venv (/opt/netmon-snmpsim) and netmon in ./.venv -- then
# runs the daemon on its embedded defaults: a simulated network served by
# snmpsim on loopback, polled every 10 s into the local SQLite store.
# Ctrl-C stops it. The tests' packages come with scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
apt_install -- python3-venv
# The two venvs are independent: build them side by side (most of it is pip waiting).
snmpsim_venv & sim=$!
netmon_venv
wait "$sim"
exec "$VENV/bin/netmon" run --demo "$@"
