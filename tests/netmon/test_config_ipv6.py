"""Config for IPv6 readiness: ``ipv6:`` settings, a target's ``address6`` and ``services``,
with every error located at file:line:col and key path."""

from __future__ import annotations

import pytest

from netmon.config import ConfigError, load_config

GOOD = """\
snmp_profiles:
  v2: {version: "2c", community: "${NETMON_TEST_COMMUNITY}"}
ipv6:
  interval: 30m
  traffic_floor: 0.5%
  resolvers: ["127.0.0.1:5353", "[::1]:53"]
  ca_file: /etc/ssl/certs/ca-certificates.crt
targets:
  - name: mof
    site: MOF
    tier: ministry
    address: 127.0.0.1
    snmp: v2
    collectors: [interfaces, ipv6]
    address6: "2001:DB8::1"
    services:
      - {portal: "https://www.mof.example.gov/", agency: MOF}
      - {dns: mof.example.gov}
      - {mail: mof.example.gov, port: 2525}
      - {portal: legacy.mof.example.gov, offered: false}
"""

BAD = """\
snmp_profiles:
  v2: {version: "2c", community: "${NETMON_TEST_COMMUNITY}"}
ipv6:
  traffic_floor: 200%
targets:
  - name: a
    site: S
    tier: province
    address: 127.0.0.1
    snmp: v2
    address6: 10.0.0.1
    services:
      - portal: https://x/
        dns: x.gov
      - mail: x.gov
        colour: red
"""


@pytest.fixture(autouse=True)
def community(monkeypatch):
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", "test-community")


def test_ipv6_settings_and_services(tmp_path):
    path = tmp_path / "netmon.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    ipv6 = config.settings.ipv6
    assert ipv6.interval_s == 1800.0 and ipv6.traffic_floor_pct == 0.5
    assert ipv6.resolvers == ("127.0.0.1:5353", "[::1]:53")
    (t,) = config.targets
    assert t.address6 == "2001:db8::1"  # normalised
    assert [(s.kind, s.name, s.agency, s.port, s.offered) for s in t.services] == [
        ("portal", "https://www.mof.example.gov/", "MOF", None, True),
        ("dns", "mof.example.gov", None, None, True),
        ("mail", "mof.example.gov", None, 2525, True),
        ("portal", "legacy.mof.example.gov", None, None, False),
    ]


def test_defaults_without_ipv6_section(tmp_path):
    path = tmp_path / "netmon.yaml"
    path.write_text(GOOD.replace("ipv6:\n  interval: 30m\n  traffic_floor: 0.5%\n"
                                 '  resolvers: ["127.0.0.1:5353", "[::1]:53"]\n'
                                 "  ca_file: /etc/ssl/certs/ca-certificates.crt\n", ""))
    ipv6 = load_config(path).settings.ipv6
    assert (ipv6.interval_s, ipv6.traffic_floor_pct, ipv6.resolvers) == (3600.0, 0.1, ())


def test_errors_are_located(tmp_path):
    path = tmp_path / "netmon.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert [str(i).removeprefix(f"{path}:") for i in err.value.issues] == [
        "4:18: ipv6.traffic_floor: '200%' is not a percentage between 0 and 100 "
        "(examples: 50%, 70%)",
        "11:15: targets[0].address6: '10.0.0.1' is not an IPv6 address (example: 2001:db8::10)",
        "13:9: targets[0].services[0]: a service needs exactly one of portal, dns or mail "
        "(got portal and dns)",
        "16:9: targets[0].services[1].colour: unknown key 'colour' (expected one of: agency, "
        "dns, mail, offered, port, portal)",
    ]
