"""``netmon report capacity``: forecasts, upgrade advice and plane headroom from the roll-ups.

Step: reports (reads the roll-up store the daemon keeps; no sink is queried).

Per link: the daily p95 (the larger of in and out, nearest-rank, see store.py)
of the complete days in the window (a day is complete when its 5-minute
buckets cover at least ``capacity.complete``, 80%), expressed as a share of the
link's *current* capacity, so an upgrade inside the window does not read as
falling traffic. A Theil–Sen fit (forecast.py) gives the growth and the date
the p95 reaches the threshold; links already over it are urgent and come
first, then the soonest to cross. The threshold is ``capacity.threshold``
(50%), or the link's own ``threshold`` where that is lower.

Plane headroom: per site with plane-a and plane-b links, the p95 of their
combined traffic as a share of the smaller plane's capacity: what one plane
would carry if the other failed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import groupby

import numpy as np

from netmon.capacity.forecast import (
    DAYS_PER_MONTH,
    Trend,
    fmt_bps,
    outlook,
    theil_sen_many,
    upgrade_step,
)
from netmon.capacity.options import CapacityOptions
from netmon.capacity.store import BUCKETS_PER_DAY, DAY_S, LinkInfo, RollupStore

NO_CAPACITY = ("no capacity known: set capacity: on the link in the config "
               "(the device reports no port speed either)")


def day_date(day: int) -> date:
    return datetime.fromtimestamp(day * DAY_S, UTC).date()


@dataclass(slots=True)
class LinkRow:
    target: str
    link: str
    site: str | None
    tier: str | None
    role: str | None
    capacity_bps: int | None
    threshold_pct: float
    complete_days: int
    incomplete_days: int
    today_pct: float | None
    growth_pp_per_month: float | None
    days_until: float | None
    projected: str | None  # ISO date the p95 reaches the threshold
    urgent: bool
    upgrade_to_bps: int | None
    advice: str
    note: str
    series: tuple[Sequence[int], Sequence[float]] = field(default=((), ()), repr=False)
    """(UTC days, p95 % of the current capacity) of the complete days, for charts."""
    trend: tuple[float, float] | None = field(default=None, repr=False)  # (slope/day, at today)

    @property
    def key(self) -> str:
        return f"{self.target}/{self.link}"


@dataclass(slots=True)
class PlaneRow:
    site: str
    tier: str | None
    plane_capacity_bps: int
    today_pct: float | None
    growth_pp_per_month: float | None
    days_until: float | None
    projected: str | None
    over: bool
    note: str
    complete_days: int


@dataclass(slots=True)
class CapacityReport:
    today: int
    window_days: int
    threshold_pct: float
    horizon_months: int
    links: list[LinkRow]
    planes: list[PlaneRow]
    messages: list[str]

    @property
    def generated(self) -> str:
        return day_date(self.today).isoformat()


def _projected(today: int, days_until: float | None) -> str | None:
    if days_until is None:
        return None
    return (day_date(today) + timedelta(days=round(days_until))).isoformat()


def _rank(row: LinkRow) -> tuple:
    if row.capacity_bps is None or row.today_pct is None:
        return (3, 0.0, row.key)
    if row.urgent:
        return (0, -row.today_pct, row.key)
    if row.days_until is not None:
        return (1, row.days_until, row.key)
    return (2, -row.today_pct, row.key)


def _parse(text: str | None, dtype: type) -> np.ndarray:
    return np.array(text.split(","), dtype=dtype) if text else np.empty(0, dtype=dtype)


def build_capacity_report(store: RollupStore, options: CapacityOptions, *, now: float,
                          since_s: float | None = None, tier: str | None = None,
                          ) -> CapacityReport:
    today = int(now // DAY_S)
    window = max(1, round((since_s or options.window_s) / DAY_S))
    first, last = today - window, today - 1
    horizon_days = options.horizon_months * DAYS_PER_MONTH
    min_buckets = options.complete_pct / 100 * BUCKETS_PER_DAY
    links = {i.id: i for i in store.links() if tier is None or i.tier == tier}
    rows_in = [(links[r[0]], *r[1:]) for r in store.p95_window(first, last, min_buckets)
               if r[0] in links]
    # One parse of every link's days and p95 (numpy per link would cost more than the fits).
    counts = [r[1].count(",") + 1 if r[1] else 0 for r in rows_in]
    all_days = _parse(",".join(r[1] for r in rows_in if r[1]), np.int64)
    all_p95 = _parse(",".join(r[2] for r in rows_in if r[2]), np.float64)
    prepared = []
    at = 0
    for (info, _, _, n_all, _, last_capacity), count in zip(rows_in, counts, strict=True):
        days, p95 = all_days[at:at + count], all_p95[at:at + count]
        at += count
        if count > 1 and np.any(days[1:] <= days[:-1]):  # read in key order: not expected
            order = np.argsort(days)
            days, p95 = days[order], p95[order]
        capacity = last_capacity or info.capacity_bps  # the last day's, else the link's
        pct = p95 * 100.0 / capacity if capacity else p95
        prepared.append((info, days, pct, n_all, capacity))
    fits = theil_sen_many(
        [days - today if cap and len(days) >= options.min_days else () for _, days, _, _, cap
         in prepared],
        [pct for _, _, pct, _, _ in prepared])
    rows = [_link_row(info, days, pct, n_all, cap, fit, options, today, horizon_days)
            for (info, days, pct, n_all, cap), fit in zip(prepared, fits, strict=True)]
    rows.sort(key=_rank)
    messages = []
    if not links:
        messages.append(
            f"no links in the roll-ups at {store.path}" + (f" for tier {tier}" if tier else "")
            + ": the daemon records configured links as it polls them")
    elif not rows:
        messages.append(
            f"no daily roll-ups between {day_date(first)} and {day_date(last)} in {store.path}:"
            " the daemon finalises each UTC day after midnight")
    missing = sum(1 for r in rows if r.capacity_bps is None)
    if missing:
        messages.append(f"{missing} link(s) without a known capacity are listed last: "
                        + NO_CAPACITY)
    planes = _planes(store, links, options, today, first, last, horizon_days, min_buckets)
    return CapacityReport(today, window, options.threshold_pct, options.horizon_months, rows,
                          planes, messages)


def _link_row(info: LinkInfo, days: np.ndarray, pct: np.ndarray, n_all: int,
              capacity: int | None, fit: Trend | None, options: CapacityOptions, today: int,
              horizon_days: float) -> LinkRow:
    threshold = min(options.threshold_pct, info.threshold_pct or options.threshold_pct)
    base = dict(target=info.target, link=info.link, site=info.site, tier=info.tier,
                role=info.role, capacity_bps=capacity, threshold_pct=threshold,
                complete_days=len(days), incomplete_days=n_all - len(days))
    if not capacity:
        return LinkRow(**base, today_pct=None, growth_pp_per_month=None, days_until=None,
                       projected=None, urgent=False, upgrade_to_bps=None, advice="",
                       note=NO_CAPACITY)
    out = outlook(days, pct, today=today, threshold_pct=threshold, horizon_days=horizon_days,
                  min_days=options.min_days, trend=fit)
    step, advice = upgrade_step(capacity, out.peak_pct, threshold, options.ladder_bps)
    trend = None
    if out.fit_today_pct is not None and out.growth_pp_per_month is not None:
        trend = (out.growth_pp_per_month / DAYS_PER_MONTH, out.fit_today_pct)
    return LinkRow(**base, today_pct=out.today_pct, growth_pp_per_month=out.growth_pp_per_month,
                   days_until=out.days_until,
                   projected=None if out.urgent else _projected(today, out.days_until),
                   urgent=out.urgent, upgrade_to_bps=step,
                   advice=advice if out.today_pct is not None else "",
                   note=out.note + _incomplete(n_all - len(days)), series=(days, pct),
                   trend=trend)


def _incomplete(days: int) -> str:
    return f"; {days} incomplete day{'s' if days != 1 else ''} left out" if days else ""


def _planes(store: RollupStore, links: dict[int, LinkInfo], options: CapacityOptions,
            today: int, first: int, last: int, horizon_days: float,
            min_buckets: float) -> list[PlaneRow]:
    tiers = {i.site: i.tier for i in links.values() if i.site}
    prepared = []
    for site, days in groupby(store.site_daily(first, last), key=lambda r: r[0]):
        if site not in tiers:
            continue
        days_l = [d for d in days if d[2] >= min_buckets and d[5] and d[6]]
        if not days_l:
            continue
        cap = min(days_l[-1][5], days_l[-1][6])
        xs = [d[1] for d in days_l]
        ys = [max(d[3], d[4]) * 100.0 / cap for d in days_l]
        prepared.append((site, cap, xs, ys))
    fits = theil_sen_many([[x - today for x in xs] if len(xs) >= options.min_days else ()
                           for _, _, xs, _ in prepared], [ys for *_, ys in prepared])
    out: list[PlaneRow] = []
    for (site, cap, xs, ys), fit in zip(prepared, fits, strict=True):
        o = outlook(xs, ys, today=today, threshold_pct=options.threshold_pct,
                    horizon_days=horizon_days, min_days=options.min_days, trend=fit)
        out.append(PlaneRow(site, tiers[site], cap, o.today_pct, o.growth_pp_per_month,
                            o.days_until, None if o.urgent else _projected(today, o.days_until),
                            o.urgent, o.note, len(xs)))
    out.sort(key=lambda p: (not p.over, p.days_until if p.days_until is not None else 1e9,
                            -(p.today_pct or 0), p.site))
    return out


# -- rendering -------------------------------------------------------------------------


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _days(row_days: float | None, urgent: bool) -> str:
    if urgent:
        return "now"
    return "-" if row_days is None else f"{row_days:.0f}"


def render_table(report: CapacityReport) -> str:
    th = f"{report.threshold_pct:g}%"
    lines = [f"Capacity report {report.generated}: daily p95 over {report.window_days} days, "
             f"threshold {th}, horizon {report.horizon_months} months"]
    lines += [f"note: {m}" for m in report.messages]
    header = ("#", "link", "tier", "capacity", "p95 now %", "growth pp/mo", f"days to {th}",
              "date", "upgrade to", "note")
    table = [header]
    for n, r in enumerate(report.links, 1):
        table.append((
            str(n), r.key, r.tier or "-", fmt_bps(r.capacity_bps) if r.capacity_bps else "-",
            _num(r.today_pct), _num(r.growth_pp_per_month, "+.2f"),
            _days(r.days_until, r.urgent), r.projected or "-",
            fmt_bps(r.upgrade_to_bps) if r.upgrade_to_bps else ("-" if not r.advice else
                                                                 _short(r.advice)),
            ("URGENT " if r.urgent else "") + r.note))
    if report.links:
        lines += ["", *_columns(table)]
    if report.planes:
        lines += ["", f"Plane failover headroom: combined p95 as % of the smaller plane "
                      f"(over {th} is flagged)"]
        ptable = [("site", "tier", "plane capacity", "combined p95 %", "growth pp/mo",
                   f"days to {th}", "date", "note")]
        for p in report.planes:
            ptable.append((("! " if p.over else "") + p.site, p.tier or "-",
                           fmt_bps(p.plane_capacity_bps), _num(p.today_pct),
                           _num(p.growth_pp_per_month, "+.2f"), _days(p.days_until, p.over),
                           p.projected or "-", ("OVER " if p.over else "") + p.note))
        lines += _columns(ptable)
    return "\n".join(lines) + "\n"


def _short(advice: str) -> str:
    return "none needed" if advice.startswith("no upgrade") else advice


def _columns(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table]


def _link_dict(r: LinkRow) -> dict:
    d = asdict(r)
    d.pop("series")
    d.pop("trend")
    return d


def render_json(report: CapacityReport) -> str:
    return json.dumps({
        "generated": report.generated, "window_days": report.window_days,
        "threshold_pct": report.threshold_pct, "horizon_months": report.horizon_months,
        "messages": report.messages,
        "links": [_link_dict(r) for r in report.links],
        "planes": [asdict(p) for p in report.planes],
    }, indent=2) + "\n"


def render_csv(report: CapacityReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "rank", "target", "link", "site", "tier", "capacity_bps",
                "threshold_pct", "p95_pct", "growth_pp_per_month", "days_until",
                "projected", "urgent", "upgrade_to_bps", "note"])
    for n, r in enumerate(report.links, 1):
        w.writerow(["link", n, r.target, r.link, r.site or "", r.tier or "",
                    r.capacity_bps or "", r.threshold_pct, _csv(r.today_pct),
                    _csv(r.growth_pp_per_month), _csv(r.days_until), r.projected or "",
                    int(r.urgent), r.upgrade_to_bps or "", r.note])
    for n, p in enumerate(report.planes, 1):
        w.writerow(["plane", n, "", "", p.site, p.tier or "", p.plane_capacity_bps,
                    report.threshold_pct, _csv(p.today_pct), _csv(p.growth_pp_per_month),
                    _csv(p.days_until), p.projected or "", int(p.over), "", p.note])
    return buf.getvalue()


def _csv(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"

