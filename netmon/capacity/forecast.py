"""Trend of a link's daily p95 and what it means for the link (step: reports, from roll-ups).

The trend is a Theil–Sen fit: the slope is the median of the slopes between
every pair of days, the intercept the median of ``y - slope * x``. Up to
29% of the days can be outliers (a DDoS, a backup gone wrong) without moving
it much, unlike a least-squares line. Whether it is rising at all is decided
by Sen's 95% confidence interval of the slope (from Kendall's S): if the
interval holds zero, or the slope is under 0.25 percentage points a month,
the line is "flat"; if it lies below zero, "falling".

Upgrade advice: the smallest step of the capacity ladder on which the p95
stays under the threshold until the end of the planning horizon.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DAYS_PER_MONTH = 365.25 / 12
FLAT_PP_PER_MONTH = 0.25
"""A slope under this (percentage points a month, 3 a year) is flat whatever its confidence."""
MAX_PROJECTION_DAYS = 5 * 365
"""A crossing further out than this is reported as not projected (5 years)."""


@dataclass(frozen=True, slots=True)
class Trend:
    slope_per_day: float
    intercept: float  # value at day 0 of the x axis
    low_per_day: float  # Sen's 95% confidence interval of the slope
    high_per_day: float
    n: int

    def at(self, x: float) -> float:
        return self.intercept + self.slope_per_day * x

    @property
    def per_month(self) -> float:
        return self.slope_per_day * DAYS_PER_MONTH

    @property
    def direction(self) -> str:
        """``rising``, ``flat`` or ``falling``."""
        if abs(self.per_month) < FLAT_PP_PER_MONTH or self.low_per_day <= 0 <= self.high_per_day:
            return "flat"
        return "rising" if self.slope_per_day > 0 else "falling"


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def theil_sen(x: Sequence[float], y: Sequence[float]) -> Trend:
    """Theil–Sen line through (x, y), with Sen's 95% confidence interval of the slope."""
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    n = len(xs)
    if n < 2:
        raise ValueError("a trend needs at least two points")
    i, j = _pairs(n)
    dx = xs[j] - xs[i]
    keep = dx != 0
    slopes = (ys[j] - ys[i])[keep] / dx[keep]
    m = len(slopes)
    if m == 0:
        raise ValueError("a trend needs at least two distinct x values")
    # Sen (1968): ranks of the confidence limits among the sorted slopes.
    var_s = n * (n - 1) * (2 * n + 5) / 18
    c = 1.96 * math.sqrt(var_s)
    lo_rank = max(0, min(m - 1, math.floor((m - c) / 2)))
    hi_rank = max(0, min(m - 1, math.ceil((m + c) / 2)))
    mid = m // 2
    kth = sorted({lo_rank, hi_rank, mid, max(0, mid - 1)})
    part = np.partition(slopes, kth)
    slope = float(part[mid]) if m % 2 else float((part[mid - 1] + part[mid]) / 2)
    intercept = float(np.median(ys - slope * xs))
    return Trend(slope, intercept, float(part[lo_rank]), float(part[hi_rank]), n)


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the trend says about one link (or plane pair) against its threshold."""

    today_pct: float | None
    fit_today_pct: float | None
    growth_pp_per_month: float | None
    days_until: float | None  # None: not projected to cross; 0: already over
    note: str
    urgent: bool
    peak_pct: float | None  # the highest p95 expected within the horizon


def outlook(days: Sequence[int], pct: Sequence[float], *, today: int, threshold_pct: float,
            horizon_days: float, min_days: int) -> Outlook:
    """Fit the daily p95 (``days``: UTC day numbers, ``pct``: p95 %) and project it."""
    if not days:
        return Outlook(None, None, None, None, "no complete day in the window", False, None)
    last = float(pct[-1])
    urgent = last >= threshold_pct
    if len(days) < min_days:
        note = f"too little data ({len(days)} complete days, need {min_days})"
        return Outlook(last, None, None, 0.0 if urgent else None,
                       ("over threshold; " if urgent else "") + note, urgent, last)
    trend = theil_sen([d - today for d in days], pct)
    fit_today = trend.at(0)
    direction = trend.direction
    horizon_end = trend.at(horizon_days) if direction == "rising" else fit_today
    peak = max(last, fit_today, horizon_end)
    if urgent:
        return Outlook(last, fit_today, trend.per_month, 0.0, f"over threshold; {direction}",
                       True, peak)
    if direction != "rising":
        return Outlook(last, fit_today, trend.per_month, None,
                       f"{direction}: not projected to cross", False, peak)
    days_until = max(0.0, (threshold_pct - fit_today) / trend.slope_per_day)
    if days_until > MAX_PROJECTION_DAYS:
        return Outlook(last, fit_today, trend.per_month, None,
                       "rising slowly: not projected to cross within 5 years", False, peak)
    return Outlook(last, fit_today, trend.per_month, days_until, "rising", False, peak)


def upgrade_step(capacity_bps: int, peak_pct: float | None, threshold_pct: float,
                 ladder: Sequence[int]) -> tuple[int | None, str]:
    """(step, advice): the smallest ladder step that keeps ``peak_pct`` of today's capacity
    under the threshold; (None, reason) when none is needed or none is big enough."""
    if peak_pct is None:
        return None, "no data"
    need_bps = peak_pct / 100.0 * capacity_bps * 100.0 / threshold_pct
    if capacity_bps > need_bps:
        return None, "no upgrade needed within the horizon"
    for step in ladder:
        if step > need_bps and step > capacity_bps:
            return step, "upgrade"
    return None, f"beyond the ladder: needs more than {_fmt_bps(need_bps)}"


def _fmt_bps(bps: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if bps >= div:
            return f"{bps / div:.3g}{unit}"
    return f"{bps:.0f}"


fmt_bps = _fmt_bps
