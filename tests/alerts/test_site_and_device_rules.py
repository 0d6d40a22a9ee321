"""Plane pairs, unreachable devices and inhibition, counter anomalies, spool backlog.

Step: rates -> **alert engine (rules)**. Each test feeds the samples the rate
step and the alert service produce and reads what the engine hands the
dispatcher.
"""

from __future__ import annotations

from typing import Any

from alertkit import at, device, link, reset

from alerts.engine import AlertEngine
from netmon import plugins
from netmon.model import SPOOL, Sample


def engine(**alerts: Any) -> AlertEngine:
    return AlertEngine(plugins.sections()["alerts"].model_validate(alerts))


def firing(eng: AlertEngine, samples: list[Sample], t: float, name: str) -> list[Any]:
    result = eng.evaluate(samples, now=at(t))
    return [a for a in result.alerts if a.name == name and a.state == "firing"]


def pair(t: float, *, a_util: float = 20.0, b_util: float = 20.0, a_oper: int = 1,
         b_oper: int = 1) -> list[Sample]:
    """Site HNI: plane A on pe-hni-a, plane B on pe-hni-b (two devices), 400M each,
    plus an access link that belongs to no plane."""
    return [
        link("pe-hni-a", "ge-0/0/1", a_util if a_oper == 1 else None, ts=at(t),
             role="plane-a", name="HNI to A-core", oper=a_oper),
        link("pe-hni-b", "ge-0/0/1", b_util if b_oper == 1 else None, ts=at(t),
             role="plane-b", name="HNI to B-core", oper=b_oper),
        link("pe-hni-a", "ge-0/0/5", 90.0, ts=at(t), role="access", name="ministry LAN"),
    ]


def test_plane_a_uplink_down_fires_plane_redundancy_lost() -> None:
    eng = engine()
    assert firing(eng, pair(0), 0, "plane_redundancy_lost") == []
    [alert] = firing(eng, pair(60, a_oper=2), 60, "plane_redundancy_lost")
    assert alert.labels == {"alertname": "plane_redundancy_lost", "severity": "critical",
                            "site": "HNI", "tier": "province", "province": "Ha Noi",
                            "plane": "A"}
    assert alert.annotations["summary"] == "HNI lost all plane A links (1 of 1) for 0s"
    assert "plane B alone" in alert.annotations["description"]
    result = eng.evaluate(pair(120), now=at(120))
    assert [(a.name, a.state) for a in result.alerts if a.name == "plane_redundancy_lost"] == [
        ("plane_redundancy_lost", "resolved")]


def test_one_of_two_plane_links_down_keeps_redundancy() -> None:
    eng = engine()
    samples = [*pair(0), link("pe-hni-a2", "ge-0/0/2", None, ts=at(0), role="plane-a",
                              oper=2)]
    assert firing(eng, samples, 0, "plane_redundancy_lost") == []


def test_a_site_with_one_plane_only_is_not_a_pair() -> None:
    eng = engine()
    samples = [link("pe-x", "ge-0/0/1", None, ts=at(0), role="plane-a", site="X", oper=2)]
    assert firing(eng, samples, 0, "plane_redundancy_lost") == []


def test_combined_load_over_one_planes_threshold_fires_failover_headroom_low() -> None:
    eng = engine(rules={"failover_headroom_low": {"for": "2m"}})
    # 30% + 35% of 400M = 260 Mbit/s: 65% of one plane. Each link alone is under 50%.
    assert firing(eng, pair(0, a_util=30, b_util=35), 0, "failover_headroom_low") == []
    assert firing(eng, pair(60, a_util=30, b_util=35), 60, "link_utilisation_high") == []
    [alert] = firing(eng, pair(120, a_util=30, b_util=35), 120, "failover_headroom_low")
    assert alert.labels["site"] == "HNI" and "plane" not in alert.labels
    assert alert.value == 65.0
    assert alert.annotations["summary"] == (
        "HNI planes A+B carry 260 Mbit/s = 65.0% of the smaller plane's 400 Mbit/s for 2m")
    # 24% + 24% = 48%: under the threshold but not under clear_below (45%): still firing.
    assert firing(eng, pair(180, a_util=24, b_util=24), 180, "failover_headroom_low")
    assert not firing(eng, pair(240, a_util=20, b_util=20), 240, "failover_headroom_low")


def test_pair_within_headroom_stays_quiet() -> None:
    eng = engine(rules={"failover_headroom_low": {"for": "1m"}})
    for t in (0, 60, 120):
        assert firing(eng, pair(t, a_util=20, b_util=25), t, "failover_headroom_low") == []


