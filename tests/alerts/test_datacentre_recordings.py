"""Data-centre alerts end to end: generated recordings served by snmpsim, polled by the
data-centre collectors (the tier's defaults), judged by the alert engine.

Step: snmpsim -> collectors -> poll -> **alert engine**. Each scenario raises
exactly its own alert and, when the device is back to normal, it resolves:

* a UPS on battery with its runtime falling (snmpsim's ``numeric`` variation);
* a low battery; an overloaded output;
* an AKCP probe above its own high warning; a failed AKCP sensor.

The device keeps its name across scenarios (only the community, i.e. the
recording, changes), as a real UPS does when mains comes back. Polls are
stamped a minute apart so the rules' shipped ``for`` delays are honoured.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from agents import SnmpSim
from alertkit import at
from pydantic import SecretStr

from alerts.engine import AlertEngine
from netmon import plugins
from netmon.config import Target, tier_collectors
from netmon.credentials import SnmpV2c
from netmon.model import UPS, Sample
from netmon.poll import build_collectors, collectors_for, open_session, poll_target
from netmon.rates import RateEngine
from netmon.simnet import write_snmprec
from netmon.snmp import SnmpClient

M = "1.3.6.1.2.1.33.1"
SP = "1.3.6.1.4.1.3854.1.2.2.1"


def ups_records(*, status: int = 2, source: int = 3, load: int = 30, runtime: str = "45",
                on_battery: str = "0", runtime_tag: str = "2", on_battery_tag: str = "2"):
    return [
        ("1.3.6.1.2.1.1.3.0", "67", "100000"),
        (f"{M}.2.1.0", "2", str(status)), (f"{M}.2.2.0", on_battery_tag, on_battery),
        (f"{M}.2.3.0", runtime_tag, runtime), (f"{M}.2.4.0", "2", "100"),
        (f"{M}.2.7.0", "2", "24"),
        (f"{M}.4.1.0", "2", str(source)), (f"{M}.4.2.0", "2", "500"),
        (f"{M}.4.4.1.2.1", "2", "230"), (f"{M}.4.4.1.5.1", "2", str(load)),
        (f"{M}.6.1.0", "66", "0"), (f"{M}.7.3.0", "2", "1"),
    ]


def probe_records(*, raw: int = 215, status: int = 2, humidity: int = 45):
    t, h = f"{SP}.16.1", f"{SP}.17.1"
    return [
        ("1.3.6.1.2.1.1.3.0", "67", "100000"),
        (f"{t}.1.0", "4", "rack 3 inlet"), (f"{t}.3.0", "2", str(raw // 10)),
        (f"{t}.4.0", "2", str(status)), (f"{t}.5.0", "2", "1"),
        (f"{t}.7.0", "2", "24"), (f"{t}.8.0", "2", "30"), (f"{t}.9.0", "2", "15"),
        (f"{t}.10.0", "2", "10"), (f"{t}.12.0", "2", "1"), (f"{t}.14.0", "2", str(raw)),
        (f"{h}.1.0", "4", "rack 3 humidity"), (f"{h}.3.0", "2", str(humidity)),
        (f"{h}.4.0", "2", "2"), (f"{h}.5.0", "2", "1"), (f"{h}.7.0", "2", "70"),
        (f"{h}.8.0", "2", "80"), (f"{h}.9.0", "2", "30"), (f"{h}.10.0", "2", "20"),
    ]


RECORDINGS = {
    "ups_normal": ups_records(),
    # on battery: seconds on battery rising 1/s, runtime falling 1 min/s from 30 (floor 12)
    "ups_on_battery": ups_records(
        source=5, runtime_tag="2:numeric", runtime="initial=30,rate=-1,min=12,max=30",
        on_battery_tag="2:numeric", on_battery="initial=20,rate=1"),
    "ups_low_battery": ups_records(status=3, runtime="15"),
    "ups_overload": ups_records(load=92),
    "probe_normal": probe_records(),
    "probe_hot": probe_records(raw=265, status=3),
    "probe_failed": probe_records(raw=0, status=7),
}


@pytest.fixture(scope="module")
def dc_agent(tmp_path_factory) -> Iterator[SnmpSim]:
    work = tmp_path_factory.mktemp("dc-alerts")
    files = {name: write_snmprec(work / f"{name}.snmprec", recs)
             for name, recs in RECORDINGS.items()}
    with SnmpSim(files) as sim:
        yield sim


def target(sim: SnmpSim, name: str, community: str) -> Target:
    return Target.model_validate({
        "name": name, "site": "DC-HN", "tier": "datacentre", "province": "Ha Noi",
        "address": sim.host, "port": sim.port,
        "snmp": SnmpV2c(version="2c", community=SecretStr(community)),
        "timeout": 2.0, "retries": 1, "collectors": list(tier_collectors("datacentre")),
    })


async def poll(sim: SnmpSim, name: str, community: str, t: float) -> list[Sample]:
    tgt = target(sim, name, community)
    built = build_collectors(_Settings())
    async with SnmpClient() as client:
        result = await poll_target(open_session(client, tgt), tgt, collectors_for(tgt, built),
                                   RateEngine())
    assert result.error is None, result.error
    return [dataclasses.replace(s, ts=at(t)) for s in result.samples]


class _Settings:
    """The settings sections the collectors are built with (their defaults)."""

    def __getattr__(self, section: str):
        return plugins.sections()[section]()


def firing(eng: AlertEngine) -> set[str]:
    return {a["labels"]["alertname"] for a in eng.active() if a["state"] == "firing"}


SCENARIOS = [
    ("ups_on_battery", "ups-hn-1", "ups_normal", "ups_on_battery"),
    ("ups_low_battery", "ups-hn-1", "ups_normal", "ups_battery_low"),
    ("ups_overload", "ups-hn-1", "ups_normal", "ups_overload"),
    ("probe_hot", "probe-hn-1", "probe_normal", "temperature_high"),
    ("probe_failed", "probe-hn-1", "probe_normal", "sensor_fault"),
]


@pytest.mark.parametrize(("scenario", "device", "normal", "alert"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
async def test_each_scenario_raises_exactly_its_alert_and_resolves(
        dc_agent, scenario, device, normal, alert):
    options = plugins.sections()["alerts"].model_validate({})
    eng = AlertEngine(options)
    eng.evaluate(await poll(dc_agent, device, normal, 0), now=at(0))
    assert firing(eng) == set()
    # long enough for every shipped `for` (temperature_high: 5 minutes)
    for t in (60, 120, 240, 420):
        eng.evaluate(await poll(dc_agent, device, scenario, t), now=at(t))
    assert firing(eng) == {alert}
    (active,) = [a for a in eng.active() if a["state"] == "firing"]
    assert active["labels"]["device"] == device
    assert active["annotations"]["summary"]
    eng.evaluate(await poll(dc_agent, device, normal, 480), now=at(480))
    assert firing(eng) == set()
    resolved = {a["labels"]["alertname"] for a in eng.active() if a["state"] == "resolved"}
    assert resolved == {alert}


async def test_on_battery_runtime_falls_between_polls(snmpsim_factory):
    # An agent of its own: the variation counts from the agent's start (it stops
    # falling at 12 minutes, 18 s after it).
    agent = snmpsim_factory({"ups_on_battery": RECORDINGS["ups_on_battery"]})
    first = [s for s in await poll(agent, "ups-hn-1", "ups_on_battery", 0)
             if s.measurement == UPS]
    await asyncio.sleep(1.2)
    second = [s for s in await poll(agent, "ups-hn-1", "ups_on_battery", 60)
              if s.measurement == UPS]
    assert second[0].fields["runtime_s"] < first[0].fields["runtime_s"]
    assert second[0].fields["on_battery_s"] > first[0].fields["on_battery_s"]
    assert second[0].fields["runtime_s"] >= 12 * 60  # above the floor: on battery only
