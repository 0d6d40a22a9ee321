"""Alert engine: lifecycle, `for`, hysteresis, persistence across restarts, events.

Step: rates -> **alert engine** -> (dispatcher seam). Samples are what the
rate step produces; the engine runs the registered rules for real and keeps
its state in a real SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alertkit import Recorder, at, link

from alerts.engine import AlertEngine, fingerprint
from alerts.store import AlertStore
from netmon import plugins
from netmon.model import ALERT


def options(**alerts: Any) -> Any:
    return plugins.sections()["alerts"].model_validate(alerts)


def engine(tmp_path: Path | None = None, **alerts: Any) -> AlertEngine:
    store = AlertStore.in_state_dir(tmp_path) if tmp_path is not None else None
    return AlertEngine(options(**alerts), store)


def run(eng: AlertEngine, rec: Recorder, series: list[tuple[float, float]], **kw: Any) -> None:
    """Feed one link's utilisation (seconds, util_pct) one poll per evaluation."""
    for t, util in series:
        result = eng.evaluate([link("pe-hni-1", "ge-0/0/1", util, ts=at(t), **kw)], now=at(t))
        rec.update(result.alerts, at(t))


def util_alerts(eng: AlertEngine) -> list[dict]:
    return [a for a in eng.active() if a["labels"]["alertname"] == "link_utilisation_high"]


def test_fires_after_for_and_resolves_only_below_clear_below() -> None:
    eng, rec = engine(), Recorder()
    run(eng, rec, [(0, 40.0), (60, 55.0), (120, 56.0), (300, 57.0)])
    [pending] = util_alerts(eng)
    assert pending["state"] == "pending" and pending["since"] == at(60).isoformat()
    assert not rec.episodes()  # pending alerts are not handed to the dispatcher
    run(eng, rec, [(360, 58.0)])  # 5 min after it first held
    [firing] = util_alerts(eng)
    assert firing["state"] == "firing" and firing["starts_at"] == at(360).isoformat()
    assert firing["value"] == 58.0
    run(eng, rec, [(420, 47.0), (480, 45.0)])  # below the threshold, not below clear_below
    assert util_alerts(eng)[0]["state"] == "firing"
    run(eng, rec, [(540, 44.9)])
    [resolved] = util_alerts(eng)
    assert resolved["state"] == "resolved" and resolved["ends_at"] == at(540).isoformat()
    assert len(rec.episodes()) == 1
    assert rec.calls[-1][0][0].state == "resolved"


def test_oscillating_around_50_with_5_point_swings_fires_at_most_once() -> None:
    eng, rec = engine(), Recorder()
    series = [(60.0 * i, 52.5 if i % 2 else 47.5) for i in range(120)]  # two hours
    run(eng, rec, series)
    assert len(rec.episodes()) == 1
    firing = [a for a in rec.calls[-1][0] if a.state == "firing"]
    assert len(firing) == 1
    assert not any(a.state == "resolved" for alerts, _ in rec.calls for a in alerts)


def test_a_spike_shorter_than_for_never_fires() -> None:
    eng, rec = engine(), Recorder()
    run(eng, rec, [(0, 70.0), (60, 70.0), (120, 70.0), (180, 30.0), (240, 30.0)])
    assert not rec.episodes()
    assert util_alerts(eng) == []  # pending went back to inactive


def test_annotations_show_the_values_in_english_and_vietnamese() -> None:
    for language, expected in (
        ("en", "ge-0/0/1 to HNI plane A at 63.2% of 400 Mbit/s for 7m"),
        ("vi", "ge-0/0/1 to HNI plane A đạt 63.2% của 400 Mbit/s trong 7m"),
    ):
        eng, rec = engine(language=language), Recorder()
        run(eng, rec, [(0, 63.2), (300, 63.2), (420, 63.2)], role="plane-a",
            name="ge-0/0/1 to HNI")
        [alert] = rec.calls[-1][0]
        assert alert.annotations["summary"] == expected
        assert alert.labels == {
            "alertname": "link_utilisation_high", "severity": "warning", "device": "pe-hni-1",
            "site": "HNI", "tier": "province", "province": "Ha Noi", "link": "ge-0/0/1 to HNI",
            "plane": "A",
        }
        assert alert.fingerprint == fingerprint("link_utilisation_high", alert.labels)
        assert "400 Mbit/s" in alert.annotations["description"]


def test_overrides_per_tier_and_link() -> None:
    eng = engine(rules={"link_utilisation_high": {"overrides": [
        {"match": {"tier": "district"}, "for": "15m", "severity": "info"},
        {"match": {"link": "quiet"}, "enabled": False},
        {"match": {"device": "pe-hni-1"}, "clear_below": "30%"},
    ]}})
    for t in (0, 300, 600):
        eng.evaluate([link("d-1", "ge-0/0/0", 60.0, ts=at(t), tier="district"),
                      link("d-2", "quiet", 90.0, ts=at(t)),
                      link("pe-hni-1", "ge-0/0/1", 60.0, ts=at(t))], now=at(t))
    states = {(a["labels"]["device"], a["state"], a["labels"]["severity"]) for a in eng.active()}
    assert states == {("d-1", "pending", "info"), ("pe-hni-1", "firing", "warning")}
    eng.evaluate([link("pe-hni-1", "ge-0/0/1", 40.0, ts=at(660))], now=at(660))
    assert {a["state"] for a in eng.active() if a["labels"]["device"] == "pe-hni-1"} == {"firing"}
    result = eng.evaluate([link("d-1", "ge-0/0/0", 60.0, ts=at(900), tier="district")],
                          now=at(900))
    assert [a.labels["device"] for a in result.alerts if a.state == "firing"] == ["d-1",
                                                                                 "pe-hni-1"]


