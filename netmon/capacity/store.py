"""The roll-up store: 5-minute averages, daily figures per link and site, coverage counts.

Step: beside the storage sinks (rates -> roll-ups). The recorder writes here,
``netmon report`` reads here. One SQLite file, ``<state_dir>/capacity.sqlite``
(WAL), whatever storage sink is configured.

Compact by design: ``WITHOUT ROWID`` tables keyed by (link id, bucket) and
(link id, UTC day number), rates as integer bit/s (SQLite stores small
integers in 1-8 bytes), so a link-day costs about 75 bytes: 2,000 links for
two years is about 110 MB.

* ``links``: one row per (target, link) with its tags (site, tier, role, plane).
* ``fivemin``: per link and 5-minute bucket the sum and count of the in/out
  rates seen (the average is sum / count); kept ``five_minute_retention``.
* ``daily``: per link and UTC day, per direction: p95, max and mean of the
  5-minute averages, bytes transferred, the capacity of the day and how many
  5-minute buckets had data (coverage = buckets / 288).
* ``site_daily``: per site with plane A and B links, the p95 of the combined
  traffic of all its plane links, and each plane's capacity.
* ``site_days`` / ``target_now``: coverage (see coverage.py); ``meta``: the last
  day finalised.

The p95 is **nearest-rank**: the day's n 5-minute averages sorted ascending,
the value at rank ceil(0.95 * n) (1-based). With 288 buckets that is rank 274:
the 14 highest five-minute averages are discarded, as in 95th-percentile billing.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CAPACITY_FILE = "capacity.sqlite"
BUCKET_S = 300
DAY_S = 86400
BUCKETS_PER_DAY = DAY_S // BUCKET_S
PLANE_ROLES = ("plane-a", "plane-b")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    link TEXT NOT NULL,
    if_name TEXT,
    site TEXT,
    tier TEXT,
    province TEXT,
    role TEXT,
    plane TEXT,
    capacity_bps INTEGER,
    threshold_pct REAL,
    UNIQUE (target, link)
);
CREATE TABLE IF NOT EXISTS fivemin (
    link_id INTEGER NOT NULL,
    t5 INTEGER NOT NULL,
    n INTEGER NOT NULL,
    in_sum REAL NOT NULL,
    out_sum REAL NOT NULL,
    capacity_bps INTEGER,
    PRIMARY KEY (link_id, t5)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily (
    link_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    buckets INTEGER NOT NULL,
    in_p95_bps INTEGER, out_p95_bps INTEGER,
    in_max_bps INTEGER, out_max_bps INTEGER,
    in_mean_bps INTEGER, out_mean_bps INTEGER,
    in_bytes INTEGER, out_bytes INTEGER,
    capacity_bps INTEGER,
    PRIMARY KEY (link_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_daily (
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    buckets INTEGER NOT NULL,
    in_p95_bps INTEGER, out_p95_bps INTEGER,
    capacity_a_bps INTEGER, capacity_b_bps INTEGER,
    PRIMARY KEY (site, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS site_days (
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    tier TEXT,
    seen INTEGER NOT NULL,
    connected INTEGER NOT NULL,
    PRIMARY KEY (site, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
);
CREATE TABLE IF NOT EXISTS target_now (
    target TEXT PRIMARY KEY,
    site TEXT,
    tier TEXT,
    ts REAL NOT NULL,
    connected INTEGER NOT NULL
);
"""


