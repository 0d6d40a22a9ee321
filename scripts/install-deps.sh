#!/usr/bin/env bash
# Installs everything netmon and its tests need on a Debian machine (run as root):
# Debian packages for the real test peers, the project with its test extras, and
# a separate venv on /usr/bin/python3 for snmpsim (it drops privileges to
# 'nobody', which must be able to read the interpreter).
set -euo pipefail
cd "$(dirname "$0")/.."

SIM_VENV=${NETMON_SNMPSIM_VENV:-/opt/netmon-snmpsim}
PY=${PYTHON:-python3}

need_apt=0
for bin in /usr/sbin/snmpd /usr/bin/snmpget /usr/bin/victoria-metrics /usr/bin/prometheus-alertmanager /usr/bin/systemd-analyze; do
  [ -x "$bin" ] || need_apt=1
done
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt=1
if [ "$need_apt" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    snmpd snmp victoria-metrics prometheus-alertmanager systemd python3-venv sqlite3 >/dev/null
fi
# The Debian snmpd package starts a system agent on port 161; tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet snmpd 2>/dev/null; then
  systemctl stop snmpd || true
fi

"$PY" -m pip install -q --disable-pip-version-check -e '.[test]'

if [ ! -x "$SIM_VENV/bin/snmpsim-command-responder" ] || ! "$SIM_VENV/bin/python" -c 'import snmpsim_data' 2>/dev/null; then
  /usr/bin/python3 -m venv "$SIM_VENV"
  "$SIM_VENV/bin/pip" install -q --disable-pip-version-check snmpsim pysmi snmpsim-data
fi
chmod -R a+rX "$SIM_VENV"
