"""The roll-up store: nearest-rank p95, daily figures and plane sums from 5-minute buckets."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.capacity.store import BUCKETS_PER_DAY, RollupStore, p95_nearest_rank

DAY = 20_400


@pytest.mark.parametrize(("values", "expected"), [
    (list(range(1, 289)), 274),      # 288 buckets: rank ceil(273.6) = 274
    (list(range(1, 101)), 95),
    (list(range(1, 21)), 19),
    ([5.0], 5.0),
    ([3, 1, 2], 3),                  # unsorted input, rank ceil(2.85) = 3
])
def test_p95_is_nearest_rank(values: list[float], expected: float) -> None:
    assert p95_nearest_rank(values) == expected


def test_finalise_day_from_buckets(tmp_path: Path) -> None:
    store = RollupStore(tmp_path / "capacity.sqlite")
    tags = {"site": "HNI", "tier": "backbone", "role": "plane-a", "plane": "A"}
    a = store.link_id("core-a", "to-b", tags, 1_200_000_000)
    b = store.link_id("core-b", "to-a", {**tags, "role": "plane-b", "plane": "B"},
                      1_200_000_000)
    first = DAY * BUCKETS_PER_DAY
    rows = []
    for k in range(BUCKETS_PER_DAY):
        # bucket k averages (k+1) Mbit/s in, half that out; two samples per bucket
        rows.append((a, first + k, 2, 2 * (k + 1) * 1e6, (k + 1) * 1e6, 1_200_000_000))
        rows.append((b, first + k, 1, 420e6, 100e6, 1_200_000_000))
    store.add_buckets(rows[: BUCKETS_PER_DAY])
    store.add_buckets(rows[BUCKETS_PER_DAY:])  # a restart in between adds up
    # bucket 0 of link a seen again after a restart: 2 more samples of 1 Mbit/s
    store.add_buckets([(a, first, 2, 2e6, 1e6, 1_200_000_000)])
    written = {info.link: d for info, d in store.finalise_day(DAY)}
    day_a = written["to-b"]
    assert day_a.buckets == BUCKETS_PER_DAY and day_a.coverage == 1.0
    assert day_a.in_p95_bps == 274e6 and day_a.out_p95_bps == 137e6
    assert day_a.p95_bps == 274e6
    assert day_a.in_max_bps == 288e6 and day_a.in_mean_bps == pytest.approx(144.5e6)
    assert day_a.in_bytes == round(sum(range(1, 289)) * 1e6 * 300 / 8)
    assert day_a.pct(day_a.p95_bps) == pytest.approx(274 / 12)
    stored = {d.link_id: d for d in store.daily(DAY, DAY)}
    assert stored[a].in_p95_bps == 274e6 and stored[b].in_p95_bps == 420e6
    (site, day, buckets, in_p95, out_p95, cap_a, cap_b), = store.site_daily(DAY, DAY)
    assert (site, day, buckets) == ("HNI", DAY, BUCKETS_PER_DAY)
    assert in_p95 == 420e6 + 274e6 and out_p95 == 100e6 + 137e6 and cap_a == cap_b == 1_200_000_000
    store.close()


def test_incomplete_day_has_low_coverage(tmp_path: Path) -> None:
    store = RollupStore(tmp_path / "capacity.sqlite")
    a = store.link_id("r1", "up", {"site": "S"}, 100_000_000)
    first = DAY * BUCKETS_PER_DAY
    store.add_buckets([(a, first + k, 1, 10e6, 5e6, 100_000_000) for k in range(200)])
    (_, daily), = store.finalise_day(DAY)
    assert daily.buckets == 200 and daily.coverage == pytest.approx(200 / 288)
    assert daily.coverage < 0.8
    assert store.site_daily(DAY, DAY) == []  # no plane pair at this site


def test_readonly_store_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no capacity roll-ups at .*netmon run"):
        RollupStore.in_state_dir(tmp_path, readonly=True)