def test_device_unreachable_after_three_failed_polls_inhibits_its_link_alerts() -> None:
    eng = engine(rules={"link_utilisation_high": {"for": "1m"}})
    ok = [device("pe-1", True, ts=at(0)), link("pe-1", "ge-0/0/1", 80.0, ts=at(0))]
    eng.evaluate(ok, now=at(0))
    eng.evaluate([device("pe-1", True, ts=at(60)), link("pe-1", "ge-0/0/1", 80.0, ts=at(60))],
                 now=at(60))
    for t in (120, 180):
        assert firing(eng, [device("pe-1", False, ts=at(t))], t, "device_unreachable") == []
    result = eng.evaluate([device("pe-1", False, ts=at(240))], now=at(240))
    by_name = {a.name: a for a in result.alerts}
    assert by_name["device_unreachable"].state == "firing"
    assert not by_name["device_unreachable"].inhibited
    assert by_name["device_unreachable"].annotations["summary"] == (
        "pe-1 (HNI) unreachable: 3 polls in a row failed")
    link_alert = by_name["link_utilisation_high"]
    assert link_alert.state == "firing" and link_alert.inhibited  # still listed
    listed = {a["labels"]["alertname"]: a for a in eng.active()}
    assert listed["link_utilisation_high"]["inhibited"] is True
    result = eng.evaluate([device("pe-1", True, ts=at(300)),
                           link("pe-1", "ge-0/0/1", 80.0, ts=at(300))], now=at(300))
    assert {a.name: (a.state, a.inhibited) for a in result.alerts} == {
        "device_unreachable": ("resolved", False), "link_utilisation_high": ("firing", False)}


def test_inhibition_can_be_turned_off() -> None:
    eng = engine(inhibition=False, rules={"device_unreachable": {"failed_polls": 1},
                                          "link_down": {}})
    eng.evaluate([link("pe-1", "ge-0/0/1", None, ts=at(0), oper=2)], now=at(0))
    result = eng.evaluate([device("pe-1", False, ts=at(60))], now=at(60))
    assert not any(a.inhibited for a in result.alerts)


def test_counter_anomaly_three_resets_in_an_hour() -> None:
    eng = engine()
    assert firing(eng, [reset("pe-1", "ge-0/0/1", ts=at(0))], 0, "counter_anomaly") == []
    assert firing(eng, [reset("pe-1", "ge-0/0/1", ts=at(1200), reason="discontinuity")], 1200,
                  "counter_anomaly") == []
    [alert] = firing(eng, [reset("pe-1", "ge-0/0/1", ts=at(2400))], 2400, "counter_anomaly")
    assert alert.annotations["summary"] == "ge-0/0/1 on pe-1: 3 counter resets within 1h"
    assert "discontinuity, reboot" in alert.annotations["description"]
    # An hour after the first reset it is two in the window: resolved by the next poll.
    result = eng.evaluate([link("pe-1", "ge-0/0/1", 10.0, ts=at(3700))], now=at(3700))
    assert [a.state for a in result.alerts if a.name == "counter_anomaly"] == ["resolved"]


def test_resets_spread_over_hours_are_not_an_anomaly() -> None:
    eng = engine()
    for t in (0, 4000, 8000, 12000):
        assert firing(eng, [reset("pe-1", "ge-0/0/1", ts=at(t))], t, "counter_anomaly") == []


def spool(t: float, age_s: float, depth: int = 1000) -> Sample:
    return Sample("netmon", SPOOL, {"sink": "InfluxSink"},
                  {"spool_depth_points": depth, "spool_oldest_age_s": age_s,
                   "last_error": "connection refused"}, at(t))


def test_spool_backlog_over_max_age() -> None:
    eng = engine(rules={"spool_backlog": {"max_age": "30m"}})
    assert firing(eng, [spool(0, 600)], 0, "spool_backlog") == []
    [alert] = firing(eng, [spool(60, 1900)], 60, "spool_backlog")
    assert alert.labels == {"alertname": "spool_backlog", "severity": "warning",
                            "sink": "InfluxSink"}
    assert alert.annotations["summary"] == (
        "Storage spool of InfluxSink holds points 31m old (1000 points)")
    result = eng.evaluate([spool(120, 0, depth=0)], now=at(120))
    assert [a.state for a in result.alerts] == ["resolved"]


def test_plane_rules_gather_the_plane_links_once_per_evaluation(monkeypatch: Any) -> None:
    from alerts.rules import planes

    gathered: list[int] = []
    update = planes._Sites.update

    def counting(self: Any, samples: Any) -> Any:
        gathered.append(len(samples))
        return update(self, samples)

    monkeypatch.setattr(planes._Sites, "update", counting)
    eng = engine(rules={"failover_headroom_low": {"for": "1m"}})
    assert not firing(eng, pair(0, a_util=30, b_util=35), 0, "failover_headroom_low")
    assert gathered == [3]  # both plane rules judged, the interface samples read once
    assert firing(eng, pair(60, a_util=30, b_util=35), 60, "failover_headroom_low")
    assert gathered == [3, 3]
    assert firing(eng, pair(120, a_oper=2), 120, "plane_redundancy_lost")
    assert gathered == [3, 3, 3]


def test_data_centre_and_ipv6_rules_are_handed_only_their_measurements() -> None:
    rules = {name: built.rule for name, built in engine().rules.items()}
    dc = [r for r in rules.values() if hasattr(r, "measurement")]
    assert len(dc) >= 10
    for rule in dc:
        assert rule.measurements == frozenset({rule.measurement}), rule.name
    assert rules["ipv6_readiness_regressed"].measurements == {"ipv6_readiness", "ipv6_service"}
