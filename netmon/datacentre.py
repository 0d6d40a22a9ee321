"""The data-centre report: every UPS, sensor and server per data centre, worst first.

Step: storage -> **report** (``netmon report datacentre``, from the local
store) and daemon state -> **report** (``/api/datacentre``, from the latest
poll of each device). Both build the same structure from ``ups``, ``sensor``
and ``host`` samples (see the README's schema); nothing here polls.

Each item gets a status from what the device itself says and from the
shipped rule defaults (alerts/rules/datacentre.yaml): a UPS on battery, with
a low battery or under 10 minutes of runtime is ``critical``; on bypass,
overloaded (80%), with a failed self-test or alarms present ``warning``. A
sensor's status is the device's own verdict (and its own limits); a server is
``warning`` with a filesystem at 90% or more. Sites are listed worst first,
and within a site each list worst first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netmon.model import (
    FILESYSTEM_STORAGE_TYPES,
    HOST,
    SENSOR,
    SENSOR_KINDS,
    SENSOR_LIMITS,
    UPS,
    Sample,
    sensor_field,
)
from netmon.plugins import register_report
from netmon.units import parse_duration

__all__ = ["MEASUREMENTS", "build_report", "latest_from_store", "render_table"]

MEASUREMENTS = (UPS, SENSOR, HOST)
RANK = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
RUNTIME_FLOOR_S = 600.0
OVERLOAD_PCT = 80.0
FILESYSTEM_PCT = 90.0


def _num(fields: Mapping[str, object], name: str) -> float | None:
    v = fields.get(name)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _ups(s: Sample) -> dict[str, Any]:
    f = s.fields
    problems: list[tuple[str, str]] = []
    source = f.get("output_source")
    runtime = _num(f, "runtime_s")
    load = _num(f, "output_load_pct")
    if source == "battery":
        problems.append(("critical", "on battery"))
    if f.get("battery_status") in ("low", "depleted"):
        problems.append(("critical", f"battery {f['battery_status']}"))
    if runtime is not None and runtime < RUNTIME_FLOOR_S and not (
            runtime == 0 and source == "normal" and f.get("battery_status") == "normal"):
        problems.append(("critical", f"runtime {runtime / 60:g} min"))
    if source == "bypass":
        problems.append(("warning", "on bypass"))
    if load is not None and load >= OVERLOAD_PCT:
        problems.append(("warning", f"load {load:g}%"))
    if f.get("self_test") == "error":
        problems.append(("warning", "self-test failed"))
    if f.get("battery_status") == "fault":
        problems.append(("warning", "battery fault"))
    alarms = [a for a in str(f.get("alarms", "")).split(",") if a]
    if alarms:
        problems.append(("warning", "alarms: " + ", ".join(alarms)))
    status = min((p[0] for p in problems), key=RANK.__getitem__, default="ok")
    if source is None and runtime is None:
        status = "unknown"
    return {
        "device": s.target, "status": status, "problems": [p[1] for p in problems],
        "mib": f.get("mib"), "source": source, "load_pct": load, "runtime_s": runtime,
        "battery_status": f.get("battery_status"), "charge_pct": _num(f, "charge_pct"),
        "on_battery_s": _num(f, "on_battery_s"), "ts": s.ts.isoformat(),
    }


_SENSOR_STATUS = {"ok": "ok", "high_warning": "warning", "low_warning": "warning",
                  "alarm": "warning", "unavailable": "unknown", "high_critical": "critical",
                  "low_critical": "critical", "fault": "critical"}


def _sensor(s: Sample) -> dict[str, Any]:
    f = s.fields
    kind = s.tags.get("kind", "other")
    value = f.get(sensor_field(kind))
    limits = {k: v for k in SENSOR_LIMITS if (v := _num(f, sensor_field(kind, k))) is not None}
    device_status = str(f.get("status", "unknown"))
    status = _SENSOR_STATUS.get(device_status, "unknown")
    # the device's own limits, in case its verdict lags its reading
    if isinstance(value, int | float):
        if ("high_critical" in limits and value >= limits["high_critical"]) or (
                "low_critical" in limits and value <= limits["low_critical"]):
            status = "critical"
        elif status == "ok" and (("high_warning" in limits and value >= limits["high_warning"])
                                 or ("low_warning" in limits and value <= limits["low_warning"])):
            status = "warning"
    return {
        "device": s.target, "sensor": s.tags.get("sensor"), "kind": kind,
        "unit": SENSOR_KINDS.get(kind, SENSOR_KINDS["other"])[2], "value": value,
        "status": status, "device_status": device_status, "limits": limits,
        "limits_from": f.get("limits_from") or None, "ts": s.ts.isoformat(),
    }


def _servers(samples: list[Sample]) -> list[dict[str, Any]]:
    by_device: dict[str, dict[str, Any]] = {}
    for s in samples:
        row = by_device.setdefault(s.target, {
            "device": s.target, "status": "ok", "cpu_load_pct": None, "memory_used_pct": None,
            "uptime_s": None, "filesystems": [], "ts": s.ts.isoformat()})
        f = s.fields
        if "storage" in s.tags:
            used = _num(f, "used_pct")
            if s.tags.get("storage_type") in FILESYSTEM_STORAGE_TYPES and used is not None:
                row["filesystems"].append({"storage": s.tags["storage"],
                                           "used_pct": used,
                                           "size_bytes": _num(f, "size_bytes")})
        elif "cpu" not in s.tags:
            row["cpu_load_pct"] = _num(f, "cpu_load_pct")
            row["memory_used_pct"] = _num(f, "memory_used_pct")
            row["uptime_s"] = _num(f, "uptime_s")
    for row in by_device.values():
        row["filesystems"].sort(key=lambda fs: -(fs["used_pct"] or 0))
        full = row["filesystems"][0]["used_pct"] if row["filesystems"] else None
        row["fullest_pct"] = full
        if full is not None and full >= FILESYSTEM_PCT:
            row["status"] = "warning"
    return list(by_device.values())


def build_report(samples: Iterable[Sample], site: str | None = None) -> dict[str, Any]:
    """``{"datacentres": [{"site", "status", "ups", "sensors", "servers"}]}``, worst first."""
    sites: dict[str, dict[str, list[Sample]]] = {}
    for s in samples:
        if s.measurement not in MEASUREMENTS:
            continue
        where = s.tags.get("site", "")
        if site is not None and where != site:
            continue
        sites.setdefault(where, {m: [] for m in MEASUREMENTS})[s.measurement].append(s)
    out = []
    for name, by in sites.items():
        ups = sorted((_ups(s) for s in by[UPS]),
                     key=lambda u: (RANK[u["status"]], u["runtime_s"] if u["runtime_s"]
                                    is not None else 1e12, u["device"]))
        sensors = sorted((_sensor(s) for s in by[SENSOR]),
                         key=lambda x: (RANK[x["status"]], x["device"], x["kind"],
                                        x["sensor"] or ""))
        servers = sorted(_servers(by[HOST]),
                         key=lambda x: (RANK[x["status"]], -(x["fullest_pct"] or 0),
                                        x["device"]))
        worst = min((i["status"] for i in (*ups, *sensors, *servers)),
                    key=RANK.__getitem__, default="ok")
        out.append({"site": name, "status": worst, "ups": ups, "sensors": sensors,
                    "servers": servers})
    out.sort(key=lambda d: (RANK[d["status"]], d["site"]))
    return {"datacentres": out}


def _fmt(value: object, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}{suffix}"
    return f"{value}{suffix}"


def render_table(report: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for dc in report["datacentres"]:
        lines.append(f"== {dc['site']}  ({dc['status']})")
        if dc["ups"]:
            lines.append(f"  {'UPS':<20} {'status':<9} {'source':<8} {'load':>6} "
                         f"{'runtime':>8} {'battery':<9} {'charge':>6}  problems")
            for u in dc["ups"]:
                runtime = f"{u['runtime_s'] / 60:g}m" if u["runtime_s"] is not None else "-"
                lines.append(
                    f"  {u['device']:<20} {u['status']:<9} {_fmt(u['source']):<8} "
                    f"{_fmt(u['load_pct'], '%'):>6} {runtime:>8} "
                    f"{_fmt(u['battery_status']):<9} {_fmt(u['charge_pct'], '%'):>6}  "
                    f"{'; '.join(u['problems'])}")
        if dc["sensors"]:
            lines.append(f"  {'sensor':<32} {'device':<20} {'status':<9} {'value':>10} "
                         f"{'limit (high warn)':>18}  from")
            for x in dc["sensors"]:
                unit = f" {x['unit']}" if x["unit"] else ""
                limit = x["limits"].get("high_warning", x["limits"].get("low_warning"))
                lines.append(
                    f"  {(x['sensor'] or '')[:32]:<32} {x['device']:<20} {x['status']:<9} "
                    f"{_fmt(x['value'], unit):>10} {_fmt(limit, unit):>18}  "
                    f"{x['limits_from'] or '-'}")
        if dc["servers"]:
            lines.append(f"  {'server':<20} {'status':<9} {'cpu':>6} {'memory':>7} "
                         f"{'fullest filesystem':<30}")
            for x in dc["servers"]:
                fs = x["filesystems"][0] if x["filesystems"] else None
                fullest = f"{fs['storage']} {fs['used_pct']:g}%" if fs else "-"
                lines.append(f"  {x['device']:<20} {x['status']:<9} "
                             f"{_fmt(x['cpu_load_pct'], '%'):>6} "
                             f"{_fmt(x['memory_used_pct'], '%'):>7} {fullest[:30]:<30}")
    if not lines:
        lines.append("no UPS, sensor or server data in this period")
    return "\n".join(lines) + "\n"


def latest_from_store(db_path: Path, since_s: float, *, now: float | None = None
                      ) -> list[Sample]:
    """The latest sample of every (measurement, device, tag set) of the data-centre
    measurements in the local store (netmon.sinks.local) within ``since_s``."""
    if not db_path.exists():
        raise FileNotFoundError(f"no local store at {db_path} (has the daemon run?)")
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        since_ns = int(((now if now is not None else time.time()) - since_s) * 1e9)
        marks = ",".join("?" * len(MEASUREMENTS))
        rows = db.execute(
            "SELECT p.ts_ns, p.measurement, p.target, p.field, p.value, t.tags "
            "FROM points p JOIN tagsets t ON t.id = p.tagset_id "
            f"WHERE p.measurement IN ({marks}) AND p.ts_ns >= ? ORDER BY p.ts_ns",
            (*MEASUREMENTS, since_ns)).fetchall()
    finally:
        db.close()
    latest: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = {}
    for ts_ns, measurement, target, fld, value, tags in rows:
        key = (measurement, target, tags)
        known = latest.get(key)
        if known is None or ts_ns > known[0]:
            latest[key] = (ts_ns, {fld: value})
        elif ts_ns == known[0]:
            known[1][fld] = value
    return [Sample(target, measurement, json.loads(tags), fields,
                   datetime.fromtimestamp(ts_ns / 1e9, UTC))
            for (measurement, target, tags), (ts_ns, fields) in latest.items()]


# -- netmon report datacentre -------------------------------------------------------------


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="one data centre (its site name)")
    parser.add_argument("--since", default="15m",
                        help="how recent the latest poll must be (default 15m)")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def _run(args: argparse.Namespace, config: Any) -> int:
    from netmon.sinks.local import LOCAL_FILE

    if config.settings.storage.influxdb is not None:
        print("storage goes to InfluxDB: the local store is not in use; see /api/datacentre "
              "on the running daemon", file=sys.stderr)
        return 2
    try:
        since_s = parse_duration(args.since)
        samples = latest_from_store(config.settings.state_dir / LOCAL_FILE, since_s)
    except (ValueError, FileNotFoundError, sqlite3.Error) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    report = build_report(samples, site=args.site)
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_table(report))
    return 0


register_report("datacentre", "every UPS, sensor and server per data centre, worst first",
                _arguments, _run)
