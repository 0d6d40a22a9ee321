"""Step: YAML. Per-tier defaults: ``tier: datacentre`` targets get the data-centre
collectors without repeating them; ``tier_defaults:`` sets any poll setting per tier,
between the main file's ``defaults:`` and a target file's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import (  # noqa: F401
    KNOWN_COLLECTORS,
    PROFILES,
    _in_fixtures,
    issues_of,
    write,
)

from netmon.config import load_config, tier_collectors

DC = ("interfaces", "akcp", "apc", "entity_sensor", "geist", "host", "ups")


def test_datacentre_gets_its_collectors_without_repeating(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
targets:
  - {name: ups1, site: DC-HN, tier: datacentre, address: 192.0.2.10}
  - {name: r1, site: HN, tier: province, address: 192.0.2.1}
  - {name: pdu1, site: DC-HN, tier: datacentre, address: 192.0.2.11, collectors: [apc]}
""")
    config = load_config(main)
    assert config.target("ups1").collectors == DC
    assert config.target("r1").collectors == ("interfaces",)
    assert config.target("pdu1").collectors == ("apc",)
    assert tier_collectors("datacentre") == DC


def test_tier_defaults_sit_between_main_and_file_defaults(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
  interval: 60s
tier_defaults:
  datacentre:
    interval: 30s
    collectors: [interfaces, ups, host]
  district:
    interval: 5m
include: [targets/*.yaml]
""")
    write(tmp_path / "targets" / "dc.yaml", """\
targets:
  - {name: ups1, site: DC-HN, tier: datacentre, address: 192.0.2.10}
  - {name: ups2, site: DC-HN, tier: datacentre, address: 192.0.2.12, interval: 10s}
""")
    write(tmp_path / "targets" / "dc2.yaml", """\
defaults:
  interval: 15s
targets:
  - {name: srv1, site: DC-HCM, tier: datacentre, address: 192.0.2.20}
  - {name: d1, site: X, tier: district, address: 192.0.2.30}
""")
    config = load_config(main)
    assert config.target("ups1").interval_s == 30
    assert config.target("ups1").collectors == ("interfaces", "ups", "host")
    assert config.target("ups2").interval_s == 10
    assert config.target("srv1").interval_s == 15   # the file's own defaults win
    assert config.target("d1").interval_s == 15
    assert config.target("srv1").collectors == ("interfaces", "ups", "host")


def test_main_defaults_collectors_hold_for_every_tier(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
  collectors: [interfaces, host]
targets:
  - {name: srv1, site: DC-HN, tier: datacentre, address: 192.0.2.20}
""")
    assert load_config(main).target("srv1").collectors == ("interfaces", "host")


@pytest.mark.parametrize(("body", "expected"), [
    ("""\
tier_defaults:
  datacentre:
    collectors: [interfaces, usp]
""", ["{main}:7:17: tier_defaults.datacentre.collectors: unknown collector 'usp' (known: "
      f"{KNOWN_COLLECTORS}); did you mean 'ups'?"]),
    ("""\
tier_defaults:
  data-centre:
    interval: 30s
""", ["{main}:6:3: tier_defaults.data-centre: 'data-centre' is not one of: backbone, "
      "ministry, province, district, datacentre"]),
    ("""\
tier_defaults:
  datacentre:
    intervall: 30s
""", ["{main}:7:5: tier_defaults.datacentre.intervall: unknown key 'intervall' (expected "
      "one of: collectors, deadline, discover, interval, max_repetitions, port, retries, "
      "snmp, timeout); did you mean 'interval'?"]),
    ("""\
tier_defaults:
  datacentre:
    snmp: dc-profile
""", ["{main}:7:11: tier_defaults.datacentre.snmp: unknown SNMP profile 'dc-profile' "
      "(defined: v2)"]),
])
def test_tier_defaults_errors_name_file_line_and_key(tmp_path: Path, body: str,
                                                    expected: list[str]) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + body)
    assert issues_of(main) == [e.format(main=main) for e in expected]
