"""Embedded local store (step: rates -> storage, when no InfluxDB is configured).

SQLite in WAL mode at ``<state_dir>/netmon.sqlite``; ``netmon query`` reads it
(``netmon.sinks.query.run_query``) while the daemon writes, which WAL allows.

One row per field value: ``points(ts_ns, measurement, target, if_name, link,
field, value, tagset_id)``. ``value`` has no declared type, so SQLite keeps
ints, floats and strings as they are (string fields such as ``status`` and
``reason`` are kept, unlike in VictoriaMetrics); bools are stored as 0/1. The
full tag set is stored once in ``tagsets`` (JSON) and referenced by id.
Indexes: ``(measurement, target, field, ts_ns)`` for queries, ``(ts_ns)`` for
retention pruning.

``write`` converts samples to rows and queues them; a background task inserts
the queue every ``flush_interval_s`` in a worker thread, and deletes points
older than ``retention_s`` every ``prune_interval_s``. If the queue reaches
``max_queue_rows`` the caller's ``write`` waits for one insert (in a thread:
the event loop keeps running) instead of dropping rows.
``synchronous=NORMAL``: committed rows survive a crash of netmon; a power cut
can lose the last second, never corrupt the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from netmon.model import Sample
from netmon.sinks.lineproto import timestamp_ns
from netmon.sinks.query import run_query  # what netmon query prints; kept importable here
from netmon.sinks.stats import SinkStats
from netmon.units import Duration

log = logging.getLogger(__name__)

LOCAL_FILE = "netmon.sqlite"


class LocalStoreOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_s: Duration = Field(30 * 86400.0, alias="retention")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tagsets (
    id INTEGER PRIMARY KEY,
    tags TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS points (
    ts_ns INTEGER NOT NULL,
    measurement TEXT NOT NULL,
    target TEXT NOT NULL,
    if_name TEXT,
    link TEXT,
    field TEXT NOT NULL,
    value,
    tagset_id INTEGER NOT NULL REFERENCES tagsets(id)
);
CREATE INDEX IF NOT EXISTS points_mtft ON points (measurement, target, field, ts_ns);
CREATE INDEX IF NOT EXISTS points_ts ON points (ts_ns);
"""