def p95_nearest_rank(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank: sorted ascending, rank ceil(0.95 n), 1-based."""
    if not values:
        raise ValueError("p95 of no values")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A rolled-up link and the tags it was last seen with."""

    id: int
    target: str
    link: str
    if_name: str | None = None
    site: str | None = None
    tier: str | None = None
    province: str | None = None
    role: str | None = None
    plane: str | None = None
    capacity_bps: int | None = None
    threshold_pct: float | None = None

    @property
    def key(self) -> str:
        return f"{self.target}/{self.link}"


@dataclass(frozen=True, slots=True)
class Daily:
    """One link-day (rates in bit/s; utilisation derived from the day's capacity)."""

    link_id: int
    day: int
    buckets: int
    in_p95_bps: float
    out_p95_bps: float
    in_max_bps: float
    out_max_bps: float
    in_mean_bps: float
    out_mean_bps: float
    in_bytes: int
    out_bytes: int
    capacity_bps: int | None

    @property
    def coverage(self) -> float:
        return self.buckets / BUCKETS_PER_DAY

    @property
    def p95_bps(self) -> float:
        """The link's p95: the larger of the in and out p95 (the billing convention)."""
        return max(self.in_p95_bps, self.out_p95_bps)

    def pct(self, bps: float) -> float | None:
        return bps * 100.0 / self.capacity_bps if self.capacity_bps else None


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                             isolation_level=None)
    else:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class RollupStore:
    """Read and write the roll-up file. Thread-safe (one lock); the daemon calls it in a
    worker thread, the reports open it read-only."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(
                    f"no capacity roll-ups at {self.path}: the daemon (netmon run) writes "
                    "them as it polls")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(self.path, readonly=readonly)
        if not readonly:
            self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._link_ids: dict[tuple[str, str], int] = {}

    @classmethod
    def in_state_dir(cls, state_dir: Path, *, readonly: bool = False) -> RollupStore:
        return cls(Path(state_dir) / CAPACITY_FILE, readonly=readonly)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ---------------------------------------------------------------------

    def link_id(self, target: str, link: str, tags: Mapping[str, str] | None = None,
                capacity_bps: int | None = None, threshold_pct: float | None = None) -> int:
        """The id of (target, link); its tags, capacity and threshold are updated."""
        tags = tags or {}
        values = (tags.get("ifName"), tags.get("site"), tags.get("tier"), tags.get("province"),
                  tags.get("role"), tags.get("plane"), capacity_bps, threshold_pct)
        with self._lock:
            self._db.execute(
                "INSERT INTO links (target, link, if_name, site, tier, province, role, plane, "
                "capacity_bps, threshold_pct) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (target, link) DO UPDATE SET if_name=excluded.if_name, "
                "site=excluded.site, tier=excluded.tier, province=excluded.province, "
                "role=excluded.role, plane=excluded.plane, "
                "capacity_bps=coalesce(excluded.capacity_bps, capacity_bps), "
                "threshold_pct=coalesce(excluded.threshold_pct, threshold_pct)",
                (target, link, *values),
            )
            row = self._db.execute("SELECT id FROM links WHERE target=? AND link=?",
                                   (target, link)).fetchone()
        self._link_ids[(target, link)] = row[0]
        return row[0]

    def add_buckets(self, rows: Iterable[tuple[int, int, int, float, float, int | None]]) -> None:
        """(link_id, t5, n, in_sum, out_sum, capacity_bps): added to what the bucket holds,
        so a bucket split by a restart adds up."""
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT INTO fivemin (link_id, t5, n, in_sum, out_sum, capacity_bps) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (link_id, t5) DO UPDATE SET "
                "n = n + excluded.n, in_sum = in_sum + excluded.in_sum, "
                "out_sum = out_sum + excluded.out_sum, "
                "capacity_bps = coalesce(excluded.capacity_bps, capacity_bps)",
                list(rows),
            )

    def put_daily(self, rows: Iterable[Daily]) -> None:
        """Insert or replace link-days (the finaliser, and tests injecting history)."""
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO daily VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(d.link_id, d.day, d.buckets, round(d.in_p95_bps), round(d.out_p95_bps),
                  round(d.in_max_bps), round(d.out_max_bps), round(d.in_mean_bps),
                  round(d.out_mean_bps), d.in_bytes, d.out_bytes, d.capacity_bps)
                 for d in rows],
            )

    def put_site_daily(self, rows: Iterable[tuple[str, int, int, float, float, int, int]]) -> None:
        """(site, day, buckets, in_p95_bps, out_p95_bps, capacity_a_bps, capacity_b_bps)."""
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO site_daily VALUES (?,?,?,?,?,?,?)",
                [(s, d, b, round(i), round(o), a, bb) for s, d, b, i, o, a, bb in rows],
            )

    def add_site_buckets(self, rows: Iterable[tuple[str, str | None, int, int, int]]) -> None:
        """(site, tier, day, seen, connected) 5-minute bucket counts, added up per day."""
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT INTO site_days (site, tier, day, seen, connected) VALUES (?,?,?,?,?) "
                "ON CONFLICT (site, day) DO UPDATE SET seen = seen + excluded.seen, "
                "connected = connected + excluded.connected, tier = excluded.tier",
                list(rows),
            )

    def set_target_now(self, rows: Iterable[tuple[str, str, str, float, bool]]) -> None:
        """(target, site, tier, ts, connected): the latest state of each device."""
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT OR REPLACE INTO target_now VALUES (?,?,?,?,?)",
                [(t, s, tier, ts, int(c)) for t, s, tier, ts, c in rows],
            )

    def prune(self, before_day: int, before_t5: int) -> None:
        with self._lock, self._tx():
            self._db.execute("DELETE FROM daily WHERE day < ?", (before_day,))
            self._db.execute("DELETE FROM site_daily WHERE day < ?", (before_day,))
            self._db.execute("DELETE FROM site_days WHERE day < ?", (before_day,))
            self._db.execute("DELETE FROM fivemin WHERE t5 < ?", (before_t5,))

    def last_finalised_day(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'last_day'").fetchone()
        return int(row[0]) if row else None

    def set_last_finalised_day(self, day: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_day', ?)", (day,))

    # -- finalising a day ------------------------------------------------------------

    def finalise_day(self, day: int) -> list[tuple[LinkInfo, Daily]]:
        """Compute (or recompute) the daily figures of ``day`` from its 5-minute buckets.

        Returns what was written, for the storage sinks (``link_daily``).
        """
        first, last = day * BUCKETS_PER_DAY, (day + 1) * BUCKETS_PER_DAY
        with self._lock:
            rows = self._db.execute(
                "SELECT link_id, t5, n, in_sum, out_sum, capacity_bps FROM fivemin "
                "WHERE t5 >= ? AND t5 < ? ORDER BY link_id, t5", (first, last)).fetchall()
        per_link: dict[int, list[tuple[int, float, float, int | None]]] = defaultdict(list)
        for link_id, t5, n, in_sum, out_sum, cap in rows:
            if n > 0:
                per_link[link_id].append((t5, in_sum / n, out_sum / n, cap))
        links = {info.id: info for info in self.links()}
        out: list[tuple[LinkInfo, Daily]] = []
        for link_id, buckets in per_link.items():
            ins = [b[1] for b in buckets]
            outs = [b[2] for b in buckets]
            caps = [b[3] for b in buckets if b[3]]
            daily = Daily(
                link_id, day, len(buckets),
                p95_nearest_rank(ins), p95_nearest_rank(outs), max(ins), max(outs),
                sum(ins) / len(ins), sum(outs) / len(outs),
                round(sum(ins) * BUCKET_S / 8), round(sum(outs) * BUCKET_S / 8),
                caps[-1] if caps else None,
            )
            out.append((links[link_id], daily))
        self.put_daily(d for _, d in out)
        self.put_site_daily(self._plane_days(day, links, per_link))
        return out

    @staticmethod
    def _plane_days(day: int, links: Mapping[int, LinkInfo],
                    per_link: Mapping[int, list[tuple[int, float, float, int | None]]],
                    ) -> Iterator[tuple[str, int, int, float, float, int, int]]:
        """Per site with plane A and B links: p95 of the summed 5-minute averages, over
        the buckets in which every plane link of the site has data."""
        sites: dict[str, list[LinkInfo]] = defaultdict(list)
        for info in links.values():
            if info.role in PLANE_ROLES and info.site and info.id in per_link:
                sites[info.site].append(info)
        for site, members in sites.items():
            if {m.role for m in members} != set(PLANE_ROLES):
                continue
            by_bucket = [{t5: (i, o) for t5, i, o, _ in per_link[m.id]} for m in members]
            common = set.intersection(*(set(b) for b in by_bucket))
            if not common:
                continue
            ins = [sum(b[t5][0] for b in by_bucket) for t5 in common]
            outs = [sum(b[t5][1] for b in by_bucket) for t5 in common]
            caps: dict[str, int] = {"plane-a": 0, "plane-b": 0}
            for m, buckets in zip(members, (per_link[m.id] for m in members), strict=True):
                cap = next((c for *_, c in reversed(buckets) if c), None) or m.capacity_bps
                caps[m.role or ""] += cap or 0
            yield (site, day, len(common), p95_nearest_rank(ins), p95_nearest_rank(outs),
                   caps["plane-a"], caps["plane-b"])

    def days_with_buckets(self, since_t5: int) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT t5 / ? FROM fivemin WHERE t5 >= ?",
                (BUCKETS_PER_DAY, since_t5)).fetchall()
        return sorted(r[0] for r in rows)

    def buckets_present(self, first_t5: int, last_t5: int) -> set[tuple[int, int]]:
        with self._lock:
            return set(self._db.execute(
                "SELECT link_id, t5 FROM fivemin WHERE t5 >= ? AND t5 < ?",
                (first_t5, last_t5)).fetchall())

    # -- reading ---------------------------------------------------------------------

    def links(self) -> list[LinkInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, link, if_name, site, tier, province, role, plane, "
                "capacity_bps, threshold_pct FROM links ORDER BY target, link").fetchall()
        return [LinkInfo(*r) for r in rows]

    def daily(self, first_day: int, last_day: int) -> Iterator[Daily]:
        """Link-days with first_day <= day <= last_day, by link then day."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM daily WHERE day >= ? AND day <= ? ORDER BY link_id, day",
                (first_day, last_day)).fetchall()
        return (Daily(*r) for r in rows)

    def p95_series(self, first_day: int, last_day: int) -> list[tuple[int, int, int, int, int,
                                                                       int | None]]:
        """(link_id, day, buckets, in_p95_bps, out_p95_bps, capacity_bps), by link then day:
        what the capacity report needs, without building a Daily per row."""
        with self._lock:
            return self._db.execute(
                "SELECT link_id, day, buckets, in_p95_bps, out_p95_bps, capacity_bps FROM daily "
                "WHERE day >= ? AND day <= ? ORDER BY link_id, day",
                (first_day, last_day)).fetchall()

    def p95_window(self, first_day: int, last_day: int, min_buckets: float,
                   ) -> list[tuple[int, str | None, str | None, int, int, int | None]]:
        """Per link with days in [first_day, last_day]: (link_id, its complete days and their
        link p95 in bit/s as comma-separated text, the number of days in all, the last day,
        that day's capacity: SQLite takes a bare column from the max() row). One row per
        link, read by a primary-key range per link:
        20,000 links x 90 days in a fraction of the time 1.8 million rows would take."""
        with self._lock:
            return self._db.execute(
                "SELECT l.id, "
                "group_concat(CASE WHEN d.buckets >= :mb THEN d.day END), "
                "group_concat(CASE WHEN d.buckets >= :mb "
                "             THEN max(d.in_p95_bps, d.out_p95_bps) END), "
                "count(*), max(d.day), d.capacity_bps "
                "FROM links l JOIN daily d ON d.link_id = l.id "
                "AND d.day >= :first AND d.day <= :last GROUP BY l.id",
                {"mb": min_buckets, "first": first_day, "last": last_day}).fetchall()

    def site_daily(self, first_day: int, last_day: int) -> list[tuple]:
        with self._lock:
            return self._db.execute(
                "SELECT site, day, buckets, in_p95_bps, out_p95_bps, capacity_a_bps, "
                "capacity_b_bps FROM site_daily WHERE day >= ? AND day <= ? ORDER BY site, day",
                (first_day, last_day)).fetchall()

    def site_days(self, first_day: int, last_day: int) -> list[tuple[str, str, int, int, int]]:
        """(site, tier, day, seen, connected) bucket counts."""
        with self._lock:
            return self._db.execute(
                "SELECT site, tier, day, seen, connected FROM site_days "
                "WHERE day >= ? AND day <= ? ORDER BY site, day",
                (first_day, last_day)).fetchall()

    def target_now(self) -> list[tuple[str, str, str, float, int]]:
        with self._lock:
            return self._db.execute(
                "SELECT target, site, tier, ts, connected FROM target_now").fetchall()

    # -- helpers ---------------------------------------------------------------------

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN")

        def __exit__(self, kind, exc, tb) -> None:
            self.db.execute("ROLLBACK" if kind else "COMMIT")

    def _tx(self) -> RollupStore._Tx:
        return RollupStore._Tx(self._db)
