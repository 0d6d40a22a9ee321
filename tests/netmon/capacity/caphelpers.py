"""Helpers for the capacity tests: targets, interface samples, synthetic roll-up history.

Step: test peers around netmon.capacity. History is injected straight into
the roll-up store (the same file the daemon writes), never mocked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from netmon.capacity.forecast import DAYS_PER_MONTH
from netmon.capacity.store import BUCKETS_PER_DAY, DAY_S, Daily, RollupStore
from netmon.config import Link, Target
from netmon.credentials import SnmpV2c
from netmon.model import INTERFACE, Sample

os.environ.setdefault("NETMON_TEST_COMMUNITY", "public")


def make_target(name: str, site: str, tier: str = "province",
                links: Iterable[tuple[str, str, str]] = (), interval: str = "60s") -> Target:
    """``links``: (ifName, role, capacity)."""
    return Target(
        name=name, site=site, tier=tier, address="127.0.0.1", interval=interval,
        snmp=SnmpV2c(version="2c", community="${NETMON_TEST_COMMUNITY}"),
        links=tuple(Link(ifName=n, role=r, capacity=c) for n, r, c in links),
    )


def iface_sample(target: Target, if_name: str, ts: float, in_bps: float | None,
                 out_bps: float | None, *, up: bool = True) -> Sample:
    link = next(x for x in target.links if x.if_name == if_name)
    tags = {"device": target.name, "site": target.site, "tier": target.tier,
            "role": link.role, "link": if_name, "ifName": if_name}
    if link.role in ("plane-a", "plane-b"):
        tags["plane"] = link.role[-1].upper()
    fields: dict[str, float | int | str] = {"oper_status": 1 if up else 2,
                                            "threshold_pct": link.threshold_pct}
    if link.capacity_bps:
        fields["capacity_bps"] = link.capacity_bps
    if in_bps is not None and out_bps is not None:
        fields["in_bps"], fields["out_bps"] = in_bps, out_bps
        if link.capacity_bps:
            fields["util_pct"] = max(in_bps, out_bps) * 100 / link.capacity_bps
    return Sample(target.name, INTERFACE, tags, fields, datetime.fromtimestamp(ts, UTC))


class History:
    """Writes daily roll-ups of synthetic links into a roll-up store."""

    def __init__(self, state_dir: Path, today: int) -> None:
        self.state_dir = state_dir
        self.store = RollupStore.in_state_dir(state_dir)
        self.today = today

    def link(self, target: str, link: str, capacity_bps: int | None,
             pct: Callable[[int], float], *, days: int = 120, site: str = "S",
             tier: str = "province", role: str = "uplink", coverage: int = BUCKETS_PER_DAY,
             p95_bps: Callable[[int], float] | None = None) -> int:
        """``pct(i)``: the link p95 in % on day i (0 = oldest; the last day is yesterday)."""
        tags = {"site": site, "tier": tier, "role": role, "ifName": link}
        if role in ("plane-a", "plane-b"):
            tags["plane"] = role[-1].upper()
        lid = self.store.link_id(target, link, tags, capacity_bps)
        rows = []
        for i in range(days):
            day = self.today - days + i
            bps = p95_bps(i) if p95_bps else pct(i) / 100 * (capacity_bps or 0)
            rows.append(Daily(lid, day, coverage, bps, bps * 0.6, bps * 1.2, bps * 0.7,
                              bps * 0.5, bps * 0.3, int(bps * DAY_S / 16), int(bps * DAY_S / 30),
                              capacity_bps))
        self.store.put_daily(rows)
        return lid

    def growing(self, start: float, pp_month: float) -> Callable[[int], float]:
        return lambda i: start + pp_month * i / DAYS_PER_MONTH


def plane_pair(store: RollupStore, site: str, today: int, *, days: int, pct: float,
               capacity_bps: int = 1_200_000_000) -> None:
    """Two plane links (A on core-a, B on core-b) at ``pct`` each, every 5-minute bucket of
    the last ``days`` days, finalised day by day as the daemon does."""
    a = store.link_id(f"{site.lower()}-a", "plane", {"site": site, "tier": "backbone",
                                                     "role": "plane-a", "plane": "A"},
                      capacity_bps)
    b = store.link_id(f"{site.lower()}-b", "plane", {"site": site, "tier": "backbone",
                                                     "role": "plane-b", "plane": "B"},
                      capacity_bps)
    bps = pct / 100 * capacity_bps
    for day in range(today - days, today):
        first = day * BUCKETS_PER_DAY
        rows = [(lid, first + k, 1, bps, bps * 0.5, capacity_bps)
                for k in range(BUCKETS_PER_DAY) for lid in (a, b)]
        store.add_buckets(rows)
        store.finalise_day(day)


def write_config(directory: Path, state_dir: Path, targets: str = "") -> Path:
    """A netmon.yaml whose roll-ups live in ``state_dir``; ``targets``: YAML list items."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "netmon.yaml"
    path.write_text(
        f"state_dir: {state_dir}\n"
        "snmp_profiles:\n  v2: {version: \"2c\", community: \"${NETMON_TEST_COMMUNITY}\"}\n"
        "defaults: {snmp: v2}\n"
        "targets:\n" + (targets or "  - {name: r1, site: S1, tier: province, "
                        "address: 127.0.0.1}\n"),
        encoding="utf-8")
    return path
