"""The daemon runs the alert engine on what it polls: snmpsim -> netmon run -> alerts.

Step: scheduler -> collectors -> rates -> **alert engine** (inside ``netmon run``),
end to end on loopback. core-b's plane-B link runs at 57.5% of 1.2 Gbit/s in
the simulated network (tests/netmon/conftest.py); the others stay under 50%.
"""

from __future__ import annotations

import re
import sqlite3

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
