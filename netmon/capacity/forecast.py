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
from collections import defaultdict
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
    intercept: float  # value at x = 0
    n: int
    ci_sign: int
    """+1 when Sen's 95% confidence interval of the slope lies above zero, -1 below, 0 when
    it holds zero."""

    def at(self, x: float) -> float:
        return self.intercept + self.slope_per_day * x

    @property
    def per_month(self) -> float:
        return self.slope_per_day * DAYS_PER_MONTH

    @property
    def direction(self) -> str:
        """``rising``, ``flat`` or ``falling``."""
        if abs(self.per_month) < FLAT_PP_PER_MONTH or self.ci_sign == 0:
            return "flat"
        return "rising" if self.slope_per_day > 0 else "falling"


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _sen_ranks(n: int, m: int) -> tuple[int, int]:
    """(low, high) 0-based ranks among m sorted slopes of Sen's (1968) 95% confidence
    limits, from the variance of Kendall's S."""
    c = 1.96 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    return (max(0, min(m - 1, math.floor((m - c) / 2))),
            max(0, min(m - 1, math.ceil((m + c) / 2))))


def _ci_sign(non_positive: int, non_negative: int, m: int, lo: int, hi: int) -> int:
    """The sign of the interval [sorted[lo], sorted[hi]] from counts alone (no sort):
    sorted[lo] > 0 iff at most lo slopes are <= 0; sorted[hi] < 0 iff at most m-1-hi are >= 0."""
    if non_positive <= lo:
        return 1
    if non_negative <= m - 1 - hi:
        return -1
    return 0


def theil_sen(x: Sequence[float], y: Sequence[float]) -> Trend:
    """Theil–Sen line through (x, y), with the sign of Sen's 95% interval of the slope."""
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
    slope = float(np.median(slopes))
    intercept = float(np.median(ys - slope * xs))
    lo, hi = _sen_ranks(n, m)
    sign = _ci_sign(int((slopes <= 0).sum()), int((slopes >= 0).sum()), m, lo, hi)
    return Trend(slope, intercept, n, sign)


BATCH_ROWS = 1000
"""Series fitted together in theil_sen_many (1,000 x 4,005 slopes in float32: 16 MB each
for x, y and the slopes)."""


def theil_sen_many(xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]],
                   ) -> list[Trend | None]:
    """``theil_sen`` for many series at once: numpy over the series of the same length.

    The x values of each series must be strictly increasing (UTC day numbers
    are); a series of fewer than two points gets None. Slopes are computed in
    float32 (utilisation in percent needs no more).
    """
    out: list[Trend | None] = [None] * len(xs)
    by_len: dict[int, list[int]] = defaultdict(list)
    for k, x in enumerate(xs):
        if len(x) >= 2:
            by_len[len(x)].append(k)
    for n, members in by_len.items():
        i, j = _pairs(n)
        m = len(i)
        lo, hi = _sen_ranks(n, m)
        mid = m // 2
        kth = [mid - 1, mid] if m % 2 == 0 else [mid]
        for start in range(0, len(members), BATCH_ROWS):
            chunk = members[start:start + BATCH_ROWS]
            x = np.vstack([np.asarray(xs[k], dtype=np.float64) for k in chunk])
            y = np.vstack([np.asarray(ys[k], dtype=np.float64) for k in chunk])
            x32, y32 = x.astype(np.float32), y.astype(np.float32)
            if (x32 == x32[0]).all():  # the same days for all (usual): one row of dx
                dx = np.take(x32[0], j) - np.take(x32[0], i)
            else:
                dx = np.take(x32, j, axis=1) - np.take(x32, i, axis=1)
            slopes = (np.take(y32, j, axis=1) - np.take(y32, i, axis=1)) / dx
            non_pos = (slopes <= 0).sum(axis=1)
            non_neg = (slopes >= 0).sum(axis=1)
            part = np.partition(slopes, kth, axis=1)
            slope = (part[:, mid] if m % 2 else (part[:, mid - 1] + part[:, mid]) / 2
                     ).astype(np.float64)
            intercept = np.median(y - slope[:, None] * x, axis=1)
            for row, k in enumerate(chunk):
                out[k] = Trend(float(slope[row]), float(intercept[row]), n,
                               _ci_sign(int(non_pos[row]), int(non_neg[row]), m, lo, hi))
    return out


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
            horizon_days: float, min_days: int, trend: Trend | None = None) -> Outlook:
    """Fit the daily p95 (``days``: UTC day numbers, ``pct``: p95 %) and project it.

    ``trend``: the fit of (days - today, pct) when already made (theil_sen_many).
    """
    if not len(days):
        return Outlook(None, None, None, None, "no complete day in the window", False, None)
    last = float(pct[-1])
    urgent = last >= threshold_pct
    if len(days) < min_days:
        note = f"too little data ({len(days)} complete days, need {min_days})"
        return Outlook(last, None, None, 0.0 if urgent else None,
                       ("over threshold; " if urgent else "") + note, urgent, last)
    if trend is None:
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
