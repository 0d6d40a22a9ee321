"""The dispatcher's persisted state: the delivery queue and the notification log.

Step: alert engine -> **dispatcher (delivery)** -> notifiers. Both live in
``state_dir/alerts.sqlite`` beside the engine's tables, in tables of their own
(``notify_queue``, ``notify_log``):

* ``notify_queue``: every notification not yet delivered, per receiver and
  group, with its attempts and when to try next. A row is deleted only once
  its receiver has taken it (or refused it for good, or a newer notification
  of its group replaced it), so a crash or a stop at any moment delivers it
  again later: at least once.
* ``notify_log``: per receiver and group, which alert episodes the last
  notification said were firing and resolved, and when it was queued -
  Alertmanager's notification log. It makes a restart send no second firing
  notification and keeps ``repeat_interval`` across restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.notifiers.base import Notification
from netmon.model import Alert

__all__ = ["DeliveryStore", "LogEntry", "QueuedNotification", "decode", "encode"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notify_queue_by_receiver ON notify_queue (receiver, id);
CREATE TABLE IF NOT EXISTS notify_log (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    sent_at REAL NOT NULL,
    PRIMARY KEY (receiver, group_key)
);
"""


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def encode(notification: Notification) -> str:
    return json.dumps({
        "id": notification.id,
        "receiver": notification.receiver,
        "group_key": notification.group_key,
        "group_labels": dict(notification.group_labels),
        "created": notification.created.isoformat(),
        "alerts": [{
            "fingerprint": a.fingerprint,
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "state": a.state,
            "starts_at": a.starts_at.isoformat(),
            "ends_at": _ts(a.ends_at),
            "value": a.value,
            "generator_url": a.generator_url,
        } for a in notification.alerts],
    }, ensure_ascii=False, sort_keys=True)


def decode(body: str) -> Notification:
    data: dict[str, Any] = json.loads(body)
    alerts = [
        Alert(fingerprint=a["fingerprint"], labels=a["labels"], annotations=a["annotations"],
              state=a["state"], starts_at=datetime.fromisoformat(a["starts_at"]),
              ends_at=_dt(a["ends_at"]), value=a["value"], generator_url=a["generator_url"])
        for a in data["alerts"]
    ]
    return Notification(receiver=data["receiver"], group_key=data["group_key"],
                        group_labels=data["group_labels"], alerts=alerts,
                        created=datetime.fromisoformat(data["created"]), id=data["id"])


@dataclass(frozen=True, slots=True)
class QueuedNotification:
    id: int
    receiver: str
    body: str
    created: float
    attempts: int
    next_try: float


@dataclass(frozen=True, slots=True)
class LogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at: float


class DeliveryStore:
    """Synchronous SQLite access; every call is one short statement (WAL mode)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The engine writes other tables of the same file: wait for its lock a little.
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(notify_queue)")}
        if "group_key" not in columns:  # a queue written before groups were kept apart
            self._db.execute("ALTER TABLE notify_queue ADD COLUMN group_key TEXT NOT NULL "
                             "DEFAULT ''")

    def close(self) -> None:
        self._db.close()

    # -- queue ---------------------------------------------------------------

    def enqueue(self, receiver: str, body: str, now: float, group_key: str = "",
                inflight: int | None = None) -> tuple[int, int]:
        """Queue ``body``; returns its id and how many older rows of its group it replaced.

        A group's notification carries the group's whole state, so an older
        one not yet delivered (and not being sent right now) is moot.
        """
        replaced = 0
        if group_key:
            replaced = self._db.execute(
                "DELETE FROM notify_queue WHERE receiver = ? AND group_key = ? AND id != ?",
                (receiver, group_key, -1 if inflight is None else inflight)).rowcount
        cur = self._db.execute(
            "INSERT INTO notify_queue (receiver, group_key, body, created, next_try) "
            "VALUES (?, ?, ?, ?, ?)", (receiver, group_key, body, now, now))
        return int(cur.lastrowid or 0), replaced

    def head(self, receiver: str, *, fifo: bool) -> QueuedNotification | None:
        """The next row to send: the oldest (``fifo``), else the soonest due, so that
        one group's notification in backoff does not hold back the other groups'."""
        order = "id" if fifo else "next_try, id"
        row = self._db.execute(
            "SELECT id, receiver, body, created, attempts, next_try FROM notify_queue "
            f"WHERE receiver = ? ORDER BY {order} LIMIT 1", (receiver,)).fetchone()
        return QueuedNotification(*row) if row else None

    def pending(self, receiver: str) -> list[QueuedNotification]:
        rows = self._db.execute(
            "SELECT id, receiver, body, created, attempts, next_try FROM notify_queue "
            "WHERE receiver = ? ORDER BY id", (receiver,)).fetchall()
        return [QueuedNotification(*row) for row in rows]

    def delete(self, ids: Iterable[int]) -> None:
        self._db.executemany("DELETE FROM notify_queue WHERE id = ?", [(i,) for i in ids])

    def postpone(self, queued_id: int, next_try: float, error: str) -> bool:
        """Try again at ``next_try``; False (and the row deleted) if a newer
        notification of its group was queued while it was being sent."""
        newer = self._db.execute(
            "SELECT 1 FROM notify_queue AS n JOIN notify_queue AS o "
            "ON n.receiver = o.receiver AND n.group_key = o.group_key AND n.id > o.id "
            "WHERE o.id = ? AND o.group_key != '' LIMIT 1", (queued_id,)).fetchone()
        if newer:
            self.delete([queued_id])
            return False
        self._db.execute(
            "UPDATE notify_queue SET attempts = attempts + 1, next_try = ?, last_error = ? "
            "WHERE id = ?", (next_try, error[:500], queued_id))
        return True

    def prune_queue(self, created_before: float, *, keep: Iterable[str]) -> int:
        """Drop rows queued before ``created_before`` (max_age) for receivers not in ``keep``."""
        kept = sorted(keep)
        marks = ",".join("?" * len(kept))
        return self._db.execute(
            f"DELETE FROM notify_queue WHERE created < ? AND receiver NOT IN ({marks})",
            (created_before, *kept)).rowcount

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute(
            "SELECT receiver, COUNT(*) FROM notify_queue GROUP BY receiver").fetchall())

    # -- notification log ----------------------------------------------------

    def log_entries(self) -> dict[tuple[str, str], LogEntry]:
        out = {}
        for receiver, key, firing, resolved, sent_at in self._db.execute(
                "SELECT receiver, group_key, firing, resolved, sent_at FROM notify_log"):
            out[(receiver, key)] = LogEntry(frozenset(json.loads(firing)),
                                            frozenset(json.loads(resolved)), sent_at)
        return out

    def write_log(self, receiver: str, key: str, entry: LogEntry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO notify_log (receiver, group_key, firing, resolved, sent_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (receiver, key, json.dumps(sorted(entry.firing)), json.dumps(sorted(entry.resolved)),
             entry.sent_at))

    def enqueue_and_log(self, receiver: str, body: str, now: float, key: str,
                        entry: LogEntry, inflight: int | None = None) -> tuple[int, int]:
        """Queue a group's notification and record it in the log, both or neither."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            queued = self.enqueue(receiver, body, now, key, inflight)
            self.write_log(receiver, key, entry)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return queued

    def prune_log(self, older_than: float) -> int:
        return self._db.execute("DELETE FROM notify_log WHERE sent_at < ?",
                                (older_than,)).rowcount
