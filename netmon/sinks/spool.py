"""Durable on-disk spool (step: rates -> storage, what the InfluxDB sink could not send yet).

One SQLite file, ``<state_dir>/spool.sqlite``, in WAL mode. One row per batch
of line-protocol lines; the payload is the batch joined by newlines and
gzip-compressed, which is exactly the request body the InfluxDB write API
takes with ``Content-Encoding: gzip``, so a replay sends the stored blob as is.
Rows are read back oldest first (``id`` is an AUTOINCREMENT key, never reused),
so a replay keeps the original order and the original timestamps.

Durability: ``synchronous=NORMAL``. In WAL mode a committed transaction is in
the WAL file as soon as ``commit`` returns, so it survives ``kill -9`` of
netmon; only a power cut or kernel crash can lose the last commits (never
corrupt the file). Batches still in the sink's memory queue would be lost in
that case anyway, and FULL would add an fsync per batch during an outage for
little gain.

Bounds: ``max_bytes`` (sum of stored payload sizes) and ``max_age_s`` (age of
a batch since it was spooled). Past either bound the OLDEST batches are
dropped, with a WARNING that gives the number of points and when they had
been spooled, and counted in ``dropped_points``. The file itself does not
shrink when rows are deleted; SQLite reuses the free pages.

The methods block on disk I/O: the sink calls them through
``asyncio.to_thread``. A lock makes one ``Spool`` safe to share between threads.
"""

from __future__ import annotations

import gzip
import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from netmon.units import ByteSize, Duration

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.sqlite"
_COMPRESS_LEVEL = 1  # fast; line protocol still shrinks ~10x


class SpoolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: ByteSize = Field(1024**3, alias="max_size")
    max_age_s: Duration = Field(7 * 86400.0, alias="max_age")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    n_points INTEGER NOT NULL,
    n_bytes INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


def encode_body(lines: list[str]) -> bytes:
    """Lines -> gzip-compressed request body (newline-separated, trailing newline)."""
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=_COMPRESS_LEVEL)


def decode_body(body: bytes) -> list[str]:
    return gzip.decompress(body).decode().splitlines()


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


