"""``netmon run`` keeps roll-ups whatever the sink: a short run against snmpsim writing to
VictoriaMetrics (InfluxDB API) leaves 5-minute buckets and coverage in capacity.sqlite."""

from __future__ import annotations

import time

import pytest

from netmon.capacity.store import BUCKET_S, DAY_S, RollupStore

CORES = ["core-a", "core-b"]


def test_short_run_leaves_rollups_and_coverage(
    simnet_agent, vm, netmon_config, start_daemon, wait_for
) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES], influx_url=vm.url)
    daemon = start_daemon(config)
    wait_for(lambda: min(daemon.polls().values()) >= 5, 15, "5 polls of each target")
    config.quiet(CORES)
    rc, _ = daemon.terminate()
    assert rc == 0, daemon.stderr
    assert "Traceback" not in daemon.stderr

    store = RollupStore.in_state_dir(config.state_dir, readonly=True)
    links = {(i.target, i.link): i for i in store.links()}
    expected = {(t, spec.if_name): spec for t in CORES for spec in simnet_agent.links[t]}
    assert set(links) == set(expected)
    assert links[("core-a", "xe-0/0/0")].plane == "A"
    assert links[("core-b", "xe-0/0/0")].role == "plane-b"
    # One day finalised from the run's buckets: the p95 of a steady rate is that rate.
    today = int(time.time() // DAY_S)
    days = {info.key: d for info, d in store_rw(config).finalise_day(today)}
    for (target, if_name), spec in expected.items():
        d = days[f"{target}/{if_name}"]
        assert d.in_p95_bps == pytest.approx(spec.in_bps, rel=0.05), (target, if_name)
        assert d.out_p95_bps == pytest.approx(spec.out_bps, rel=0.05), (target, if_name)
        assert d.capacity_bps == spec.capacity_bps
        assert 1 <= d.buckets <= 2  # the run fits in one or two 5-minute buckets
    # Coverage: every core was reachable with its plane link up.
    now = {row[0]: row for row in store.target_now()}
    assert set(now) == set(CORES) and all(row[4] == 1 for row in now.values())
    site_days = store.site_days(today - 1, today)
    assert {row[0] for row in site_days} == {"SITE-CORE-A", "SITE-CORE-B"}
    assert all(seen >= 1 and conn == seen for *_, seen, conn in site_days)
    assert time.time() - max(row[3] for row in now.values()) < BUCKET_S
    store.close()


def store_rw(config) -> RollupStore:
    return RollupStore.in_state_dir(config.state_dir)
