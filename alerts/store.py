"""Alert state and silences in SQLite (state_dir/alerts.sqlite), so a restart neither
re-fires nor loses a resolve.

Step: alert engine. The engine writes a row when an alert changes state
(pending, firing, resolved, gone), never once a cycle per link. The
dispatcher keeps its delivery queue in the same file, in its own tables. WAL
and a busy timeout let the daemon, the dispatcher and ``netmon silence``
(when the daemon is not running) share it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.silences import Silence, parse_matcher

__all__ = ["ALERTS_FILE", "AlertStore", "StoredAlert"]

ALERTS_FILE = "alerts.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    state TEXT NOT NULL,
    active_at REAL NOT NULL,
    starts_at REAL,
    ends_at REAL,
    value REAL,
    for_s REAL NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (rule, key)
);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    comment TEXT NOT NULL,
    created_by TEXT NOT NULL
);
"""


@dataclass(slots=True)
class StoredAlert:
    rule: str
    key: tuple[str, ...]
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    active_at: datetime
    starts_at: datetime | None
    ends_at: datetime | None
    value: float | None
    for_s: float
    last_seen: datetime


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class AlertStore:
    """One connection, used by one thread at a time (the engine holds a lock around it)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            if not path.exists():
                raise FileNotFoundError(f"no alert state at {path} (has netmon run?)")
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                       check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA busy_timeout=5000")

    @classmethod
    def in_state_dir(cls, state_dir: Path, *, readonly: bool = False) -> AlertStore:
        return cls(state_dir / ALERTS_FILE, readonly=readonly)

    def close(self) -> None:
        self._db.close()

    # -- alerts ---------------------------------------------------------------------------

    def load(self) -> list[StoredAlert]:
        rows = self._db.execute(
            "SELECT rule, key, fingerprint, labels, annotations, state, active_at, starts_at, "
            "ends_at, value, for_s, last_seen FROM alert_state").fetchall()
        out = []
        for r in rows:
            out.append(StoredAlert(
                r[0], tuple(json.loads(r[1])), r[2], json.loads(r[3]), json.loads(r[4]), r[5],
                _dt(r[6]), _dt(r[7]), _dt(r[8]), r[9], r[10], _dt(r[11]),  # type: ignore[arg-type]
            ))
        return out

    def save(self, changed: Iterable[StoredAlert], removed: Iterable[tuple[str, tuple[str, ...]]]
             ) -> None:
        """Upsert ``changed`` and delete ``removed`` (rule, key) in one transaction."""
        up = [(a.rule, json.dumps(a.key), a.fingerprint, json.dumps(a.labels, sort_keys=True),
               json.dumps(a.annotations, ensure_ascii=False), a.state, _ts(a.active_at),
               _ts(a.starts_at), _ts(a.ends_at), a.value, a.for_s, _ts(a.last_seen))
              for a in changed]
        gone = [(rule, json.dumps(key)) for rule, key in removed]
        if not up and not gone:
            return
        with self._transaction():
            if gone:
                self._db.executemany("DELETE FROM alert_state WHERE rule = ? AND key = ?", gone)
            if up:
                self._db.executemany(
                    "INSERT OR REPLACE INTO alert_state VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", up)

    # -- silences -------------------------------------------------------------------------

    def silences(self) -> list[Silence]:
        rows = self._db.execute(
            "SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences "
            "ORDER BY starts_at").fetchall()
        return [Silence(r[0], tuple(parse_matcher(m) for m in json.loads(r[1])),
                        _dt(r[2]), _dt(r[3]), r[4], r[5])  # type: ignore[arg-type]
                for r in rows]

    def add_silence(self, silence: Silence) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO silences VALUES (?,?,?,?,?,?)",
                (silence.id, json.dumps([str(m) for m in silence.matchers]),
                 _ts(silence.starts_at), _ts(silence.ends_at), silence.comment,
                 silence.created_by))

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        """End the silence now (kept for the record). False if there is none with that id."""
        with self._transaction():
            cur = self._db.execute(
                "UPDATE silences SET ends_at = MIN(ends_at, ?), "
                "starts_at = MIN(starts_at, ?) WHERE id = ?",
                (now.timestamp(), now.timestamp(), silence_id))
        return cur.rowcount > 0

    def prune_silences(self, before: datetime) -> int:
        """Forget silences that ended before ``before``."""
        with self._transaction():
            cur = self._db.execute("DELETE FROM silences WHERE ends_at < ?",
                                   (before.timestamp(),))
        return cur.rowcount

    def _transaction(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
