#!/usr/bin/env bash
# Installs everything netmon and its tests need on a Debian machine (run as root):
#  - Debian packages for the real test peers (Net-SNMP snmpd, VictoriaMetrics,
#    Alertmanager, systemd-analyze, sqlite3, headless Chromium for the HTML
#    report, dnsmasq for the IPv6 service checks) and python3-venv;
#  - a separate venv on /usr/bin/python3 for snmpsim, with the snmpsim-data
#    recordings (scripts/deps.sh says why it is separate);
#  - the project itself, with its test extras, in ./.venv.
# scripts/demo.sh installs only the demo's part of this (scripts/deps.sh).
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

apt_install /usr/sbin/snmpd /usr/bin/snmpget /usr/bin/victoria-metrics \
            /usr/bin/prometheus-alertmanager /usr/bin/systemd-analyze /usr/bin/sqlite3 \
            /usr/bin/chromium /usr/bin/chromedriver /usr/sbin/dnsmasq \
  -- snmpd snmp victoria-metrics prometheus-alertmanager systemd python3-venv sqlite3 \
     chromium chromium-driver dnsmasq-base
# The Debian snmpd and victoria-metrics packages may start system services; the
# tests run their own instances on free loopback ports and need none of them
# (dnsmasq-base is dnsmasq without its system service).
# cryptography: pysnmp's AES privacy needs it and does not declare it (without
# it snmpsim answers every SNMPv3 authPriv request with a decryptionError).
snmpsim_venv snmpsim-data cryptography & sim=$!
netmon_venv test
wait "$sim"
