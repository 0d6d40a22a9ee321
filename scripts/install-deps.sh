#!/usr/bin/env bash
# Installs everything netmon and its tests need on a Debian machine (run as root):
#  - Debian packages for the real test peers (Net-SNMP snmpd, VictoriaMetrics,
#    Alertmanager, systemd-analyze, dnsmasq) and python3-venv;
#  - a separate venv on /usr/bin/python3 for snmpsim: it drops privileges to
#    'nobody', which must be able to read the interpreter;
#  - the project itself, with its test extras, in ./.venv.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SIM_VENV=${NETMON_SNMPSIM_VENV:-/opt/netmon-snmpsim}
VENV=${NETMON_VENV:-.venv}
PY=${PYTHON:-python3}

need_apt=0
for bin in /usr/sbin/snmpd /usr/bin/snmpget /usr/bin/victoria-metrics \
           /usr/bin/prometheus-alertmanager /usr/bin/systemd-analyze /usr/bin/sqlite3 \
           /usr/sbin/dnsmasq; do
  [ -x "$bin" ] || need_apt=1
done
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt=1
if [ "$need_apt" = 1 ]; then
  echo "install-deps: installing Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    snmpd snmp victoria-metrics prometheus-alertmanager systemd python3-venv sqlite3 dnsmasq-base \
    >/dev/null
fi
# The Debian snmpd and victoria-metrics packages may start system services; the
# tests run their own instances on free loopback ports and need none of them
# (dnsmasq-base is dnsmasq without its system service).

if [ ! -x "$SIM_VENV/bin/snmpsim-command-responder" ] \
   || ! "$SIM_VENV/bin/python" -c 'import snmpsim_data' 2>/dev/null; then
  echo "install-deps: building the snmpsim venv in $SIM_VENV" >&2
  /usr/bin/python3 -m venv "$SIM_VENV"
  "$SIM_VENV/bin/pip" install -q --disable-pip-version-check snmpsim pysmi snmpsim-data
fi
chmod -R a+rX "$SIM_VENV"

if [ ! -x "$VENV/bin/python" ]; then
  echo "install-deps: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]' 2>&1 \
  | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
"$VENV/bin/python" -c 'import netmon, pysnmp, influxdb_client, apscheduler, aiohttp, pytest'
