"""``netmon poll``: poll one target a few times and show each link against its threshold.

Step: YAML -> (one-off, no scheduler) collectors -> samples -> rates -> terminal.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, TextIO

from netmon.config import Config
from netmon.datacentre import build_report, render_table
from netmon.model import Sample
from netmon.poll import PollResult, build_collectors, collectors_for, open_session, poll_target
from netmon.rates import RateEngine
from netmon.snmp import SnmpClient


def link_rows(result: PollResult) -> list[dict[str, Any]]:
    rows = []
    for s in result.links:
        f = s.fields
        rows.append({
            "name": s.tags.get("link") or s.tags.get("ifName", ""),
            "ifName": s.tags.get("ifName", ""),
            "ifIndex": f.get("ifIndex"),
            "alias": f.get("ifAlias", ""),
            "role": s.tags.get("role", ""),
            "in_bps": f.get("in_bps"),
            "out_bps": f.get("out_bps"),
            "capacity_bps": f.get("capacity_bps"),
            "util_pct": f.get("util_pct"),
            "threshold_pct": f.get("threshold_pct"),
            "status": f.get("status", "unknown"),
        })
    return rows


def _resets(samples: list[Sample]) -> list[str]:
    return [
        f"counter reset on {s.tags.get('ifName', '?')}: {s.fields.get('reason')}"
        for s in samples
        if s.measurement == "counter_reset"
    ]


def to_json(result: PollResult) -> str:
    errors = ([result.error] if result.error else []) + result.issues + _resets(result.samples)
    out = {
        "target": result.target,
        "ts": result.ts.isoformat(),
        "links": link_rows(result),
        "errors": errors,
    }
    datacentre = build_report(result.samples)["datacentres"]
    if datacentre:  # UPS, sensor and server readings (netmon.datacentre)
        out["datacentre"] = datacentre
    return json.dumps(out)


def _mbps(v: object) -> str:
    return f"{v / 1e6:.2f}" if isinstance(v, int | float) else "-"


def _capacity(v: object) -> str:
    if not isinstance(v, int | float):
        return "-"
    return f"{v / 1e9:g}G" if v >= 1e9 else f"{v / 1e6:g}M"


def to_table(result: PollResult) -> str:
    title = (f"{result.target} at {result.ts.isoformat(timespec='seconds')}"
             f" ({result.duration_s * 1000:.0f} ms)")
    if result.error is not None:
        # A failed poll has no links to show: the error, not an empty table.
        return "\n".join([title, *(f"! {text}" for text in [result.error, *result.issues])])
    head = ("LINK", "ALIAS", "IN Mbps", "OUT Mbps", "CAPACITY", "UTIL %", "STATUS")
    rows = [head]
    for r in link_rows(result):
        util = r["util_pct"]
        status = r["status"]
        if status == "over_threshold":
            status = f"OVER {r['threshold_pct']:g}%"
        rows.append((
            str(r["name"]), str(r["alias"])[:40], _mbps(r["in_bps"]), _mbps(r["out_bps"]),
            _capacity(r["capacity_bps"]), f"{util:.1f}" if isinstance(util, float) else "-",
            status,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    numeric = {2, 3, 4, 5}
    lines = [title]
    for row in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    report = build_report(result.samples)
    if report["datacentres"]:  # UPS, sensor and server readings (netmon.datacentre)
        lines.append(render_table(report).rstrip("\n"))
    for text in result.issues + _resets(result.samples):
        lines.append(f"! {text}")
    return "\n".join(lines)


async def run_poll(
    config: Config, name: str, *, count: int, interval_s: float, as_json: bool,
    out: TextIO = sys.stdout,
) -> int:
    """Poll ``name`` ``count`` times; exit status 1 if any poll failed."""
    try:
        target = config.target(name)
    except KeyError:
        known = ", ".join(sorted(t.name for t in config.targets)[:20])
        print(f"unknown target {name!r} (known: {known})", file=sys.stderr)
        return 2
    collectors = collectors_for(target, build_collectors(config.settings))
    engine = RateEngine()
    failed = False
    start = time.monotonic()
    async with SnmpClient() as client:
        session = open_session(client, target)
        for i in range(count):
            if i:
                await asyncio.sleep(max(0.0, start + i * interval_s - time.monotonic()))
            result = await poll_target(session, target, collectors, engine)
            failed = failed or result.error is not None
            if as_json:
                print(to_json(result), file=out, flush=True)
            else:
                print(to_table(result), file=out, flush=True)
                if i + 1 < count:
                    print(file=out)
    return 1 if failed else 0
