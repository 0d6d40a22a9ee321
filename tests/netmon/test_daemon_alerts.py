"""The daemon runs the alert engine on what it polls: snmpsim -> netmon run -> alerts.

Step: scheduler -> collectors -> rates -> **alert engine** (inside ``netmon run``),
end to end on loopback. core-b's plane-B link runs at 57.5% of 1.2 Gbit/s in
the simulated network (tests/netmon/conftest.py); the others stay under 50%.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys

ALERTS_YAML = (
    "alerts:\n"
    "  eval_interval: 0.5s\n"
    "  rules:\n"
    "    link_utilisation_high: {for: 2s}\n"
)


def _with_alerts(config, extra: str = ALERTS_YAML):
    with open(config.path, "a", encoding="utf-8") as f:
        f.write(extra)
    return config


def _states(config) -> list[tuple[str, str]]:
    db = sqlite3.connect(config.state_dir / "alerts.sqlite")
    try:
        return sorted(db.execute("SELECT json_extract(labels, '$.device') || ' ' || "
                                 "json_extract(labels, '$.link'), state FROM alert_state "
                                 "WHERE rule = 'link_utilisation_high'").fetchall())
    finally:
        db.close()


def test_over_threshold_link_fires_logs_and_survives_a_restart(
        simnet_agent, netmon_config, start_daemon, wait_for) -> None:
    config = _with_alerts(netmon_config(
        [simnet_agent.target(n) for n in ("core-a", "core-b", "pe-2")]))
    daemon = start_daemon(config)
    wait_for(lambda: "alert firing: link_utilisation_high" in daemon.stderr, 15,
             "link_utilisation_high to fire")
    line = next(x for x in daemon.stderr.splitlines() if "alert firing" in x)
    assert "device=core-b link=xe-0/0/0 site=SITE-CORE-B" in line
    # 690 Mbit/s of 1.2 Gbit/s, give or take the simulator's timing.
    assert re.search(r"xe-0/0/0 plane B at 5[6-9]\.\d% of 1.2 Gbit/s for \ds$", line), line
    assert _states(config) == [("core-b xe-0/0/0", "firing")]
    rc, _ = daemon.terminate()
    assert rc == 0

    again = start_daemon(config)
    wait_for(lambda: again.polls().get("core-b", 0) >= 4, 15, "four polls after the restart")
    assert "alert firing: " not in again.stderr  # the engine: still the same episode
    assert _states(config) == [("core-b xe-0/0/0", "firing")]
    again.terminate()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon.cli", *args], capture_output=True,
                          text=True, timeout=30)


def test_api_cli_silences_and_link_metrics(
        simnet_agent, netmon_config, start_daemon, wait_for) -> None:
    config = _with_alerts(netmon_config(
        [simnet_agent.target(n) for n in ("core-a", "core-b", "pe-2")]))
    daemon = start_daemon(config)

    def firing() -> list[dict]:
        return [a for a in daemon.json("/api/alerts?state=firing")["alerts"]
                if a["labels"]["alertname"] == "link_utilisation_high"]

    [alert] = wait_for(firing, 15, "link_utilisation_high firing in /api/alerts")
    assert alert["labels"] == {
        "alertname": "link_utilisation_high", "severity": "warning", "device": "core-b",
        "site": "SITE-CORE-B", "tier": "backbone", "link": "xe-0/0/0", "plane": "B"}
    assert 56.0 < alert["value"] < 59.0
    assert alert["since"] == alert["starts_at"] and alert["silenced"] is False
    assert daemon.get("/api/alerts").status == 200
    assert daemon.get("/api/alerts", token=None).status == 401

    shown = _cli("alerts", "--config", str(config.path))
    assert shown.returncode == 0, shown.stderr
    [row] = [x for x in shown.stdout.splitlines() if "link_utilisation_high" in x]
    assert row.startswith("firing") and "core-b" in row and "xe-0/0/0 plane B at 5" in row

    added = _cli("silence", "add", "device=core-b", "alertname=~link_.*", "--duration", "1h",
                 "--comment", "circuit upgrade, ask the NOC", "--author", "tester",
                 "--config", str(config.path))
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    listed = _cli("silence", "list", "--config", str(config.path))
    assert silence_id in listed.stdout and "device=core-b alertname=~link_.*" in listed.stdout
    assert "tester" in listed.stdout and "active" in listed.stdout
    [alert] = firing()
    assert alert["silenced"] is True  # still listed, flagged
    assert "(silenced)" in _cli("alerts", "--config", str(config.path)).stdout
    bad = daemon.get("/api/silences")
    assert bad.status == 200 and bad.json()["silences"][0]["comment"].startswith("circuit")
    expired = _cli("silence", "expire", silence_id, "--config", str(config.path))
    assert expired.returncode == 0, expired.stderr
    assert firing()[0]["silenced"] is False
    assert _cli("silence", "list", "--config", str(config.path)).stdout == "no silences\n"
    nope = _cli("silence", "expire", "nosuchid", "--config", str(config.path))
    assert nope.returncode == 1 and "no silence 'nosuchid'" in nope.stderr
    wrong = _cli("silence", "add", "device core-b", "-c", "x", "--config", str(config.path))
    assert wrong.returncode == 1 and "is not a label matcher" in wrong.stderr

    m = daemon.metrics()
    labels = dict(device="core-b", site="SITE-CORE-B", tier="backbone", link="xe-0/0/0",
                  ifName="xe-0/0/0", role="plane-b", plane="B")
    assert 0.56 < m.value("netmon_link_utilisation_ratio", **labels) < 0.59
    assert m.value("netmon_link_capacity_bits_per_second", **labels) == 1.2e9
    assert m.value("netmon_link_threshold_ratio", **labels) == 0.5
    assert m.value("netmon_link_status", **labels, status="over_threshold") == 1
    assert m.value("netmon_link_status", **labels, status="ok") == 0
    assert m.value("netmon_alerts", alertname="link_utilisation_high", state="firing") == 1
    rc, _ = daemon.terminate()
    assert rc == 0

    # With the daemon stopped, the CLI reads the saved state and says so.
    offline = _cli("alerts", "--config", str(config.path))
    assert offline.returncode == 0
    assert "no netmon answers" in offline.stderr and "alerts.sqlite" in offline.stderr
    assert "link_utilisation_high" in offline.stdout and "core-b" in offline.stdout
    later = _cli("silence", "add", "site=SITE-CORE-B", "-d", "30m", "-c", "window",
                 "--config", str(config.path))
    assert later.returncode == 0 and "applies when netmon starts" in later.stderr
    again = start_daemon(config)
    [alert] = wait_for(lambda: [a for a in again.json("/api/alerts")["alerts"]
                                if a["labels"]["alertname"] == "link_utilisation_high"],
                       10, "the alert after the restart")
    assert alert["silenced"] is True and alert["state"] == "firing"
    again.terminate()