class Spool:
    """Batches of line-protocol lines kept on disk until they are acknowledged."""

    def __init__(
        self,
        path: Path,
        options: SpoolOptions | None = None,
        *,
        clock=time.time,
    ) -> None:
        self.path = Path(path)
        self.options = options or SpoolOptions()
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_points), 0), COALESCE(SUM(n_bytes), 0) FROM batches"
        ).fetchone()
        self._depth_batches: int = row[0]
        self._depth_points: int = row[1]
        self._depth_bytes: int = row[2]
        self.dropped_points = 0
        self.dropped_batches = 0
        self._oldest_at: float | None = None
        self._refresh_oldest_locked()

    @classmethod
    def in_state_dir(cls, state_dir: Path, options: SpoolOptions | None = None) -> Spool:
        return cls(Path(state_dir) / SPOOL_FILE, options)

    # -- state ---------------------------------------------------------------

    @property
    def depth_points(self) -> int:
        return self._depth_points

    @property
    def depth_bytes(self) -> int:
        """Sum of the stored (compressed) payload sizes."""
        return self._depth_bytes

    @property
    def depth_batches(self) -> int:
        return self._depth_batches

    @property
    def oldest_age_s(self) -> float:
        """Seconds since the oldest batch still spooled was spooled; 0.0 when empty."""
        oldest = self._oldest_at  # kept up to date by the writing methods: no I/O here
        return 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def _refresh_oldest_locked(self) -> None:
        row = self._db.execute("SELECT created_at FROM batches ORDER BY id LIMIT 1").fetchone()
        self._oldest_at = row[0] if row else None

    def __len__(self) -> int:
        return self._depth_batches

    # -- writing -------------------------------------------------------------

    def append(self, lines: list[str]) -> None:
        """Store one batch (committed when this returns), then enforce the bounds."""
        if lines:
            self.append_body(encode_body(lines), len(lines))

    def append_body(self, body: bytes, n_points: int) -> None:
        """Store an already encoded batch (see ``encode_body``)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO batches (created_at, n_points, n_bytes, payload) VALUES (?, ?, ?, ?)",
                (self._clock(), n_points, len(body), body),
            )
            self._depth_batches += 1
            self._depth_points += n_points
            self._depth_bytes += len(body)
            self._enforce_bounds_locked()
            self._refresh_oldest_locked()

    def append_front_body(self, body: bytes, n_points: int) -> None:
        """Store a batch BEFORE every spooled one (a batch that was older than the backlog).

        ``id`` is only an ordering key: SQLite accepts an explicit id below the
        current minimum (zero and negative ids included), and AUTOINCREMENT
        still never reuses an id for later appends.
        """
        with self._lock:
            row = self._db.execute("SELECT MIN(id) FROM batches").fetchone()
            front = (row[0] - 1) if row and row[0] is not None else None
            self._db.execute(
                "INSERT INTO batches (id, created_at, n_points, n_bytes, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (front, self._clock(), n_points, len(body), body),
            )
            self._depth_batches += 1
            self._depth_points += n_points
            self._depth_bytes += len(body)
            self._enforce_bounds_locked()
            self._refresh_oldest_locked()

    def enforce_bounds(self) -> None:
        with self._lock:
            self._enforce_bounds_locked()
            self._refresh_oldest_locked()

    def _enforce_bounds_locked(self) -> None:
        too_old = self._clock() - self.options.max_age_s
        excess = self._depth_bytes - self.options.max_bytes
        first = self._db.execute(
            "SELECT created_at FROM batches ORDER BY id LIMIT 1"
        ).fetchone()
        if excess <= 0 and (first is None or first[0] >= too_old):
            return
        # Walk from the oldest batch; drop while over a bound. Keep the newest batch
        # unless it is itself too old, so a single huge batch is not lost for size alone.
        dropped_ids: list[int] = []
        points = 0
        nbytes = 0
        t_first = t_last = None
        cursor = self._db.execute(
            "SELECT id, created_at, n_points, n_bytes FROM batches ORDER BY id"
        )
        remaining = self._depth_batches
        for batch_id, created_at, n_points, n_bytes in cursor:
            over_size = excess - nbytes > 0 and remaining > 1
            if not (over_size or created_at < too_old):
                break
            dropped_ids.append(batch_id)
            points += n_points
            nbytes += n_bytes
            remaining -= 1
            t_first = created_at if t_first is None else t_first
            t_last = created_at
        if not dropped_ids:
            return
        self._db.execute("DELETE FROM batches WHERE id <= ?", (dropped_ids[-1],))
        self._depth_batches -= len(dropped_ids)
        self._depth_points -= points
        self._depth_bytes -= nbytes
        self.dropped_points += points
        self.dropped_batches += len(dropped_ids)
        log.warning(
            "spool %s over its bounds (max_bytes=%d, max_age_s=%.0f): dropped the %d oldest "
            "batches, %d points, spooled between %s and %s",
            self.path, self.options.max_bytes, self.options.max_age_s, len(dropped_ids),
            points, _iso(t_first), _iso(t_last),  # type: ignore[arg-type]
        )

    # -- reading -------------------------------------------------------------

    def peek_oldest_body(self) -> tuple[int, int, bytes] | None:
        """``(id, n_points, gzip body)`` of the oldest batch, or None when empty."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, n_points, payload FROM batches ORDER BY id LIMIT 1"
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def peek_oldest(self) -> tuple[int, list[str]] | None:
        """``(id, lines)`` of the oldest batch, or None when empty."""
        row = self.peek_oldest_body()
        return (row[0], decode_body(row[2])) if row else None

    def ack(self, batch_id: int) -> None:
        """Forget a batch once it has been delivered (or deliberately discarded)."""
        with self._lock:
            row = self._db.execute(
                "DELETE FROM batches WHERE id = ? RETURNING n_points, n_bytes", (batch_id,)
            ).fetchone()
            if row:
                self._depth_batches -= 1
                self._depth_points -= row[0]
                self._depth_bytes -= row[1]
                self._refresh_oldest_locked()

    def close(self) -> None:
        with self._lock:
            self._db.close()