Row = tuple[int, str, str, str | None, str | None, str, object, int]


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class LocalStore:
    """Sink that keeps points in a local SQLite file, with retention."""

    def __init__(
        self,
        path: Path,
        options: LocalStoreOptions | None = None,
        *,
        flush_interval_s: float = 1.0,
        prune_interval_s: float | None = None,
        max_queue_rows: int = 500_000,
        clock=time.time,
    ) -> None:
        self.path = Path(path)
        self.options = options or LocalStoreOptions()
        self.flush_interval_s = flush_interval_s
        self.prune_interval_s = prune_interval_s or min(3600.0, self.options.retention_s / 10)
        self.max_queue_rows = max_queue_rows
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(self.path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._tagset_ids: dict[tuple[tuple[str, str], ...], int] = {}
        self._queue: list[Row] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._next_prune = 0.0
        self._stats = SinkStats()

    @classmethod
    def in_state_dir(cls, state_dir: Path, options: LocalStoreOptions | None = None) -> LocalStore:
        return cls(Path(state_dir) / LOCAL_FILE, options)

    @property
    def stats(self) -> SinkStats:
        self._stats.queue_points = len(self._queue)
        return self._stats

    # -- Sink protocol ---------------------------------------------------------

    async def write(self, samples: Sequence[Sample]) -> None:
        if self._closing:
            raise RuntimeError("LocalStore.write after aclose")
        rows = self._queue
        for s in samples:
            ts = timestamp_ns(s.ts)
            tags = s.tags
            tagset = self._tagset_id(tags)
            if_name = tags.get("ifName") or None
            link = tags.get("link") or None
            for field, value in s.fields.items():
                if isinstance(value, bool):
                    value = int(value)
                elif isinstance(value, float) and value != value:  # NaN: no value to store
                    continue
                rows.append((ts, s.measurement, s.target, if_name, link, field, value, tagset))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="netmon-local-store"
            )
        if len(rows) >= self.max_queue_rows:
            await self.flush()

    async def flush(self) -> None:
        """Insert everything queued so far (in a worker thread)."""
        rows, self._queue = self._queue, []
        if not rows:
            return
        try:
            await asyncio.to_thread(self._insert, rows)
        except sqlite3.Error:
            self._queue[:0] = rows  # kept for the next attempt
            raise
        self._stats.points_written += len(rows)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()
        with self._lock:
            self._db.close()
        self._closed = True

    # -- storage -----------------------------------------------------------------

    def _tagset_id(self, tags) -> int:
        key = tuple(tags.items())
        try:
            return self._tagset_ids[key]
        except KeyError:
            pass
        text = json.dumps(dict(sorted(key)), separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tagsets (tags) VALUES (?)", (text,))
            row = self._db.execute("SELECT id FROM tagsets WHERE tags = ?", (text,)).fetchone()
        self._tagset_ids[key] = row[0]
        return row[0]

    def _insert(self, rows: list[Row]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO points (ts_ns, measurement, target, if_name, link, field, "
                    "value, tagset_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def prune(self, now: float | None = None) -> int:
        """Delete points older than the retention; returns how many rows went."""
        cutoff = int(((now if now is not None else self._clock()) - self.options.retention_s) * 1e9)
        with self._lock:
            deleted = self._db.execute("DELETE FROM points WHERE ts_ns < ?", (cutoff,)).rowcount
        if deleted:
            log.info("local store: pruned %d points older than %.0f s", deleted,
                     self.options.retention_s)
        return deleted

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            try:
                await self.flush()
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + self.prune_interval_s
                    await asyncio.to_thread(self.prune)
            except sqlite3.Error as e:  # disk full, file removed: say so, keep the queue
                self._stats.write_errors += 1
                self._stats.last_error = f"local store {self.path}: {e}"
                self._stats.last_error_at = time.time()
                log.error("local store %s: %s; will retry", self.path, e)

    # -- reading -----------------------------------------------------------------

    def query(
        self,
        target: str | None = None,
        link: str | None = None,
        since_s: float = 3600,
        field: str | None = None,
        measurement: str = "interface",
        *,
        now: float | None = None,
    ) -> list[dict]:
        """Points of the last ``since_s`` seconds, oldest first (what is already inserted)."""
        with self._lock:
            return _select(self._db, target, link, since_s, field, measurement,
                           now if now is not None else self._clock())


def _select(
    db: sqlite3.Connection,
    target: str | None,
    link: str | None,
    since_s: float,
    field: str | None,
    measurement: str,
    now: float,
) -> list[dict]:
    sql = [
        "SELECT p.ts_ns, p.measurement, p.target, p.if_name, p.link, p.field, p.value, t.tags "
        "FROM points p JOIN tagsets t ON t.id = p.tagset_id "
        "WHERE p.measurement = ? AND p.ts_ns >= ?"
    ]
    args: list[object] = [measurement, int((now - since_s) * 1e9)]
    if target is not None:
        sql.append("AND p.target = ?")
        args.append(target)
    if field is not None:
        sql.append("AND p.field = ?")
        args.append(field)
    if link is not None:
        sql.append("AND (p.link = ? OR p.if_name = ?)")
        args += [link, link]
    sql.append("ORDER BY p.ts_ns, p.target, p.link, p.if_name, p.field")
    out = []
    for ts_ns, meas, tgt, if_name, lnk, fld, value, tags in db.execute(" ".join(sql), args):
        out.append({
            "ts": datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds"),
            "ts_ns": ts_ns,
            "measurement": meas,
            "target": tgt,
            "ifName": if_name,
            "link": lnk,
            "field": fld,
            "value": value,
            "tags": json.loads(tags),
        })
    return out


__all__ = ["LOCAL_FILE", "LocalStore", "LocalStoreOptions", "run_query"]
