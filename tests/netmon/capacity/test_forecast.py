"""Theil–Sen trend, outlook and upgrade steps on synthetic daily p95 series."""

from __future__ import annotations

import random

import pytest

from netmon.capacity.forecast import (
    DAYS_PER_MONTH,
    outlook,
    theil_sen,
    theil_sen_many,
    upgrade_step,
)

LADDER = [50_000_000, 100_000_000, 200_000_000, 400_000_000, 1_000_000_000,
          1_200_000_000, 2_500_000_000, 10_000_000_000]
TODAY = 20_000


def growing(days: int = 120, start: float = 30.0, pp_month: float = 2.0, noise: float = 1.0,
            seed: int = 7) -> tuple[list[int], list[float]]:
    rnd = random.Random(seed)
    xs = list(range(TODAY - days, TODAY))
    ys = [start + pp_month * (i / DAYS_PER_MONTH) + rnd.uniform(-noise, noise)
          for i in range(days)]
    return xs, ys


def test_theil_sen_recovers_a_clean_line() -> None:
    trend = theil_sen([0, 1, 2, 3, 4, 5], [1, 3, 5, 7, 9, 11])
    assert trend.slope_per_day == pytest.approx(2.0)
    assert trend.at(0) == pytest.approx(1.0)
    assert trend.direction == "rising"


def test_days_until_threshold_within_ten_percent() -> None:
    xs, ys = growing()
    now_true = 30.0 + 2.0 * (120 / DAYS_PER_MONTH)  # the line's value at TODAY
    true_days = (50.0 - now_true) / (2.0 / DAYS_PER_MONTH)
    got = outlook(xs[-90:], ys[-90:], today=TODAY, threshold_pct=50, horizon_days=365,
                  min_days=14)
    assert got.note == "rising" and not got.urgent
    assert got.days_until == pytest.approx(true_days, rel=0.10)
    assert got.growth_pp_per_month == pytest.approx(2.0, rel=0.15)


def test_three_outlier_days_move_the_projection_less_than_five_percent() -> None:
    xs, ys = growing()
    base = outlook(xs[-90:], ys[-90:], today=TODAY, threshold_pct=50, horizon_days=365,
                   min_days=14)
    spiky = list(ys)
    for i in (-80, -45, -10):
        spiky[i] = 97.0
    moved = outlook(xs[-90:], spiky[-90:], today=TODAY, threshold_pct=50, horizon_days=365,
                    min_days=14)
    assert base.days_until is not None and moved.days_until is not None
    assert abs(moved.days_until - base.days_until) <= 0.05 * base.days_until


def test_flat_and_falling_are_not_projected_to_cross() -> None:
    xs, flat = growing(pp_month=0.0, noise=2.0)
    got = outlook(xs, flat, today=TODAY, threshold_pct=50, horizon_days=365, min_days=14)
    assert got.days_until is None and got.note == "flat: not projected to cross"
    xs, falling = growing(start=45, pp_month=-3.0)
    got = outlook(xs, falling, today=TODAY, threshold_pct=50, horizon_days=365, min_days=14)
    assert got.days_until is None and got.note == "falling: not projected to cross"


def test_too_little_data_says_so() -> None:
    got = outlook([TODAY - 2, TODAY - 1], [30.0, 31.0], today=TODAY, threshold_pct=50,
                  horizon_days=365, min_days=14)
    assert got.note == "too little data (2 complete days, need 14)"
    assert got.days_until is None and got.growth_pp_per_month is None


@pytest.mark.parametrize(("capacity", "peak", "step"), [
    (200_000_000, 60.0, 400_000_000),    # needs > 240M: the next step
    (1_000_000_000, 60.0, 2_500_000_000),  # 1.2G would sit at exactly 50%: not under
    (400_000_000, 49.0, None),            # under the threshold all horizon
    (10_000_000_000, 80.0, None),         # nothing on the ladder is big enough
])
def test_upgrade_step(capacity: int, peak: float, step: int | None) -> None:
    got, advice = upgrade_step(capacity, peak, 50.0, LADDER)
    assert got == step, advice
    if capacity == 10_000_000_000:
        assert advice.startswith("beyond the ladder")


def test_batch_fit_matches_single_fits() -> None:
    rnd = random.Random(3)
    xs, ys = [], []
    for k in range(30):
        n = 90 if k % 3 else 40
        days = sorted(rnd.sample(range(TODAY - 120, TODAY), n))
        xs.append([d - TODAY for d in days])
        ys.append([20 + rnd.uniform(-0.2, 0.2) * k * d / 30 + rnd.gauss(0, 2) for d in days])
    xs.append([0])
    ys.append([5.0])
    batch = theil_sen_many(xs, ys)
    assert batch[-1] is None
    for x, y, got in zip(xs[:-1], ys[:-1], batch[:-1], strict=True):
        want = theil_sen(x, y)
        assert got is not None
        assert got.slope_per_day == pytest.approx(want.slope_per_day, rel=1e-4, abs=1e-6)
        assert got.at(0) == pytest.approx(want.at(0), rel=1e-4, abs=1e-4)
        assert got.direction == want.direction
