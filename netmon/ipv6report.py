"""IPv6 readiness roll-ups and the ``netmon report ipv6`` / ``/api/ipv6`` report.

Step: samples -> **reports**. Reads ``ipv6_readiness`` and ``ipv6_service``
samples (from the daemon's latest run, or from a run made for the report) and
rolls them up per tier, province, site and agency: devices at each level, the
share at level >= 3 and at level 4, services by colour. Lists every device
below level 3 and every offered service that is not green, with the reasons.
It imports no collector: a report run builds the ``ipv6`` collector through
the plugin registry (netmon.poll.build_collectors).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from netmon.config import Config, Target
from netmon.model import IPV6_READINESS, IPV6_SERVICE, Sample
from netmon.plugins import register_report

LEVEL_NAMES = ("none", "enabled", "addressed", "routed", "in_service")
COLOURS = ("green", "yellow", "red", "grey")
DIMENSIONS = ("tier", "province", "site", "agency")
_PLURAL = {"backbone": "backbone routers", "ministry": "ministries", "province": "provinces",
           "district": "districts", "datacentre": "data centres"}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _latest(samples: Iterable[Sample]) -> tuple[dict[str, Sample], dict[tuple[str, str], Sample]]:
    devices: dict[str, Sample] = {}
    services: dict[tuple[str, str], Sample] = {}
    for s in samples:
        if s.measurement == IPV6_READINESS:
            key = s.tags.get("device", s.target)
            if key not in devices or devices[key].ts <= s.ts:
                devices[key] = s
        elif s.measurement == IPV6_SERVICE:
            skey = (s.tags.get("device", s.target), s.tags.get("service", ""))
            if skey not in services or services[skey].ts <= s.ts:
                services[skey] = s
    return devices, services


def _group(dim: str) -> dict[str, Any]:
    return {"name": dim, "devices": 0, "levels": {str(n): 0 for n in range(5)}, "unknown": 0,
            "level3_plus": 0, "level4": 0, "services": {c: 0 for c in COLOURS},
            "portals": 0, "portals_green": 0}


def _groups(rollups: dict[str, dict[str, dict[str, Any]]], tags: Mapping[str, str]
            ) -> list[dict[str, Any]]:
    """The roll-up groups a sample counts in: one per dimension it is tagged with."""
    return [rollups[dim].setdefault(tags[dim], _group(tags[dim]))
            for dim in DIMENSIONS if dim in tags]


def _reasons(s: Sample) -> list[str]:
    reasons = str(s.fields.get("reasons") or s.fields.get("error") or "")
    return [r for r in reasons.split("; ") if r]


def build_report(samples: Iterable[Sample], *, tier: str | None = None) -> dict[str, Any]:
    """The roll-up of the latest readiness and service samples (of one tier, if given)."""
    devices, services = _latest(samples)
    if tier is not None:
        devices = {k: s for k, s in devices.items() if s.tags.get("tier") == tier}
        services = {k: s for k, s in services.items() if s.tags.get("tier") == tier}
    rollups: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DIMENSIONS}
    below: list[dict[str, Any]] = []
    for _, s in sorted(devices.items(), key=lambda kv: kv[0]):
        level = s.fields.get("level")
        for g in _groups(rollups, s.tags):
            g["devices"] += 1
            if not isinstance(level, int):
                g["unknown"] += 1
                continue
            g["levels"][str(level)] += 1
            g["level3_plus"] += level >= 3
            g["level4"] += level == 4
        if not isinstance(level, int) or level < 3:
            below.append({**dict(s.tags), "level": level if isinstance(level, int) else None,
                          "level_name": LEVEL_NAMES[level] if isinstance(level, int) else
                          "unknown", "reasons": _reasons(s)})
    not_green: list[dict[str, Any]] = []
    for _, s in sorted(services.items(), key=lambda kv: kv[0]):
        colour = s.fields.get("colour")
        for g in _groups(rollups, s.tags):
            if colour in COLOURS:
                g["services"][colour] += 1
            if s.tags.get("kind") == "portal" and colour != "grey":
                g["portals"] += 1
                g["portals_green"] += colour == "green"
        if colour not in ("green", "grey"):
            not_green.append({**dict(s.tags), "colour": colour or "unknown",
                              "reasons": _reasons(s)})
    for groups in rollups.values():
        for g in groups.values():
            judged = g["devices"] - g["unknown"]
            g["level3_plus_pct"] = _pct(g["level3_plus"], judged)
            g["level4_pct"] = _pct(g["level4"], judged)
    return {
        "tier": tier,
        "devices": len(devices),
        "services": len(services),
        "summary": _summary(rollups["tier"]),
        "rollups": {d: [rollups[d][k] for k in sorted(rollups[d])] for d in DIMENSIONS},
        "devices_below_level3": below,
        "services_not_green": not_green,
    }


def _summary(tiers: dict[str, dict[str, Any]]) -> list[str]:
    """``provinces at level ≥ 3: 58/63 (92.1%); portals working over IPv6: 49/63``."""
    lines = []
    for name in sorted(tiers):
        g = tiers[name]
        judged = g["devices"] - g["unknown"]
        text = f"{_PLURAL.get(name, name)} at level ≥ 3: {g['level3_plus']}/{judged}"
        if judged:
            text += f" ({g['level3_plus_pct']}%)"
        if g["portals"]:
            text += f"; portals working over IPv6: {g['portals_green']}/{g['portals']}"
        lines.append(text)
    return lines


# ------------------------------------------------------------------ formats

_COLUMNS = ("devices", "L0", "L1", "L2", "L3", "L4", "unknown", "≥L3 %", "L4 %",
            "green", "yellow", "red", "grey")


def _row(g: dict[str, Any]) -> list[str]:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    return [str(g["devices"]), *(str(g["levels"][str(n)]) for n in range(5)), str(g["unknown"]),
            pct(g["level3_plus_pct"]), pct(g["level4_pct"]),
            *(str(g["services"][c]) for c in COLOURS)]


def format_table(report: dict[str, Any]) -> str:
    out = io.StringIO()
    scope = f" (tier {report['tier']})" if report["tier"] else ""
    out.write(f"IPv6 readiness{scope}: {report['devices']} devices, "
              f"{report['services']} services\n")
    for line in report["summary"]:
        out.write(line + "\n")
    for dim in DIMENSIONS:
        groups = report["rollups"][dim]
        if not groups:
            continue
        width = max(len(dim), *(len(g["name"]) for g in groups))
        out.write(f"\n{dim:<{width}}  " + "  ".join(f"{c:>7}" for c in _COLUMNS) + "\n")
        for g in groups:
            out.write(f"{g['name']:<{width}}  " + "  ".join(f"{v:>7}" for v in _row(g)) + "\n")
    if report["devices_below_level3"]:
        out.write("\nDevices below level 3:\n")
        for d in report["devices_below_level3"]:
            level = "?" if d["level"] is None else d["level"]
            where = ", ".join(f"{k} {d[k]}" for k in ("tier", "province", "site") if d.get(k))
            out.write(f"  {d['device']} ({where}): level {level} {d['level_name']}: "
                      + "; ".join(d["reasons"]) + "\n")
    if report["services_not_green"]:
        out.write("\nServices not green:\n")
        for s in report["services_not_green"]:
            out.write(f"  {s['kind']} {s['service']} (agency {s.get('agency', '-')}, device "
                      f"{s['device']}): {s['colour']}: " + "; ".join(s["reasons"]) + "\n")
    return out.getvalue()


def format_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["dimension", "group", "devices", "level0", "level1", "level2", "level3",
                "level4", "unknown", "level3_plus_pct", "level4_pct", *COLOURS])
    for dim in DIMENSIONS:
        for g in report["rollups"][dim]:
            w.writerow([dim, g["name"], *_row(g)])
    return out.getvalue()


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return format_csv(report)
    return format_table(report)


# ------------------------------------------------------------------ a run for the report


def ipv6_targets(config: Config, tier: str | None = None) -> list[Target]:
    return [t for t in config.targets if "ipv6" in t.collectors
            and (tier is None or t.tier == tier)]


async def collect_now(config: Config, targets: Sequence[Target], *,
                      concurrency: int = 50, timeout_s: float = 120.0) -> list[Sample]:
    """Run the registered ``ipv6`` collector on ``targets`` now (the report's own run)."""
    from netmon.poll import build_collectors, open_session
    from netmon.snmp import SnmpClient, SnmpError

    collector = build_collectors(config.settings)["ipv6"]
    limit = asyncio.Semaphore(concurrency)
    out: list[Sample] = []
    async with SnmpClient() as client:
        async def one(target: Target) -> None:
            async with limit:
                session = open_session(client, target)
                try:
                    # Service checks may wait for DNS and TCP timeouts: not the traffic
                    # poll's deadline, but a bound of its own.
                    async with asyncio.timeout(timeout_s):
                        out.extend(await collector.collect(session, target))
                except (SnmpError, TimeoutError) as exc:
                    reason = str(exc) if isinstance(exc, SnmpError) else \
                        f"{target.name}: not done within {timeout_s:g}s"
                    tags = {"device": target.name, "site": target.site, "tier": target.tier}
                    if target.province:
                        tags["province"] = target.province
                    out.append(Sample(target.name, IPV6_READINESS, tags,
                                      {"error": reason}, datetime.now(UTC)))

        await asyncio.gather(*(one(t) for t in targets))
    return out


def _arguments(parser: Any) -> None:
    parser.add_argument("--tier", choices=("backbone", "ministry", "province", "district",
                                           "datacentre"))
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")


def _run(args: Any, config: Config) -> int:
    """``netmon report ipv6``: check every ipv6 target now and print the roll-up."""
    import sys

    targets = ipv6_targets(config, args.tier)
    if not targets:
        print("no target lists the ipv6 collector" + (f" in tier {args.tier}" if args.tier
              else ""), file=sys.stderr)
        return 1
    samples = asyncio.run(collect_now(config, targets))
    sys.stdout.write(render(build_report(samples, tier=args.tier), args.format))
    return 0


register_report("ipv6", "IPv6 readiness of devices and agency services, rolled up per tier, "
                "province, site and agency (checks every ipv6 target now)", _arguments, _run)
