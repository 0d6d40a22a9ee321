"""End to end: snmpsim -> netmon run -> alert engine -> dispatcher -> Alertmanager, log.

Step: the whole flow, on loopback. One simulated edge router has a plane-A
uplink of 400 Mbit/s; the traffic is changed by restarting snmpsim on the
same port with a new recording (the counters start again, which netmon
takes as a reboot: one poll without a rate). Alertmanager is Debian's
prometheus-alertmanager (tests/receivers.py), read back through
GET /api/v2/alerts.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from receivers import Alertmanager

from netmon import simnet
from netmon.simnet import SimInterface

CAPACITY = 400e6


class Edge:
    """snmpsim serving one router, ``edge``, whose uplink carries ``util_pct`` of 400M."""

    def __init__(self) -> None:
        self.root = simnet.world_dir("netmon-am-e2e-")
        self.agent: simnet.SnmpSimProcess | None = None

    def serve(self, util_pct: float) -> None:
        if self.agent is not None:
            self.agent.stop()
            shutil.rmtree(self.root / "cache", ignore_errors=True)
        iface = SimInterface(1, "ge-0/0/1", "UPLINK-A to HNI", 1_000,
                             util_pct / 100 * CAPACITY, util_pct / 200 * CAPACITY)
        data = simnet.install_recordings(
            {"edge": simnet.device_records([iface], sys_name="edge")}, self.root)
        port = self.agent.port if self.agent is not None else None
        self.agent = simnet.SnmpSimProcess(data, port=port)
        self.agent.start(ready=lambda: simnet.v2c_answers("127.0.0.1", self.agent.port, "edge"))

    def cleanup(self) -> None:
        if self.agent is not None:
            self.agent.cleanup()


@pytest.fixture
def edge() -> Iterator[Edge]:
    e = Edge()
    try:
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    with Alertmanager(tmp_path / "am") as server:
        yield server


def _config(edge: Edge, alertmanager: Alertmanager, netmon_config, for_s: float):
    target = (
        "  - {name: edge, site: HNI, tier: province, province: Ha Noi, address: \"127.0.0.1\", "
        f"port: {edge.agent.port}, snmp: edge, links: [{{ifName: ge-0/0/1, "
        "name: \"ge-0/0/1 to HNI\", capacity: 400M, role: plane-a}]}\n")
    config = netmon_config([target], communities=["edge"])
    with open(config.path, "a", encoding="utf-8") as f:
        f.write(
            "alerts:\n"
            "  eval_interval: 0.25s\n"
            "  external_url: http://netmon.example:9161\n"
            f"  rules: {{link_utilisation_high: {{for: {for_s:g}s}}}}\n"
            "notifications:\n"
            "  route: {receiver: am, group_wait: 0.1s, group_interval: 0.5s}\n"
            "  receivers:\n"
            f"    - {{name: am, alertmanager: {{urls: [\"{alertmanager.url}\"], "
            "resend_delay: 1s}}\n")
    return config


def _held(alertmanager: Alertmanager) -> list[dict]:
    return [a for a in alertmanager.alerts()
            if a["labels"].get("alertname") == "link_utilisation_high"]


def _util(daemon) -> float | None:
    links = daemon.json("/api/links")["links"]
    return links[0]["util_pct"] if links else None  # None before the first poll


def test_link_over_50_reaches_alertmanager_and_resolves_below_clear_below(
        edge, alertmanager, netmon_config, start_daemon, wait_for) -> None:
    edge.serve(62.5)
    config = _config(edge, alertmanager, netmon_config, 3.0)
    daemon = start_daemon(config)

    def held() -> list[dict]:
        return _held(alertmanager)

    [alert] = wait_for(held, 20, "link_utilisation_high in Alertmanager", 0.1)
    assert alert["labels"] == {
        "alertname": "link_utilisation_high", "severity": "warning", "device": "edge",
        "site": "HNI", "tier": "province", "province": "Ha Noi", "link": "ge-0/0/1 to HNI",
        "plane": "A"}
    assert alert["status"]["state"] == "active"
    assert alert["annotations"]["summary"].startswith("ge-0/0/1 to HNI plane A at 62.")
    assert "% of 400 Mbit/s for " in alert["annotations"]["summary"]
    assert alert["generatorURL"].startswith("http://netmon.example:9161/api/alerts?fingerprint=")
    [ours] = daemon.json("/api/alerts?state=firing")["alerts"]
    assert ours["labels"] == alert["labels"]  # Alertmanager has its own fingerprints
    assert alert["generatorURL"].endswith(ours["fingerprint"])
    assert alert["startsAt"][:19] == ours["starts_at"][:19]

    # 47.5%: under the threshold but not under clear_below (45%): it keeps firing.
    edge.serve(47.5)
    wait_for(lambda: any(r["util_pct"] and r["util_pct"] < 50
                         for r in daemon.json("/api/links")["links"]), 10, "the lower rate")
    assert [(a["fingerprint"], a["startsAt"]) for a in held()] == [
        (alert["fingerprint"], alert["startsAt"])]  # the same episode
    assert daemon.json("/api/alerts?state=firing")["alerts"]

    sent = daemon.metrics().by("netmon_notifications_sent_total", "receiver")
    assert sent["am"] >= 1

    edge.serve(30.0)
    wait_for(lambda: not held(), 15, "the alert resolved in Alertmanager", 0.1)
    [resolved] = daemon.json("/api/alerts")["alerts"]
    assert resolved["state"] == "resolved" and resolved["value"] < 45
    rc, _ = daemon.terminate()
    assert rc == 0


def test_a_link_oscillating_around_50_fires_at_most_once(
        edge, alertmanager, netmon_config, start_daemon, wait_for) -> None:
    edge.serve(52.5)
    daemon = start_daemon(_config(edge, alertmanager, netmon_config, 2.0))
    wait_for(lambda: _util(daemon) is not None, 10, "a first rate")
    episodes: set[str] = set()  # startsAt of each alert Alertmanager was sent
    for util in (47.5, 52.5, 47.5):
        before = _util(daemon)
        edge.serve(util)
        wait_for(lambda u=util, b=before: (v := _util(daemon)) is not None and v != b
                 and abs(v - u) < 1.5, 10, f"the rate at {util}%")
        deadline = time.monotonic() + 1.0  # and a second at that rate
        while time.monotonic() < deadline:
            now = _held(alertmanager)
            assert len(now) <= 1
            if episodes:
                assert now, "resolved while oscillating above clear_below"
            episodes.update(a["startsAt"] for a in now)
            time.sleep(0.1)
    assert len(episodes) == 1, episodes  # 2 s of `for` passed long ago: it fired, once
    alerts = {a["labels"]["alertname"]: a for a in daemon.json("/api/alerts")["alerts"]}
    assert alerts["link_utilisation_high"]["state"] == "firing"
    # Each restart of the simulator reset the counters: that too is seen.
    assert alerts["counter_anomaly"]["state"] == "firing"
    rc, _ = daemon.terminate()
    assert rc == 0


def test_restart_sends_no_second_firing_and_a_resolve_while_down_is_sent_after_start(
        edge, alertmanager, netmon_config, start_daemon, wait_for) -> None:
    edge.serve(62.5)
    config = _config(edge, alertmanager, netmon_config, 1.0)
    fired = "alert firing since"  # the log receiver: one line per notification
    first = start_daemon(config)
    wait_for(lambda: fired in first.stderr, 20, "the firing notification")
    [alert] = wait_for(lambda: _held(alertmanager), 10, "the alert in Alertmanager")
    first.terminate()

    second = start_daemon(config)
    wait_for(lambda: second.polls().get("edge", 0) >= 4, 15, "four polls after the restart")
    time.sleep(1.0)  # several evaluations and dispatches
    assert fired not in second.stderr
    assert "alert firing: " not in second.stderr  # nor a new episode in the engine
    [again] = _held(alertmanager)  # still the same alert, kept alive by the resends
    assert again["startsAt"] == alert["startsAt"]
    second.terminate()

    edge.serve(30.0)  # the link calmed down while netmon was stopped
    third = start_daemon(config)
    wait_for(lambda: "alert resolved: alertname=link_utilisation_high" in third.stderr, 15,
             "the resolved notification after the start")
    wait_for(lambda: not _held(alertmanager), 10, "the alert resolved in Alertmanager")
    assert fired not in third.stderr
    [resolved] = third.json("/api/alerts?filter=alertname=link_utilisation_high")["alerts"]
    assert resolved["state"] == "resolved"
    assert resolved["starts_at"][:19] == alert["startsAt"][:19]
    third.terminate()
