"""Rule ipv6_readiness_regressed: on samples built here, and on two runs of the ipv6
collector against snmpsim whose recording drops from level 3 to level 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ipv6_records as rec
import pytest
from agents import write_snmprec
from pydantic import SecretStr, ValidationError

from alerts.rules.ipv6 import Ipv6ReadinessRegressed, Ipv6RegressedOptions
from netmon import plugins
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.model import IPV6_READINESS, IPV6_SERVICE, Sample
from netmon.poll import build_collectors, open_session
from netmon.snmp import SnmpClient

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TAGS = {"device": "hni-r1", "site": "HNI", "tier": "province", "province": "HN"}


def level(n: int | None, reasons: str = "", minutes: int = 0) -> Sample:
    fields = {"level": n, "reasons": reasons} if n is not None else {"error": "no response"}
    return Sample("hni-r1", IPV6_READINESS, TAGS, fields, T0 + timedelta(minutes=minutes))


def colour(c: str | None, reasons: str = "", service: str = "https://hanoi.gov.vn/") -> Sample:
    tags = {**TAGS, "agency": "UBND-HN", "service": service, "kind": "portal"}
    fields = {"colour": c, "reasons": reasons} if c else {"error": "resolver timed out"}
    return Sample("hni-r1", IPV6_SERVICE, tags, fields, T0)


def firing(rule: Ipv6ReadinessRegressed, *samples: Sample) -> list[bool]:
    return [o.firing for o in rule.evaluate(list(samples))]


def test_registered_with_options():
    plugin = plugins.rules()["ipv6_readiness_regressed"]
    assert plugin.options is Ipv6RegressedOptions
    opts = Ipv6RegressedOptions.model_validate({"for": "2h", "severity": "critical"})
    assert opts.for_s == 7200.0
    assert isinstance(plugin.factory(opts), Ipv6ReadinessRegressed)
    with pytest.raises(ValidationError):
        Ipv6RegressedOptions.model_validate({"treshold": 1})


def test_level_drop_fires_and_holds_until_back():
    rule = Ipv6ReadinessRegressed()
    # First sight is the reference, and fine: nothing to report (alerts.rule.Reporter).
    assert firing(rule, level(3, "IPv6 traffic 0% of IP traffic, below the 0.1% floor")) == []
    (obs,) = rule.evaluate([level(1, "no global IPv6 address on uplink ge-0/0/1; no ::/0 route",
                                  minutes=60)])
    assert obs.firing and obs.value == 1.0
    assert obs.key == ("device", "hni-r1")
    assert obs.labels == {"alertname": "ipv6_readiness_regressed", "severity": "warning",
                          **TAGS}
    assert obs.annotations["summary"] == "IPv6 readiness of hni-r1 dropped to level 1 (enabled)"
    assert obs.annotations["description"] == (
        "hni-r1 (site HNI) went from IPv6 level 3 (routed) to level 1 (enabled). Missing now: "
        "no global IPv6 address on uplink ge-0/0/1; no ::/0 route. Missing before: IPv6 "
        "traffic 0% of IP traffic, below the 0.1% floor.")
    assert firing(rule, level(2)) == [True]       # better, still below 3
    assert firing(rule, level(None)) == []         # not judged: the device did not answer
    assert firing(rule, level(3)) == [False]       # back: resolved
    assert firing(rule, level(4)) == []            # a rise is never an alert (fine, no news)
    assert firing(rule, level(3)) == [True]        # the reference followed it up to 4


def test_first_sight_is_fine_even_at_level_0():
    assert firing(Ipv6ReadinessRegressed(), level(0)) == []


def test_service_leaving_green():
    rule = Ipv6ReadinessRegressed()
    assert firing(rule, colour("red")) == []             # never green: nothing regressed
    assert firing(rule, colour("green")) == []           # fine and still fine: no news
    (obs,) = rule.evaluate([colour("yellow", "hanoi.gov.vn at [2001:db8::1]:443: timed out")])
    assert obs.firing
    assert obs.key == ("service", "hni-r1", "https://hanoi.gov.vn/")
    assert obs.labels["service"] == "https://hanoi.gov.vn/"
    assert obs.labels["kind"] == "portal" and obs.labels["agency"] == "UBND-HN"
    assert obs.annotations["description"] == (
        "portal https://hanoi.gov.vn/ of UBND-HN (device hni-r1) was green over IPv6 and is now "
        "yellow: hanoi.gov.vn at [2001:db8::1]:443: timed out.")
    assert firing(rule, colour(None)) == []              # resolver trouble: not judged
    assert firing(rule, colour("red")) == [True]
    assert firing(rule, colour("grey")) == [False]       # taken off IPv6 on purpose
    assert firing(rule, colour("red")) == []             # ... so red later is not a regression


def test_services_can_be_left_out():
    rule = Ipv6ReadinessRegressed(Ipv6RegressedOptions(services=False))
    assert firing(rule, colour("green"), colour("red")) == []


def test_restored_after_restart_keeps_firing_until_better():
    rule = Ipv6ReadinessRegressed()
    rule.restore([("device", "hni-r1"), ("service", "hni-r1", "https://hanoi.gov.vn/")])
    assert firing(rule, level(1), colour("yellow")) == [True, True]
    assert firing(rule, level(1), colour("green")) == [True, False]
    assert firing(rule, level(2)) == [False]


def test_overrides_per_tier():
    opts = Ipv6RegressedOptions.model_validate({
        "severity": "info",
        "overrides": [{"match": {"tier": "province"}, "severity": "critical"},
                      {"match": {"site": "HNI"}, "enabled": False}]})
    rule = Ipv6ReadinessRegressed(opts)
    rule.evaluate([level(4)])
    assert rule.evaluate([level(1)]) == []  # disabled for this site: judged fine, no news
    other = Sample("hcm-r1", IPV6_READINESS, {**TAGS, "device": "hcm-r1", "site": "HCM"},
                   {"level": 4}, T0)
    rule.evaluate([other])
    (obs,) = rule.evaluate([Sample("hcm-r1", IPV6_READINESS, other.tags, {"level": 2}, T0)])
    assert obs.firing and obs.labels["severity"] == "critical"


def test_vietnamese_annotations():
    rule = Ipv6ReadinessRegressed(language="vi")
    rule.evaluate([level(4)])
    (obs,) = rule.evaluate([level(3, "IPv6 traffic 0% of IP traffic, below the 0.1% floor")])
    assert obs.annotations["summary"] == "Mức sẵn sàng IPv6 của hni-r1 giảm xuống mức 3 (routed)"
    rule.evaluate([colour("green")])
    (obs,) = rule.evaluate([colour("red", "no AAAA record for hanoi.gov.vn")])
    assert obs.annotations["description"].endswith("nay đỏ: no AAAA record for hanoi.gov.vn.")


async def test_recording_from_level3_to_level1_raises_the_alert(snmpsim_factory, tmp_path):
    sim = snmpsim_factory({"hni-r1": rec.level(3)})
    target = Target.model_validate({
        "name": "hni-r1", "site": "HNI", "tier": "province", "province": "HN",
        "address": "127.0.0.1", "port": sim.port, "timeout": 1.0, "retries": 1,
        "snmp": SnmpV2c(version="2c", community=SecretStr("hni-r1")),
        "collectors": ["ipv6"], "links": [{"ifName": "ge-0/0/1", "role": "uplink"}],
    })
    settings = type("S", (), {"ipv6": None, "interfaces": None})()
    collector = build_collectors(settings)["ipv6"]
    rule = plugins.rules()["ipv6_readiness_regressed"].factory(Ipv6RegressedOptions())

    async def run() -> list:
        async with SnmpClient() as client:
            return rule.evaluate(await collector.collect(open_session(client, target), target))

    assert await run() == []  # level 3 at first sight: the reference, nothing to report
    # The device loses its global address, forwarding and default route.
    write_snmprec(sim.data_dir / "hni-r1.snmprec", rec.level(1))
    sim.restart()
    (second,) = await run()
    assert second.firing
    assert second.labels["device"] == "hni-r1"
    assert "from IPv6 level 3 (routed) to level 1 (enabled)" in second.annotations["description"]
    assert "no global IPv6 address on uplink ge-0/0/1" in second.annotations["description"]
    assert "no ::/0 route" in second.annotations["description"]


async def test_through_the_alert_engine(snmpsim_factory, tmp_path):
    """Two runs of the collector, level 3 then level 1, through the engine: one alert
    fires, with the rule's labels and annotations, in the configured language."""
    from alerts.engine import AlertEngine
    from alerts.store import AlertStore

    sim = snmpsim_factory({"hni-r1": rec.level(3)})
    target = Target.model_validate({
        "name": "hni-r1", "site": "HNI", "tier": "province", "province": "HN",
        "address": "127.0.0.1", "port": sim.port, "timeout": 1.0, "retries": 1,
        "snmp": SnmpV2c(version="2c", community=SecretStr("hni-r1")),
        "collectors": ["ipv6"], "links": [{"ifName": "ge-0/0/1", "role": "uplink"}],
    })
    settings = type("S", (), {"ipv6": None, "interfaces": None})()
    collector = build_collectors(settings)["ipv6"]
    options = plugins.sections()["alerts"].model_validate({"language": "vi"})
    engine = AlertEngine(options, AlertStore.in_state_dir(tmp_path))

    async def run():
        async with SnmpClient() as client:
            return await collector.collect(open_session(client, target), target)

    first = engine.evaluate(await run(), T0)
    assert [a for a in first.alerts if a.name == "ipv6_readiness_regressed"] == []
    write_snmprec(sim.data_dir / "hni-r1.snmprec", rec.level(1))
    sim.restart()
    second = engine.evaluate(await run(), T0 + timedelta(hours=1))
    (alert,) = [a for a in second.alerts if a.name == "ipv6_readiness_regressed"]
    assert alert.state == "firing"
    assert alert.labels == {"alertname": "ipv6_readiness_regressed", "severity": "warning",
                            "device": "hni-r1", "site": "HNI", "tier": "province",
                            "province": "HN"}
    assert alert.annotations["summary"] == ("Mức sẵn sàng IPv6 của hni-r1 giảm xuống mức 1 "
                                            "(enabled)")
    (event,) = [e for e in second.events if e.tags["alertname"] == "ipv6_readiness_regressed"]
    assert event.fields["state"] == "firing" and event.fields["value"] == 1.0
