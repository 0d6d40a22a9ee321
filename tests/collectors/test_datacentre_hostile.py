"""Every data-centre collector on an agent that answers its MIBs with the wrong types,
out-of-range numbers and half rows: samples and poll issues, never an exception."""

from __future__ import annotations

import pytest
from test_ups_mib import collect

from collectors.akcp import AkcpCollector
from collectors.apc import ApcCollector
from collectors.entity_sensor import EntitySensorCollector
from collectors.geist import GeistCollector
from collectors.host_resources import HostResourcesCollector
from collectors.ups_mib import UpsMibCollector
from netmon.model import POLL_ISSUE

M = "1.3.6.1.2.1.33.1"
SP = "1.3.6.1.4.1.3854.1.2.2.1"
E = "1.3.6.1.2.1.99.1.1.1"
HR = "1.3.6.1.2.1.25"
APC = "1.3.6.1.4.1.318.1.1"
G = "1.3.6.1.4.1.21239.5.1"

HOSTILE = [
    (f"{M}.2.1.0", "4", "normal"),                  # a string where an enum belongs
    (f"{M}.2.3.0", "2", "-7"),
    (f"{M}.4.1.0", "2", "99"),                      # not in the enumeration
    (f"{M}.4.4.1.5.1", "4", "lots"),
    (f"{M}.6.1.0", "66", "2"),
    (f"{M}.6.2.1.2.1", "2", "5"),                   # an integer where an OID belongs
    (f"{M}.6.2.1.2.2", "4", ""),
    (f"{M}.7.3.0", "6", "1.3.6.1"),
    (f"{SP}.16.1.1.0", "2", "12"),                  # description as a number
    (f"{SP}.16.1.4.0", "2", "42"),
    (f"{SP}.16.1.14.0", "4", "hot"),
    (f"{SP}.17.1.3.1", "2", "55"),                  # value, no description, no status
    (f"{SP}.18.1.3.2", "4", "x"),
    (f"{E}.1.1", "2", "8"), (f"{E}.2.1", "2", "999"), (f"{E}.4.1", "2", "12"),
    (f"{E}.1.2", "4", "celsius"), (f"{E}.4.2", "4", "12"),
    (f"{HR}.1.1.0", "4", "yesterday"),
    (f"{HR}.2.3.1.2.1", "2", "4"), (f"{HR}.2.3.1.3.1", "2", "7"),
    (f"{HR}.2.3.1.4.1", "2", "0"), (f"{HR}.2.3.1.5.1", "2", "10"), (f"{HR}.2.3.1.6.1", "2", "20"),
    (f"{HR}.3.3.1.2.5", "4", "busy"),
    (f"{APC}.1.2.1.1.0", "4", "fine"), (f"{APC}.1.2.2.3.0", "2", "-5"),
    (f"{APC}.1.4.1.1.0", "2", "77"),
    (f"{APC}.26.10.2.2.1.6.1", "2", "2"), (f"{APC}.26.10.2.2.1.8.1", "4", "warm"),
    (f"{G}.2.1.5.1", "4", "cold"), (f"{G}.4.1.4.2", "66", "1"),
]

COLLECTORS = [UpsMibCollector, ApcCollector, EntitySensorCollector, AkcpCollector,
              GeistCollector, HostResourcesCollector]


@pytest.fixture(scope="module")
def hostile_agent(tmp_path_factory):
    from agents import SnmpSim

    from netmon.simnet import write_snmprec

    path = write_snmprec(tmp_path_factory.mktemp("hostile") / "hostile.snmprec", HOSTILE)
    with SnmpSim({"hostile": path}) as sim:
        yield sim


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.name)
async def test_hostile_answers_give_samples_and_issues(hostile_agent, collector):
    samples = await collect(collector(), hostile_agent, "hostile")
    for s in samples:
        for value in s.fields.values():
            assert isinstance(value, int | float | str | bool)
    if collector is UpsMibCollector:
        issues = [s.fields["message"] for s in samples if s.measurement == POLL_ISSUE]
        assert any("upsBatteryStatus" in m for m in issues), issues
