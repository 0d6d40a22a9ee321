"""The roll-up recorder: 5-minute buckets from the sample stream, days finalised into the
store and written as ``link_daily`` to a real local store, backfill, coverage counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from caphelpers import iface_sample, make_target

from netmon.capacity.coverage import coverage_report
from netmon.capacity.options import CapacityOptions
from netmon.capacity.recorder import CapacityRecorder
from netmon.capacity.store import BUCKET_S, BUCKETS_PER_DAY, DAY_S, RollupStore
from netmon.model import LINK_DAILY
from netmon.sinks.local import LocalStore

DAY = 20_400
T0 = DAY * DAY_S


async def test_day_is_rolled_up_and_written_to_the_sink(tmp_path: Path) -> None:
    clock = [T0]
    sink = LocalStore.in_state_dir(tmp_path)
    rec = CapacityRecorder(CapacityOptions(), tmp_path, [sink], tick_s=3600,
                           clock=lambda: clock[0])
    r1 = make_target("r1", "S1", links=[("up0", "uplink", "100M")])
    for k in range(BUCKETS_PER_DAY):
        for j in range(5):  # a poll a minute; the bucket averages (k+1) * 100 kbit/s in
            ts = T0 + k * BUCKET_S + j * 60
            in_bps = (k + 1) * 100e3 + (j - 2) * 10e3
            rec.observe(r1, [iface_sample(r1, "up0", ts, in_bps, in_bps / 2)], True,
                        iface_sample(r1, "up0", ts, 0, 0).ts)
    clock[0] = T0 + DAY_S + 60
    written = await rec.tick()
    (sample,) = written
    assert sample.measurement == LINK_DAILY and sample.tags["link"] == "up0"
    assert sample.ts.timestamp() == T0
    assert sample.fields["in_p95_bps"] == pytest.approx(27.4e6)
    assert sample.fields["p95_pct"] == pytest.approx(27.4)
    assert sample.fields["in_max_pct"] == pytest.approx(28.8)
    assert sample.fields["in_bytes"] == round(sum(range(1, 289)) * 100e3 * BUCKET_S / 8)
    assert sample.fields["complete"] is True and sample.fields["coverage_pct"] == 100.0
    assert await rec.tick() == []  # finalised once
    await rec.aclose()
    await sink.flush()
    rows = sink.query(measurement=LINK_DAILY, field="p95_pct", since_s=3 * DAY_S,
                      now=clock[0])
    assert [r["value"] for r in rows] == pytest.approx([27.4])
    await sink.aclose()


async def test_missing_hours_are_backfilled_from_the_local_store(tmp_path: Path) -> None:
    clock = [T0]
    r1 = make_target("r1", "S1", links=[("up0", "uplink", "100M")])
    # The local store got the morning (another netmon, or roll-ups switched on later) ...
    local = LocalStore.in_state_dir(tmp_path)
    await local.write([iface_sample(r1, "up0", T0 + m * 60, 20e6, 5e6) for m in range(360)])
    await local.aclose()
    # ... the recorder saw the afternoon only.
    rec = CapacityRecorder(CapacityOptions(), tmp_path, [], tick_s=3600, clock=lambda: clock[0])
    for m in range(720, 1440):
        s = iface_sample(r1, "up0", T0 + m * 60, 40e6, 10e6)
        rec.observe(r1, [s], True, s.ts)
    clock[0] = T0 + DAY_S + 60
    (sample,) = await rec.tick()
    assert sample.fields["coverage_pct"] == pytest.approx(100 * (72 + 144) / 288)
    assert sample.fields["complete"] is False  # 75% < 80%
    assert sample.fields["in_mean_bps"] == pytest.approx((72 * 20e6 + 144 * 40e6) / 216)
    await rec.aclose()


async def test_coverage_exact_from_a_known_history(tmp_path: Path) -> None:
    clock = [T0]
    rec = CapacityRecorder(CapacityOptions(), tmp_path, [], tick_s=3600, clock=lambda: clock[0])
    r1 = make_target("r1", "S1", links=[("up0", "uplink", "100M"), ("lan", "access", "1G")])
    r1b = make_target("r1b", "S1", links=[("up0", "uplink", "100M")])  # always unreachable
    r2 = make_target("r2", "S2", links=[("pa", "plane-a", "1.2G")])
    r3 = make_target("r3", "S3", tier="district")  # no uplink configured: reachable is enough
    r4 = make_target("r4", "S4", tier="district")  # configured, never answers a poll here
    for k in range(BUCKETS_PER_DAY):
        ts = float(T0 + k * BUCKET_S + 30)
        up1 = not 10 <= k < 40  # uplink down 30 buckets (device reachable, LAN up)
        s1 = [iface_sample(r1, "up0", ts, 1e6, 1e6, up=up1),
              iface_sample(r1, "lan", ts, 1e6, 1e6, up=True)]
        rec.observe(r1, s1, True, s1[0].ts)
        rec.observe(r1b, [], False, s1[0].ts)
        reach2 = k < 276  # unreachable the last 12 buckets of the day
        rec.observe(r2, [iface_sample(r2, "pa", ts, 1e6, 1e6)] if reach2 else [], reach2,
                    s1[0].ts)
        rec.observe(r3, [], True, s1[0].ts)
    clock[0] = T0 + DAY_S - 60
    await rec.aclose()
    store = RollupStore.in_state_dir(tmp_path, readonly=True)
    report = coverage_report(store, [r1, r1b, r2, r3, r4], now=clock[0], period_s=DAY_S)
    prov, dist = report.tiers
    assert (prov.tier, prov.sites, prov.connected_now) == ("province", 2, 1)
    assert prov.down_now == ("S2",)
    assert (prov.buckets_seen, prov.buckets_connected) == (576, 258 + 276)
    assert prov.availability_pct == pytest.approx(100 * 534 / 576)
    assert (dist.sites, dist.connected_now, dist.buckets_seen, dist.buckets_connected) == \
        (2, 1, 288, 288)
    assert report.headline() == (
        "provinces connected 1/2 (50%), availability 92.7% over 1 day; "
        "districts connected 1/2 (50%), availability 100% over 1 day")
    # an hour later nothing is fresh enough to count as connected now
    later = coverage_report(store, [r1, r1b, r2, r3, r4], now=clock[0] + 3600, period_s=DAY_S)
    assert [t.connected_now for t in later.tiers] == [0, 0]
    store.close()


async def test_a_failing_sink_is_logged_and_never_stops_the_daemon(tmp_path: Path,
                                                                   caplog) -> None:
    clock = [T0 + DAY_S + 30]
    closed = LocalStore.in_state_dir(tmp_path)
    await closed.aclose()  # its write raises from now on
    rec = CapacityRecorder(CapacityOptions(), tmp_path, [closed], tick_s=0.05,
                           clock=lambda: clock[0])
    r1 = make_target("r1", "S1", links=[("up0", "uplink", "100M")])
    yesterday = iface_sample(r1, "up0", T0 + 600, 10e6, 5e6)
    rec.observe(r1, [yesterday], True, yesterday.ts)  # starts the task: stores, finalises
    await asyncio.sleep(0.3)
    assert "capacity roll-ups: background task failed" in caplog.text
    now = iface_sample(r1, "up0", clock[0], 10e6, 5e6)
    rec.observe(r1, [now], True, now.ts)  # a new task
    await rec.aclose()  # no exception: the daemon's stop goes on to the sinks
    store = RollupStore.in_state_dir(tmp_path, readonly=True)
    assert [d.day for d in store.daily(DAY - 1, DAY + 1)] == [DAY]  # the day was rolled up
    store.close()
