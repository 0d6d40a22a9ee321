"""Coverage, the network's headline figure: sites connected per tier, now and over a period.

Step: reports, from what the roll-up recorder keeps (``site_days``, ``target_now``).

A site is connected when one of its devices is reachable and has at least one
uplink, plane-a or plane-b link up (a device with no such link configured
counts when reachable). **Now**: from each device's latest poll (the recorder
stores it every minute), if it is no older than 3 polling intervals (at least
15 minutes); a site never polled, or not polled lately, is not connected.
**Availability**: connected 5-minute buckets / 5-minute buckets observed,
summed over the tier's sites and the period's UTC days (today included); time
when netmon itself was not running is not counted either way. The sites and
their tiers come from the configuration.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netmon.capacity.store import DAY_S, RollupStore

if TYPE_CHECKING:
    from netmon.config import Target

TIER_ORDER = ("backbone", "ministry", "province", "district", "datacentre")
PLURAL = {"backbone": "backbone sites", "ministry": "ministries", "province": "provinces",
          "district": "districts", "datacentre": "datacentres"}
MIN_STALE_S = 900.0


@dataclass(frozen=True, slots=True)
class TierCoverage:
    tier: str
    sites: int
    connected_now: int
    buckets_seen: int
    buckets_connected: int
    down_now: tuple[str, ...]

    @property
    def now_pct(self) -> float:
        return self.connected_now * 100.0 / self.sites if self.sites else 0.0

    @property
    def availability_pct(self) -> float | None:
        return self.buckets_connected * 100.0 / self.buckets_seen if self.buckets_seen else None


@dataclass(frozen=True, slots=True)
class CoverageReport:
    tiers: tuple[TierCoverage, ...]
    period_days: int

    @property
    def period(self) -> str:
        return f"{self.period_days} day{'s' if self.period_days != 1 else ''}"

    def headline(self) -> str:
        """``provinces connected 63/63 (100%); districts 662/709 (93.4%), availability ...``"""
        parts = []
        for t in self.tiers:
            text = (f"{PLURAL.get(t.tier, t.tier)} connected {t.connected_now}/{t.sites} "
                    f"({pct(t.now_pct)})")
            if t.availability_pct is not None:
                text += f", availability {pct(t.availability_pct)} over {self.period}"
            else:
                text += ", availability not recorded yet"
            parts.append(text)
        return "; ".join(parts)


def pct(value: float) -> str:
    """100 -> '100%', 93.4 -> '93.4%' (one decimal, none when whole)."""
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def coverage_report(store: RollupStore, targets: Sequence[Target], *, now: float,
                    period_s: float) -> CoverageReport:
    site_tier: dict[str, str] = {}
    stale_s: dict[str, float] = {}
    for t in targets:
        site_tier.setdefault(t.site, t.tier)
        stale_s[t.name] = max(MIN_STALE_S, 3 * t.interval_s)
    connected_sites = set()
    for target, site, _tier, ts, connected in store.target_now():
        if connected and target in stale_s and now - ts <= stale_s[target]:
            connected_sites.add(site)
    period_days = max(1, round(period_s / DAY_S))
    today = int(now // DAY_S)
    seen: dict[str, int] = {}
    conn: dict[str, int] = {}
    for site, _tier, _day, s, c in store.site_days(today - period_days + 1, today):
        seen[site] = seen.get(site, 0) + s
        conn[site] = conn.get(site, 0) + c
    tiers = []
    present = set(site_tier.values())
    for tier in [*TIER_ORDER, *sorted(present - set(TIER_ORDER))]:
        sites = sorted(s for s, st in site_tier.items() if st == tier)
        if not sites:
            continue
        tiers.append(TierCoverage(
            tier, len(sites), sum(s in connected_sites for s in sites),
            sum(seen.get(s, 0) for s in sites), sum(conn.get(s, 0) for s in sites),
            tuple(s for s in sites if s not in connected_sites)))
    return CoverageReport(tuple(tiers), period_days)


def render_coverage(report: CoverageReport, fmt: str) -> str:
    rows = [{
        "tier": t.tier, "sites": t.sites, "connected_now": t.connected_now,
        "connected_now_pct": round(t.now_pct, 3),
        "availability_pct": None if t.availability_pct is None else round(t.availability_pct, 3),
        "period_days": report.period_days, "not_connected_now": list(t.down_now),
    } for t in report.tiers]
    if fmt == "json":
        return json.dumps({"headline": report.headline(), "tiers": rows}, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["tier", "sites", "connected_now", "connected_now_pct", "availability_pct",
                    "period_days"])
        for r in rows:
            w.writerow([r["tier"], r["sites"], r["connected_now"], r["connected_now_pct"],
                        "" if r["availability_pct"] is None else r["availability_pct"],
                        r["period_days"]])
        return buf.getvalue()
    table = [("tier", "connected now", f"availability ({report.period})", "not connected now")]
    for t in report.tiers:
        down = ", ".join(t.down_now[:8]) + (f" (+{len(t.down_now) - 8})"
                                             if len(t.down_now) > 8 else "")
        table.append((t.tier, f"{t.connected_now}/{t.sites} ({pct(t.now_pct)})",
                      "-" if t.availability_pct is None else pct(t.availability_pct),
                      down or "-"))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [report.headline(), ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in table]
    return "\n".join(lines) + "\n"
