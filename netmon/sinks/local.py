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

A value SQLite cannot hold (an int beyond 64 bits, a type that is not a
number, string or bool) is left out in ``write``, counted in
``points_dropped`` and logged once per target and field: one bad value must
not block the queue of every device (the SNMP seam refuses such values
first). The background task never dies: a failed insert keeps the rows
queued, is counted in ``write_errors``, logged, and shown in
``stats.failing`` (``/healthz`` answers 503 with it) until an insert works.
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

TagKey = tuple[tuple[str, str], ...]
# The last item is the tag set, resolved to its ``tagsets`` id when inserted.
Row = tuple[int, str, str, str | None, str | None, str, object, TagKey]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_WARNED_MAX = 10_000


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
        self._warned: set[tuple[str, str]] = set()

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
            tagset = tuple(tags.items())
            if_name = tags.get("ifName") or None
            link = tags.get("link") or None
            for field, value in s.fields.items():
                if isinstance(value, bool):
                    value = int(value)
                elif isinstance(value, float):
                    if value != value:  # NaN: no value to store
                        continue
                elif isinstance(value, int):
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        self._unstorable(s.target, field, value)
                        continue
                elif not isinstance(value, str):
                    self._unstorable(s.target, field, value)
                    continue
                rows.append((ts, s.measurement, s.target, if_name, link, field, value, tagset))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="netmon-local-store"
            )
        if len(rows) >= self.max_queue_rows:
            await self.flush()

    def _unstorable(self, target: str, field: str, value: object) -> None:
        self._stats.points_dropped += 1
        key = (target, field)
        if key in self._warned or len(self._warned) >= _WARNED_MAX:
            return
        self._warned.add(key)
        what = (f"an integer of {value.bit_length()} bits" if isinstance(value, int)
                else f"a {type(value).__name__}")
        log.warning("local store: %s field %s is %s, which SQLite cannot store; left out",
                    target, field, what)

    async def flush(self) -> None:
        """Insert everything queued so far (in a worker thread)."""
        rows, self._queue = self._queue, []
        if not rows:
            return
        try:
            await asyncio.to_thread(self._insert, rows)
        except BaseException:
            self._queue[:0] = rows  # kept for the next attempt
            raise
        self._stats.points_written += len(rows)
        self._stats.last_success_at = time.time()
        if self._stats.failing is not None:
            log.info("local store %s: storing again (%d points were kept meanwhile)",
                     self.path, len(rows))
            self._stats.failing = None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        try:
            await self.flush()
        except Exception as e:  # the daemon still stops cleanly; say what is lost
            log.error("local store %s: %d points could not be stored at shutdown: %s",
                      self.path, len(self._queue), e)
        with self._lock:
            self._db.close()
        self._closed = True

    # -- storage -----------------------------------------------------------------

    def _tagset_id(self, key: TagKey) -> int:
        """The ``tagsets`` id of a tag set (called under the lock, in the worker thread:
        the SQL happens with the insert, so a failing disk fails there, not in ``write``)."""
        try:
            return self._tagset_ids[key]
        except KeyError:
            pass
        text = json.dumps(dict(sorted(key)), separators=(",", ":"), ensure_ascii=False)
        self._db.execute("INSERT OR IGNORE INTO tagsets (tags) VALUES (?)", (text,))
        row = self._db.execute("SELECT id FROM tagsets WHERE tags = ?", (text,)).fetchone()
        self._tagset_ids[key] = row[0]
        return row[0]

    def _with_tagset_ids(self, rows: list[Row]) -> list[tuple[object, ...]]:
        out = []
        last_key: TagKey | None = None
        last_id = 0
        for row in rows:
            key = row[7]
            if key is not last_key:  # the rows of one sample share its key object
                last_id = self._tagset_id(key)
                last_key = key
            out.append((*row[:7], last_id))
        return out

    def _insert(self, rows: list[Row]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO points (ts_ns, measurement, target, if_name, link, field, "
                    "value, tagset_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    self._with_tagset_ids(rows),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                self._tagset_ids.clear()  # ids inserted in this transaction are gone
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
            except Exception as e:  # disk full, file removed, a bug: say so, keep the queue
                # Never let the task die: a dead task stores nothing for any
                # device and says nothing.
                text = f"local store {self.path}: {type(e).__name__}: {e}"
                self._stats.write_errors += 1
                self._stats.last_error = text
                self._stats.last_error_at = time.time()
                self._stats.failing = text
                log.error("%s; %d points kept, will retry", text, len(self._queue),
                          exc_info=not isinstance(e, sqlite3.Error))

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
