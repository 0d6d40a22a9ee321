"""Step: collectors -> samples, one poll of one target. Collectors are isolated: one whose
MIB the agent refuses becomes a poll issue and the others' samples are kept; an
unreachable device still fails the whole poll."""

from __future__ import annotations

from pydantic import SecretStr

from netmon.config import Target, settings_model
from netmon.credentials import SnmpV2c
from netmon.model import DEVICE, HOST, POLL_ISSUE, UPS
from netmon.poll import build_collectors, collectors_for, open_session, poll_target
from netmon.rates import RateEngine
from netmon.simnet import free_udp_port
from netmon.snmp import SnmpClient

M = "1.3.6.1.2.1.33.1"
RECORDS = [
    ("1.3.6.1.2.1.1.3.0", "67", "12345"),
    (f"{M}.2.1.0", "2", "2"), (f"{M}.2.3.0", "2", "30"), (f"{M}.2.4.0", "2", "100"),
    (f"{M}.4.1.0", "2", "3"), (f"{M}.4.4.1.5.1", "2", "40"), (f"{M}.6.1.0", "66", "0"),
    # HOST-RESOURCES answers genErr to anything under it (snmpsim's error variation)
    ("1.3.6.1.2.1.25.1.1.0", "67:error", "op=any,status=genError"),
    ("1.3.6.1.2.1.25.2.3.1.2.1", "6:error", "op=any,status=genError"),
]


def target(port: int, community: str, collectors: list[str]) -> Target:
    return Target.model_validate({
        "name": "ups1", "site": "DC-HN", "tier": "datacentre", "address": "127.0.0.1",
        "port": port, "snmp": SnmpV2c(version="2c", community=SecretStr(community)),
        "timeout": 1.0, "retries": 0, "collectors": collectors,
    })


async def run(t: Target):
    built = build_collectors(settings_model()())  # every collector, on its defaults
    async with SnmpClient() as client:
        return await poll_target(open_session(client, t), t, collectors_for(t, built),
                                 RateEngine())


async def test_failing_collector_keeps_the_others(snmpsim_factory):
    sim = snmpsim_factory({"dc": RECORDS})
    result = await run(target(sim.port, "dc", ["ups", "host"]))
    assert result.error is None
    assert len([s for s in result.samples if s.measurement == UPS]) == 1
    assert [s for s in result.samples if s.measurement == HOST] == []
    issues = [s.fields["message"] for s in result.samples if s.measurement == POLL_ISSUE]
    assert any(m.startswith("collector host failed: genErr") for m in issues), issues
    (device,) = [s for s in result.samples if s.measurement == DEVICE]
    assert device.fields["reachable"] is True


async def test_every_collector_failing_fails_the_poll(snmpsim_factory):
    sim = snmpsim_factory({"dc": RECORDS})
    result = await run(target(sim.port, "dc", ["host"]))
    assert result.error is not None and "genErr" in result.error


async def test_unreachable_device_fails_the_whole_poll():
    result = await run(target(free_udp_port(), "nobody", ["ups", "host"]))
    assert result.error is not None and "no response" in result.error
    assert [s.measurement for s in result.samples] == [DEVICE]
    assert result.samples[0].fields["reachable"] is False