def test_link_down_only_while_admin_up() -> None:
    eng = engine()
    result = eng.evaluate([link("pe-1", "ge-0/0/1", None, ts=at(0), oper=2, admin=1),
                           link("pe-1", "ge-0/0/2", None, ts=at(0), oper=2, admin=2),
                           link("pe-1", "ge-0/0/3", None, ts=at(0), oper=7, admin=1)],
                          now=at(0))
    down = sorted(a.labels["link"] for a in result.alerts if a.name == "link_down")
    assert down == ["ge-0/0/1", "ge-0/0/3"]
    [a] = [a for a in result.alerts if a.labels["link"] == "ge-0/0/1"]
    assert a.labels["severity"] == "critical"
    assert a.annotations["summary"] == "ge-0/0/1 on pe-1 is down for 0s"
    result = eng.evaluate([link("pe-1", "ge-0/0/1", 10.0, ts=at(60))], now=at(60))
    assert {a.labels["link"]: a.state for a in result.alerts} == {
        "ge-0/0/1": "resolved", "ge-0/0/3": "firing"}


def test_events_for_the_sinks_on_firing_and_resolve_only() -> None:
    eng = engine()
    events = []
    for t, util in [(0, 60.0), (300, 60.0), (360, 61.0), (420, 20.0), (480, 20.0)]:
        events += eng.evaluate([link("pe-1", "ge-0/0/1", util, ts=at(t))], now=at(t)).events
    assert [(e.measurement, e.fields["state"], e.ts) for e in events] == [
        (ALERT, "firing", at(300)), (ALERT, "resolved", at(420))]
    assert events[0].tags["alertname"] == "link_utilisation_high"
    assert events[0].fields["value"] == 60.0
    assert events[0].target == "pe-1"


def test_restart_while_firing_sends_no_second_firing(tmp_path: Path) -> None:
    rec = Recorder()
    eng = engine(tmp_path)
    run(eng, rec, [(0, 60.0), (300, 60.0), (360, 60.0)])
    [before] = rec.calls[-1][0]
    eng.store.close()

    eng = engine(tmp_path)  # a new process: state comes from alerts.sqlite
    # Before any sample: it is still firing, with the same identity and start.
    result = eng.evaluate([], now=at(400))
    assert [(a.fingerprint, a.state, a.starts_at) for a in result.alerts] == [
        (before.fingerprint, "firing", before.starts_at)]
    events = []
    for t in (420, 480):
        events += eng.evaluate([link("pe-hni-1", "ge-0/0/1", 47.0, ts=at(t))], now=at(t)).events
        rec.update(eng.evaluate([], now=at(t)).alerts, at(t))
    assert events == []  # no second firing event; hysteresis held across the restart
    assert len(rec.episodes()) == 1


def test_a_resolve_that_happened_while_down_is_sent_after_start(tmp_path: Path) -> None:
    rec = Recorder()
    eng = engine(tmp_path)
    run(eng, rec, [(0, 60.0), (300, 60.0)])
    assert rec.calls[-1][0][0].state == "firing"
    eng.store.close()

    eng = engine(tmp_path)
    result = eng.evaluate([link("pe-hni-1", "ge-0/0/1", 10.0, ts=at(900))], now=at(900))
    [alert] = result.alerts
    assert (alert.state, alert.ends_at, alert.starts_at) == ("resolved", at(900), at(300))
    assert [e.fields["state"] for e in result.events] == ["resolved"]
    eng.store.close()
    # And the resolve itself survives the next restart until resolved_keep has passed.
    eng = engine(tmp_path)
    assert [a.state for a in eng.evaluate([], now=at(1000)).alerts] == ["resolved"]
    assert eng.evaluate([], now=at(900 + 901)).alerts == []
    eng.store.close()
    assert AlertStore.in_state_dir(tmp_path).load() == []


def test_pending_is_not_restored_as_firing(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    eng.evaluate([link("pe-1", "ge-0/0/1", 60.0, ts=at(0))], now=at(0))
    eng.store.close()
    eng = engine(tmp_path)
    assert eng.evaluate([], now=at(10)).alerts == []
    assert [a["state"] for a in eng.active()] == ["pending"]
    # `for` counts from when the condition first held, before the restart.
    fired = eng.evaluate([link("pe-1", "ge-0/0/1", 60.0, ts=at(300))], now=at(300)).alerts
    assert [a.state for a in fired] == ["firing"]


def test_a_failing_rule_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    eng = engine()

    class Broken:
        name = "broken"

        def evaluate(self, samples: object) -> list:
            raise ZeroDivisionError("bug in a plugin")

    from alerts.engine import _Built
    from alerts.rule import RuleOptions

    eng.rules = {"broken": _Built(Broken(), RuleOptions()), **eng.rules}
    result = eng.evaluate([link("pe-1", "ge-0/0/1", None, ts=at(0), oper=2)], now=at(0))
    assert [a.name for a in result.alerts] == ["link_down"]
    assert "rule broken failed" in caplog.text


def test_a_link_that_goes_down_is_no_longer_over_its_threshold() -> None:
    eng, rec = engine(rules={"link_utilisation_high": {"for": "1m"}}), Recorder()
    run(eng, rec, [(0, 70.0), (60, 70.0)])
    assert [a.state for a in rec.calls[-1][0]] == ["firing"]
    result = eng.evaluate([link("pe-hni-1", "ge-0/0/1", 70.0, ts=at(120), oper=2)], now=at(120))
    assert {a.name: a.state for a in result.alerts} == {
        "link_utilisation_high": "resolved", "link_down": "firing"}
