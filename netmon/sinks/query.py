"""``netmon query``: read the local store, aggregate and filter (step: storage -> people).

Reads ``<state_dir>/netmon.sqlite`` read-only (WAL lets the daemon keep
writing). What planners reach for:

* ``since`` / ``until``: the time range, [now - since, until); ``until`` is a
  duration ago (``7d``) or an ISO date or time (``2026-11-01``, UTC unless it
  says otherwise);
* ``agg`` (``avg``, ``max``, ``p95``) per ``every`` (``1h``, ``1d``; without
  ``every`` one value per series over the whole range): buckets aligned to
  UTC, stamped with their start. The p95 is nearest-rank (sorted ascending,
  rank ceil(0.95 n)), as in the capacity roll-ups;
* ``where``: conditions such as ``util_pct>=50`` (``<``, ``<=``, ``>``,
  ``>=``, ``=``, ``!=``), all of which must hold for a point of the same
  series and time (after aggregation when ``agg`` is given) to be shown.

A target, link, field or measurement that the store has never seen (and the
configuration does not name) is an error listing the close matches, never a
silent "(no points)"; a known name with nothing in the range prints
"(no points)".
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import operator
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from netmon.units import parse_duration

AGGREGATES = ("avg", "max", "p95")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "==": operator.eq,
    "=": operator.eq, ">": operator.gt, "<": operator.lt,
}
_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|>|<)\s*"
                    r"(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*%?\s*$")


SCHEMA_FIELDS: dict[str, frozenset[str]] = {
    "interface": frozenset({
        "in_bps", "out_bps", "util_in_pct", "util_out_pct", "util_pct", "capacity_bps",
        "threshold_pct", "oper_status", "admin_status", "in_errors_per_s", "out_errors_per_s",
        "in_discards_per_s", "out_discards_per_s", "counter_bits", "ifIndex", "ifAlias",
        "status"}),
    "device": frozenset({"reachable", "poll_duration_s", "sysUpTime_s", "interfaces", "error"}),
    "counter_reset": frozenset({"reason", "ifIndex"}),
    "poll_issue": frozenset({"message"}),
    "link_daily": frozenset({
        "p95_pct", "in_p95_pct", "out_p95_pct", "in_max_pct", "out_max_pct", "in_mean_pct",
        "out_mean_pct", "in_p95_bps", "out_p95_bps", "in_max_bps", "out_max_bps",
        "in_mean_bps", "out_mean_bps", "in_bytes", "out_bytes", "capacity_bps",
        "coverage_pct", "complete"}),
}
"""The fields of the README's line-protocol schema: known before the store has any (the
first poll of a link has no rate yet, so no ``util_pct``)."""


class QueryError(ValueError):
    """A query that cannot be answered as asked: the message says why and what would do."""


@dataclass(frozen=True, slots=True)
class Where:
    field: str
    op: str
    value: float

    def holds(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return _OPS[self.op](float(value), self.value)

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value:g}"


def parse_where(text: str) -> Where:
    m = _WHERE.match(text)
    if not m:
        raise QueryError(f"--where {text!r}: expected FIELD OP NUMBER, e.g. 'util_pct>=50' "
                         "(OP one of >=, <=, >, <, =, !=)")
    return Where(m.group(1), m.group(2), float(m.group(3)))


def parse_until(text: str, now: float) -> float:
    """``7d`` (that long ago) or an ISO date/time (UTC unless an offset is given)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"--until {text!r}: expected a duration ago (7d, 12h) or an ISO date "
                         "or time (2026-11-01, 2026-11-01T12:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def p95_nearest_rank(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


_AGG: dict[str, Callable[[list[float]], float]] = {
    "avg": lambda v: sum(v) / len(v), "max": max, "p95": p95_nearest_rank,
}


