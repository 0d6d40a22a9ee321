"""CPU of one dispatcher step per evaluation (step: alert engine -> **dispatcher**).

    python3 bench/dispatch_cpu.py [--alerts 100,1000,10000,100000] [--runs 5]

Builds a Dispatcher with a three-route tree (backbone -> a webhook with
``continue``, critical in HN* sites -> Alertmanager, the rest -> email; plus
the always-on log receiver), hands it ``--alerts`` firing alerts spread over
700 devices, 60 sites and 6 rules, and times with ``time.process_time``:

* ``first``: the step that sees them all for the first time: routing,
  grouping, and queueing one notification per group in SQLite (one
  transaction per notification), plus the Alertmanager batch;
* ``steady``: a later evaluation with the same alerts, every group due:
  routing, grouping and the dedup check, nothing to send (the common case).

``longest stall`` is the longest the event loop could run nothing else
during the two steps (the step yields every 1,000 alerts and 50 groups; one
notification's JSON is encoded in one go). No receiver is contacted: the
delivery tasks are not started. Prints the median of ``--runs`` and the
machine. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.delivery import DeliveryStore  # noqa: E402
from alerts.dispatch import DB_NAME, Dispatcher, NotificationsOptions  # noqa: E402
from netmon.model import Alert  # noqa: E402

RULES = ("link_utilisation_high", "link_down", "device_unreachable", "counter_anomaly",
         "plane_redundancy_lost", "failover_headroom_low")
TIERS = ("backbone", "ministry", "province", "district", "datacentre")


def make_alerts(n: int) -> list[Alert]:
    start = datetime.now(UTC) - timedelta(minutes=10)
    out = []
    for i in range(n):
        site = f"{'HN' if i % 3 == 0 else 'SG'}{i % 60:02d}"
        labels = {"alertname": RULES[i % len(RULES)],
                  "severity": "critical" if i % 4 == 0 else "warning",
                  "device": f"r{i % 700:03d}", "site": site, "tier": TIERS[i % len(TIERS)],
                  "province": f"p{i % 63}", "link": f"ge-0/0/{i}", "plane": "AB"[i % 2]}
        out.append(Alert(f"{i:016x}", labels, {"summary": f"link {i} at 63.2% of 400 Mbit/s"},
                         "firing", start, value=63.2))
    return out


def options() -> NotificationsOptions:
    return NotificationsOptions.model_validate({
        "route": {"receiver": "mail", "group_by": ["alertname", "site"],
                  "routes": [
                      {"matchers": {"tier": "backbone"}, "receiver": "noc", "continue": True},
                      {"matchers": ["severity=critical", "site=~HN.*"], "receiver": "am"}]},
        "receivers": [
            {"name": "noc", "webhook": {"url": "http://127.0.0.1:9/hook"}},
            {"name": "mail", "email": {"host": "127.0.0.1", "security": "none",
                                       "from": "netmon@example.gov.vn",
                                       "to": ["noc@example.gov.vn"]}},
            {"name": "am", "alertmanager": {"urls": ["http://127.0.0.1:9"]}}],
    })


async def one_run(n: int) -> tuple[float, float, float, int]:
    alerts = make_alerts(n)
    stall = 0.0
    running = True

    async def ticker() -> None:
        # The longest the event loop could not run anything else (polls, HTTP).
        nonlocal stall
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0)
            now = time.perf_counter()
            stall = max(stall, now - last)
            last = now

    with tempfile.TemporaryDirectory() as tmp:
        d = Dispatcher(options(), Path(tmp))
        d._store = DeliveryStore(Path(tmp) / DB_NAME)  # the step, without delivery tasks
        tick = asyncio.get_running_loop().create_task(ticker())
        await asyncio.sleep(0)
        try:
            t0 = time.process_time()
            d.update(alerts, datetime.now(UTC))
            await d._step(time.time())
            first = time.process_time() - t0
            queued = sum(n for n in d._store.counts().values())
            for group in d._groups.values():
                group.next_flush = 0.0  # every group due: the dedup check runs for all
            t0 = time.process_time()
            d.update(alerts, datetime.now(UTC))
            await d._step(time.time())
            steady = time.process_time() - t0
        finally:
            running = False
            await tick
            d._store.close()
    return first, steady, stall, queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", default="100,1000,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    print(f"# median of {args.runs} runs; CPU seconds of one Dispatcher step")
    print(f"{'active alerts':>14} {'notifications':>14} {'first step':>12} {'steady step':>12}"
          f" {'steady per alert':>17} {'longest stall':>14}")
    for n in (int(x) for x in args.alerts.split(",")):
        runs = [asyncio.run(one_run(n)) for _ in range(args.runs)]
        first = statistics.median(r[0] for r in runs)
        steady = statistics.median(r[1] for r in runs)
        stall = statistics.median(r[2] for r in runs)
        print(f"{n:>14,} {runs[0][3]:>14,} {first * 1000:>10.1f}ms {steady * 1000:>10.1f}ms"
              f" {steady / n * 1e6:>15.1f}µs {stall * 1000:>12.1f}ms")


if __name__ == "__main__":
    main()
