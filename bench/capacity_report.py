"""Benchmark: the capacity report for 20,000 links x 90 days of daily roll-ups.

Step: reports (not part of the test suite).

Builds a roll-up store (``capacity.sqlite``, the file the daemon keeps) in a
temporary directory with N links x D days of daily p95 (growing, flat,
falling and over-threshold links, some incomplete days, 1,000 plane pairs),
then times ``build_capacity_report`` + the table rendering, which is what
``netmon report capacity`` does after loading the config: read the window,
Theil–Sen fit per link, upgrade advice, plane headroom, rank. Also times the
HTML rendering. Goal: under 10 s for 20,000 links x 90 days.

Run: ``.venv/bin/python bench/capacity_report.py [--links 20000] [--days 90] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon.capacity.html import render_html  # noqa: E402
from netmon.capacity.options import CapacityOptions  # noqa: E402
from netmon.capacity.report import build_capacity_report, render_table  # noqa: E402
from netmon.capacity.store import BUCKETS_PER_DAY, DAY_S, Daily, RollupStore  # noqa: E402

TODAY = 20_500
LADDER = (50_000_000, 100_000_000, 200_000_000, 400_000_000, 1_000_000_000, 1_200_000_000)


def fill(state_dir: Path, links: int, days: int) -> None:
    rnd = random.Random(1)
    store = RollupStore.in_state_dir(state_dir)
    rows: list[Daily] = []
    sites = []
    for n in range(links):
        plane = n < 2000
        role = ("plane-a" if n % 2 == 0 else "plane-b") if plane else "uplink"
        site = f"SITE-{n // 2:05d}" if plane else f"SITE-{n:05d}"
        tags = {"site": site, "tier": "district" if n % 3 else "province", "role": role}
        cap = 1_200_000_000 if plane else rnd.choice(LADDER)
        lid = store.link_id(f"r{n:05d}", "uplink", tags, cap)
        start, growth = rnd.uniform(5, 65), rnd.uniform(-1.0, 3.0) / 30.44
        for i in range(days):
            pct = max(0.0, start + growth * i + rnd.gauss(0, 1.5))
            bps = pct / 100 * cap
            buckets = BUCKETS_PER_DAY if rnd.random() > 0.03 else 150
            rows.append(Daily(lid, TODAY - days + i, buckets, bps, bps * 0.6, bps * 1.3,
                              bps * 0.8, bps * 0.5, bps * 0.3, int(bps * 5400), int(bps * 3000),
                              cap))
        if plane and n % 2 == 1:
            sites.append(site)
        if len(rows) >= 200_000:
            store.put_daily(rows)
            rows = []
    store.put_daily(rows)
    store.put_site_daily((site, TODAY - days + i, BUCKETS_PER_DAY, 0.6e9 + i * 1e6, 0.3e9,
                          1_200_000_000, 1_200_000_000) for site in sites for i in range(days))
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netmon-bench-capacity-") as tmp:
        state = Path(tmp)
        started = time.perf_counter()
        fill(state, args.links, args.days)
        fill_s = time.perf_counter() - started
        size_mb = (state / "capacity.sqlite").stat().st_size / 1e6
        report_s, report_cpu, html_s = [], [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            store = RollupStore.in_state_dir(state, readonly=True)
            report = build_capacity_report(store, CapacityOptions(),
                                           now=TODAY * DAY_S + 3600,
                                           since_s=args.days * DAY_S)
            render_table(report)
            store.close()
            report_s.append(time.perf_counter() - t0)
            report_cpu.append(time.process_time() - c0)
            t0 = time.perf_counter()
            render_html(report)
            html_s.append(time.perf_counter() - t0)
    urgent = sum(r.urgent for r in report.links)
    print(f"# capacity report, {args.links:,} links x {args.days} days of daily roll-ups, "
          f"median of {args.runs} runs")
    print(machine_line())
    print(f"# store: {size_mb:.0f} MB ({size_mb * 1e6 / (args.links * args.days):.0f} bytes "
          f"per link-day), filled in {fill_s:.1f} s; {len(report.links):,} links ranked, "
          f"{urgent:,} urgent, {len(report.planes):,} plane sites")
    print(f"{'what':<40}  {'median s':>9}  {'min s':>7}  {'CPU s':>6}  {'goal':>6}")
    print(f"{'read + fit + advise + rank + table':<40}  {statistics.median(report_s):>9.2f}  "
          f"{min(report_s):>7.2f}  {statistics.median(report_cpu):>6.2f}  {'< 10 s':>6}")
    print(f"{'HTML rendering (top-20 charts)':<40}  {statistics.median(html_s):>9.2f}  "
          f"{min(html_s):>7.2f}  {'':>6}  {'':>6}")


if __name__ == "__main__":
    main()