def _select(db: sqlite3.Connection, measurement: str, start: float, end: float,
            target: str | None, link: str | None, fields: Iterable[str] | None) -> list[tuple]:
    sql = ["SELECT p.ts_ns, p.target, p.if_name, p.link, p.field, p.value, t.tags "
           "FROM points p JOIN tagsets t ON t.id = p.tagset_id "
           "WHERE p.measurement = ? AND p.ts_ns >= ? AND p.ts_ns < ?"]
    args: list[object] = [measurement, int(start * 1e9), int(end * 1e9)]
    if target is not None:
        sql.append("AND p.target = ?")
        args.append(target)
    if fields is not None:
        names = sorted(set(fields))
        sql.append(f"AND p.field IN ({', '.join('?' * len(names))})")
        args += names
    if link is not None:
        sql.append("AND (p.link = ? OR p.if_name = ?)")
        args += [link, link]
    sql.append("ORDER BY p.ts_ns, p.target, p.link, p.if_name, p.field")
    return db.execute(" ".join(sql), args).fetchall()


def _distinct(db: sqlite3.Connection, column: str, where: str, args: Sequence[object]) -> list:
    """Distinct values of an indexed column by skip-scan: one index seek per value."""
    return [r[0] for r in db.execute(
        f"WITH RECURSIVE v(x) AS (SELECT MIN({column}) FROM points WHERE {where} "
        f"UNION ALL SELECT (SELECT MIN({column}) FROM points WHERE {where} AND {column} > v.x) "
        f"FROM v WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL",
        [*args, *args]).fetchall()]


def _unknown(kind: str, name: str, known: Iterable[str]) -> QueryError:
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    close.sort(key=lambda c: (-difflib.SequenceMatcher(None, name, c).ratio(), c))
    if close:
        hint = f"close matches: {', '.join(close)}"
    elif known:
        more = f" (+{len(known) - 12} more)" if len(known) > 12 else ""
        hint = f"known: {', '.join(known[:12])}{more}"
    else:
        hint = "the store has none yet"
    return QueryError(f"unknown {kind} {name!r}: {hint}")


def _check_names(db: sqlite3.Connection, measurement: str, target: str | None,
                 link: str | None, fields: Sequence[str], known_targets: Iterable[str],
                 known_links: Iterable[str]) -> None:
    """Raise QueryError naming the first unknown name; return if every name is known."""
    measurements = _distinct(db, "measurement", "1", [])
    if not measurements:
        return  # an empty store: "(no points)" says it all
    if measurement not in measurements and measurement not in SCHEMA_FIELDS:
        raise _unknown("measurement", measurement, [*measurements, *SCHEMA_FIELDS])
    targets = _distinct(db, "target", "measurement = ?", [measurement])
    if target is not None and target not in targets and target not in set(known_targets):
        raise _unknown("target", target, [*targets, *known_targets])
    if link is not None:
        links: set[str] = set(known_links)
        for (tags,) in db.execute("SELECT tags FROM tagsets"):
            t = json.loads(tags)
            if target is None or t.get("device") == target:
                links.update(v for k in ("link", "ifName") if isinstance(v := t.get(k), str))
        if link not in links:
            raise _unknown("link", link, links)
    present: set[str] = set(SCHEMA_FIELDS.get(measurement, ()))
    for name in [target] if target is not None and target in targets else targets:
        present.update(_distinct(db, "field", "measurement = ? AND target = ?",
                                 [measurement, name]))
    for field in fields:
        if field not in present:
            raise _unknown(f"field of {measurement}", field, present)


def run_query(
    db_path: Path,
    *,
    target: str | None,
    link: str | None,
    since_s: float,
    field: str | None,
    fmt: Literal["table", "csv", "json"],
    measurement: str = "interface",
    now: float | None = None,
    until: str | float | None = None,
    agg: str | None = None,
    every_s: float | None = None,
    where: Sequence[str] = (),
    known_targets: Iterable[str] = (),
    known_links: Iterable[str] = (),
) -> str:
    """What ``netmon query`` prints: the local store's points as a table, CSV or JSON.

    Raises QueryError for an unknown name or a malformed option,
    FileNotFoundError when there is no local store.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"no local store at {db_path} (is netmon writing to InfluxDB?)")
    now = now if now is not None else time.time()
    end = now if until is None else (until if isinstance(until, float | int)
                                     else parse_until(until, now))
    start = now - since_s
    if end <= start:
        raise QueryError(f"--until ({_iso(end)}) must be later than --since ({_iso(start)})")
    if agg is not None and agg not in AGGREGATES:
        raise QueryError(f"--agg {agg!r}: one of {', '.join(AGGREGATES)}")
    if every_s is not None and agg is None:
        raise QueryError("--every needs --agg (avg, max or p95)")
    conditions = [parse_where(w) for w in where]
    wanted = None if field is None else {field, *(c.field for c in conditions)}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        rows = _select(db, measurement, start, end, target, link, wanted)
        names = [n for n in (field, *(c.field for c in conditions)) if n is not None]
        if not rows or (wanted is not None and {r[4] for r in rows} < wanted):
            _check_names(db, measurement, target, link, names, known_targets, known_links)
    finally:
        db.close()
    points = _points(rows, agg, every_s, start)
    if conditions:
        points = _filter(points, conditions)
    if field is not None:  # the --where fields were read only to filter
        points = [p for p in points if p["field"] == field]
    return _render(points, fmt, agg, start, end)


def _points(rows: list[tuple], agg: str | None, every_s: float | None,
            start: float) -> list[dict]:
    if agg is None:
        return [{"ts_ns": ts, "target": tgt, "ifName": ifn, "link": lnk, "field": fld,
                 "value": val, "tags": tags} for ts, tgt, ifn, lnk, fld, val, tags in rows]
    buckets: dict[tuple, list[float]] = {}
    tagsets: dict[tuple, str] = {}
    for ts, tgt, ifn, lnk, fld, val, tags in rows:
        if isinstance(val, bool) or not isinstance(val, int | float):
            continue  # strings (status, reason) have no average
        t = ts / 1e9
        b = start if every_s is None else (t // every_s) * every_s
        key = (b, tgt, lnk, ifn, fld)
        buckets.setdefault(key, []).append(val)
        tagsets[key] = tags
    fn = _AGG[agg]
    return [{"ts_ns": int(b * 1e9), "target": tgt, "ifName": ifn, "link": lnk, "field": fld,
             "value": fn(values), "tags": tagsets[(b, tgt, lnk, ifn, fld)], "agg": agg}
            for (b, tgt, lnk, ifn, fld), values in sorted(
                buckets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "",
                                                 kv[0][3] or "", kv[0][4]))]


def _filter(points: list[dict], conditions: Sequence[Where]) -> list[dict]:
    series: dict[tuple, dict[str, object]] = {}
    for p in points:
        series.setdefault((p["ts_ns"], p["target"], p["link"], p["ifName"]), {})[p["field"]] = \
            p["value"]
    keep = {k for k, values in series.items()
            if all(c.field in values and c.holds(values[c.field]) for c in conditions)}
    return [p for p in points if (p["ts_ns"], p["target"], p["link"], p["ifName"]) in keep]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _render(points: list[dict], fmt: str, agg: str | None, start: float, end: float) -> str:
    for p in points:
        p["ts"] = datetime.fromtimestamp(p["ts_ns"] / 1e9, UTC).isoformat(
            timespec="milliseconds")
        p["shown_field"] = f"{agg}({p['field']})" if agg else p["field"]
    if fmt == "json":
        keys = ("ts", "target", "link", "ifName", "field", "value", "tags")
        return json.dumps(
            [{**{k: (json.loads(p[k]) if k == "tags" else p[k]) for k in keys},
              **({"agg": agg} if agg else {})} for p in points],
            indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["ts", "target", "link", "ifName", "field", "value"])
        for p in points:
            w.writerow([p["ts"], p["target"], p["link"] or "", p["ifName"] or "",
                        p["shown_field"], _fmt_value(p["value"], exact=True)])
        return buf.getvalue()
    if fmt == "table":
        header = ("ts", "target", "link/ifName", "field", "value")
        table = [header] + [
            (p["ts"], p["target"], p["link"] or p["ifName"] or "-", p["shown_field"],
             _fmt_value(p["value"]))
            for p in points
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines = []
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
            value = row[-1]
            cells.append(value.rjust(widths[-1]) if row is not table[0] and _numeric(value)
                         else value.ljust(widths[-1]))
            lines.append("  ".join(cells).rstrip())
        if not points:
            lines.append(f"(no points between {_iso(start)} and {_iso(end)})")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r} (table, csv, json)")


def _fmt_value(value: object, exact: bool = False) -> str:
    """Floats: exact (repr) for CSV, 3 decimals without trailing zeros for the table."""
    if isinstance(value, float) and not exact and abs(value) < 1e15:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return repr(value) if isinstance(value, float) else str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
