"""The dispatcher: routes, groups, deduplicates and delivers alert notifications.

Step: rates -> alert engine -> **dispatcher** -> notifiers. After each
evaluation the engine calls ``Dispatcher.update(alerts, now)`` with every
active alert (firing, and resolved for 15 minutes after they resolved). The
dispatcher, as Alertmanager's dispatch/notify pipeline:

1. drops silenced and inhibited alerts (they are never sent);
2. routes each alert through the tree (``alerts.route``) to its receivers,
   plus the always-on log receiver, which groups as the root route does;
3. groups them per route by ``group_by``; a new group waits ``group_wait``,
   then is looked at every ``group_interval``;
4. deduplicates against the persisted notification log: a group is notified
   when it has a firing episode not yet notified, when all its alerts have
   resolved (one resolved notification), when a resolved episode is new (if
   the receiver has ``send_resolved``), or every ``repeat_interval`` while
   something still fires;
5. queues the notification in SQLite (``alerts.delivery``) and records it in
   the log in the same transaction; a group's newer notification replaces one
   not yet delivered (it carries the group's whole state). One task per
   receiver delivers its queue, soonest due first, retrying with exponential
   backoff (also after a restart): a slow or failing receiver delays only its
   own queue, and a group in backoff does not hold back the other groups.

The Alertmanager receiver bypasses steps 3-4 (Alertmanager groups and
repeats by itself): at each update it gets what Prometheus would send (see
``alerts.notifiers.alertmanager``); the tree still decides which alerts
reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from alerts.delivery import DeliveryStore, LogEntry, decode, encode
from alerts.notifiers import KINDS, Receiver, ReceiverBase
from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext
from alerts.notifiers.log import LogNotifier
from alerts.route import Route, RouteOptions, build_routes
from netmon.model import Alert
from netmon.plugins import register_section
from netmon.units import Duration

__all__ = ["LOG_RECEIVER", "Dispatcher", "NotificationsOptions", "RouteOptions"]

log = logging.getLogger(__name__)

LOG_RECEIVER = "log"
DB_NAME = "alerts.sqlite"
CLOSE_BUDGET_S = 3.0
"""``aclose`` delivers what it can this long; the rest stays queued (daemon stop: 10 s)."""
STORE_RETRY_S = 1.0
"""After a failed SQLite statement (locked, disk full), try again this much later."""
RETRY_AFTER_MAX_S = 3600.0
"""A receiver's Retry-After (HTTP 429) is honoured up to this long."""
PRUNE_EVERY_S = 3600.0
YIELD_EVERY_ALERTS = 1000
YIELD_EVERY_GROUPS = 50
"""The dispatch step lets the event loop run after this many alerts / groups."""
LOG_RETENTION_S = 5 * 86400.0
"""Notification-log entries not refreshed this long are forgotten (Alertmanager: 5 days)."""


class NotificationsOptions(BaseModel):
    """``notifications:`` in netmon.yaml: the routing tree, the receivers, the retry policy."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # receivers first: the route's validator checks the names against them.
    receivers: tuple[Receiver, ...] = ()  # type: ignore[valid-type]
    route: RouteOptions = Field(default_factory=RouteOptions)
    retry_backoff_s: Duration = Field(10.0, alias="retry_backoff")
    """First wait after a failed delivery; doubles per attempt (with jitter)."""
    retry_backoff_max_s: Duration = Field(300.0, alias="retry_backoff_max")
    max_age_s: Duration = Field(86400.0, alias="max_age")
    """An undelivered notification older than this is dropped (logged and counted)."""

    @field_validator("receivers")
    @classmethod
    def _unique_names(cls, receivers: tuple[ReceiverBase, ...]) -> tuple[ReceiverBase, ...]:
        names = [r.name for r in receivers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"receiver {', '.join(dup)} is defined twice")
        return receivers

    @field_validator("route")
    @classmethod
    def _known_receivers(cls, route: RouteOptions, info: ValidationInfo) -> RouteOptions:
        if route.matchers or route.continue_:
            raise ValueError("the root route matches every alert; matchers and continue "
                             "belong to its routes")
        if "receivers" not in info.data:
            return route  # the receivers have errors of their own
        names = [r.name for r in info.data["receivers"]]

        def check(node: RouteOptions, where: str) -> None:
            if node.receiver is not None and node.receiver not in names:
                known = ", ".join(names) or "none defined"
                raise ValueError(f"{where}receiver: unknown receiver {node.receiver!r} "
                                 f"(receivers: {known})")
            for i, child in enumerate(node.routes):
                check(child, f"{where}routes[{i}].")

        check(route, "")
        return route


register_section("notifications", NotificationsOptions)


@dataclass(eq=False)
class _Receiver:
    name: str
    kind: str
    notifier: Any
    timeout_s: float
    send_resolved: bool = True
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    inflight: int | None = None
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    queued: int = 0
    last_error: str = ""

    bypasses_grouping: bool = False
    """Alertmanager: gets ``select``ed batches at each update instead of groups."""

    def __post_init__(self) -> None:
        self.bypasses_grouping = bool(getattr(self.notifier, "bypasses_grouping", False))


@dataclass(eq=False)
class _Group:
    receiver: str
    key: str
    route: Route
    labels: dict[str, str]
    alerts: dict[str, Alert]
    next_flush: float


@dataclass(frozen=True, slots=True)
class _Destination:
    receiver: str
    gid: tuple[str, str] | None
    """(receiver, group key); None for a receiver that bypasses grouping."""
    route: Route
    group_labels: dict[str, str]


def _group_key(route: Route, labels: dict[str, str]) -> str:
    inner = ",".join(f"{k}={v!r}" for k, v in sorted(labels.items()))
    return f"{route.key}:{{{inner}}}"


class Dispatcher:
    """Routing, grouping, repeat and at-least-once delivery (see the module docstring)."""

    def __init__(self, options: NotificationsOptions, state_dir: Path, *,
                 language: str = "en", eval_interval_s: float = 60.0) -> None:
        self.options = options
        self.state_dir = Path(state_dir)
        self.language = language
        self.eval_interval_s = eval_interval_s
        self.root = build_routes(options.route)
        self._receivers: dict[str, _Receiver] = {}
        log_ctx = ReceiverContext(LOG_RECEIVER, language, eval_interval_s)
        self._receivers[LOG_RECEIVER] = _Receiver(LOG_RECEIVER, LOG_RECEIVER,
                                                  LogNotifier(log_ctx), 5.0)
        for rx in options.receivers:
            _, factory = KINDS[rx.kind]
            opts = rx.kind_options
            ctx = ReceiverContext(rx.name, language, eval_interval_s)
            self._receivers[rx.name] = _Receiver(
                rx.name, rx.kind, factory(opts, ctx),
                float(getattr(opts, "timeout_s", 30.0)), rx.send_resolved)
        self._store: DeliveryStore | None = None
        self._log: dict[tuple[str, str], LogEntry] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._pending: tuple[list[Alert], datetime] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_prune = 0.0
        self._routed: dict[str, tuple[Mapping[str, str], tuple[_Destination, ...]]] = {}
        self._episodes: dict[str, tuple[datetime, str]] = {}

    # -- the API -------------------------------------------------------------

    async def start(self) -> None:
        """Open the persisted queue, resume undelivered notifications, start the tasks."""
        self._store = DeliveryStore(self.state_dir / DB_NAME)
        self._prune(time.time())
        self._log = self._store.log_entries()
        counts = self._store.counts()
        for name, n in sorted(counts.items()):
            if name in self._receivers:
                self._receivers[name].queued = n
                log.info("notifications: %d undelivered for receiver %s, resuming", n, name)
            else:
                log.warning("notifications: %d undelivered for receiver %s, which is no "
                            "longer configured; kept for max_age in case it comes back",
                            n, name)
        loop = asyncio.get_running_loop()
        for rx in self._receivers.values():
            rx.wake = asyncio.Event()
            rx.task = loop.create_task(self._deliver(rx), name=f"notify-{rx.name}")
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="notify-dispatch")
        if self._pending is not None:
            self._wake.set()

    def update(self, alerts: Sequence[Alert], now: datetime) -> None:
        """Hand over every active alert (non-blocking: the dispatch task does the work).

        Call it from the event loop's thread. Only the latest call counts: if
        two come before the dispatch task runs, the first is superseded.
        """
        self._pending = (list(alerts), now)
        self._wake.set()

    async def aclose(self) -> None:
        """Deliver what is due within ``CLOSE_BUDGET_S``; the rest stays persisted."""
        if self._closing:
            return
        self._closing = True
        if self._task is not None:
            # It applies the last update first, so what that queues is persisted.
            self._wake.set()
            await self._task
        tasks = [rx.task for rx in self._receivers.values() if rx.task is not None]
        for rx in self._receivers.values():
            rx.wake.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=CLOSE_BUDGET_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for rx in self._receivers.values():
            closer = getattr(rx.notifier, "aclose", None)
            if closer is not None:
                await closer()
        if self._store is not None:
            self._store.close()
            self._store = None

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        """``(name, labels, value)`` per receiver for /metrics."""
        out: list[tuple[str, dict[str, str], float]] = []
        for rx in self._receivers.values():
            labels = {"receiver": rx.name, "kind": rx.kind}
            out += [
                ("netmon_notifications_sent_total", labels, float(rx.sent)),
                ("netmon_notifications_failed_total", labels, float(rx.failed)),
                ("netmon_notifications_dropped_total", labels, float(rx.dropped)),
                ("netmon_notifications_queued", labels, float(rx.queued)),
            ]
        return out

    # -- dispatching ---------------------------------------------------------

    def _prune(self, t: float) -> None:
        """Forget log entries of groups long gone, and rows past max_age queued for
        receivers no longer configured (each receiver's task drops its own)."""
        assert self._store is not None
        self._last_prune = t
        keep_s = max(LOG_RETENTION_S, 2 * max(r.repeat_interval_s for r in self.root.walk()))
        self._store.prune_log(t - keep_s)
        self._log = {k: e for k, e in self._log.items() if e.sent_at >= t - keep_s}
        dropped = self._store.prune_queue(t - self.options.max_age_s, keep=self._receivers)
        if dropped:
            log.error("notifications: %d undelivered for receivers no longer configured "
                      "dropped after max_age", dropped)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            t = time.time()
            try:
                await self._step(t)
                if t - self._last_prune > PRUNE_EVERY_S:
                    self._prune(t)
            except Exception:
                # A bug here must not end every notification: log it, go on.
                log.exception("notifications: dispatching failed; trying again")
                await asyncio.sleep(STORE_RETRY_S)
            if self._closing:
                return
            await self._sleep()

    async def _sleep(self) -> None:
        due = min((g.next_flush for g in self._groups.values()), default=None)
        timeout = None if due is None else max(0.0, due - time.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _step(self, t: float) -> None:
        """Apply the latest update, then look at every group that is due.

        It yields to the event loop every few hundred alerts and groups, so
        that thousands of alerts at once never hold up polling.
        """
        if self._pending is not None:
            alerts, now = self._pending
            self._pending = None
            try:
                await self._regroup(alerts, now, t)
            except sqlite3.Error as exc:
                # Grouping is in memory and done; a batch for Alertmanager was not
                # queued, and the next resend carries its alerts again.
                log.error("notifications: cannot queue (%s): %s", self.state_dir / DB_NAME, exc)
        looked = 0
        for group in list(self._groups.values()):
            if group.next_flush <= t:
                looked += 1
                if looked % YIELD_EVERY_GROUPS == 0:
                    await asyncio.sleep(0)
                try:
                    if self._flush(group, t):
                        await asyncio.sleep(0)  # a notification was encoded and queued
                except sqlite3.Error as exc:
                    log.error("notifications: cannot queue for %s (%s), retrying in %g s: %s",
                              group.receiver, self.state_dir / DB_NAME, STORE_RETRY_S, exc)
                    group.next_flush = t + STORE_RETRY_S
                    continue
                group.next_flush = t + group.route.group_interval_s

    def _destinations(self, labels: Mapping[str, str]) -> tuple[_Destination, ...]:
        """Where alerts with these labels go: receiver, group id and labels, route."""
        matched = [(r.receiver, r) for r in self.root.match(labels) if r.receiver is not None]
        matched.append((LOG_RECEIVER, self.root))
        out = []
        for receiver, route in matched:
            if self._receivers[receiver].bypasses_grouping:
                out.append(_Destination(receiver, None, route, {}))
                continue
            group_labels = route.group_labels(labels)
            out.append(_Destination(receiver, (receiver, _group_key(route, group_labels)),
                                    route, group_labels))
        return tuple(out)

    async def _regroup(self, alerts: Sequence[Alert], now: datetime, t: float) -> None:
        wanted: dict[tuple[str, str], tuple[Route, dict[str, str], dict[str, Alert]]] = {}
        direct: dict[str, dict[str, Alert]] = {}
        # An alert's labels are fixed by its fingerprint: route each one once, not
        # at every evaluation (the cache keeps only the alerts of this update).
        known, cache = self._routed, {}
        for n, alert in enumerate(alerts):
            if n % YIELD_EVERY_ALERTS == YIELD_EVERY_ALERTS - 1:
                await asyncio.sleep(0)
            if alert.silenced or alert.inhibited:
                continue
            hit = known.get(alert.fingerprint)
            if hit is None or (hit[0] is not alert.labels and hit[0] != alert.labels):
                hit = (alert.labels, self._destinations(alert.labels))
            cache[alert.fingerprint] = hit
            for dest in hit[1]:
                if dest.gid is None:
                    direct.setdefault(dest.receiver, {})[alert.fingerprint] = alert
                    continue
                entry = wanted.get(dest.gid)
                if entry is None:
                    entry = wanted[dest.gid] = (dest.route, dest.group_labels, {})
                entry[2][alert.fingerprint] = alert
        self._routed = cache
        if len(self._episodes) > 2 * len(cache) + 1000:
            self._episodes = {fp: e for fp, e in self._episodes.items() if fp in cache}
        for gid in self._groups.keys() - wanted.keys():
            del self._groups[gid]
        for gid, (route, labels, members) in wanted.items():
            group = self._groups.get(gid)
            if group is None:
                # As Alertmanager: a new group whose alerts started more than
                # group_wait ago (a restart, a new route) is looked at at once.
                oldest = min(a.starts_at for a in members.values())
                waited = (now - oldest).total_seconds() >= route.group_wait_s
                self._groups[gid] = _Group(gid[0], gid[1], route, labels, members,
                                           t if waited else t + route.group_wait_s)
            else:
                group.alerts = members
        for rx in self._receivers.values():
            if rx.bypasses_grouping:
                batch = rx.notifier.select(list(direct.get(rx.name, {}).values()), now)
                if batch:
                    self._enqueue_direct(rx, batch, now)

    def _flush(self, group: _Group, t: float) -> bool:
        """Queue the group's notification if it needs one; True if it did."""
        rx = self._receivers[group.receiver]
        firing = [a for a in group.alerts.values() if a.state == "firing"]
        resolved = [a for a in group.alerts.values() if a.state != "firing"]
        now_firing = frozenset(self._episode(a) for a in firing)
        now_resolved = frozenset(self._episode(a) for a in resolved)
        gid = (group.receiver, group.key)
        entry = self._log.get(gid)
        if not self._needs_update(entry, now_firing, now_resolved, rx.send_resolved,
                                  group.route.repeat_interval_s, t):
            return False
        new_entry = LogEntry(now_firing, now_resolved, t)
        send = firing + (resolved if rx.send_resolved else [])
        if not send:
            assert self._store is not None
            self._store.write_log(group.receiver, group.key, new_entry)
        else:
            send.sort(key=lambda a: (a.state != "firing", a.starts_at, a.fingerprint))
            note = Notification(group.receiver, group.key, group.labels, send,
                                datetime.fromtimestamp(t, UTC), uuid.uuid4().hex)
            self._queue(rx, note, t, log_key=group.key, entry=new_entry)
        # Only once persisted: a failed write is tried again at the next look.
        self._log[gid] = new_entry
        return bool(send)

    def _episode(self, alert: Alert) -> str:
        """An episode: one alert from the time it started firing until it resolved."""
        known = self._episodes.get(alert.fingerprint)
        if known is not None and known[0] == alert.starts_at:
            return known[1]
        episode = f"{alert.fingerprint}@{alert.starts_at.astimezone(UTC).isoformat()}"
        self._episodes[alert.fingerprint] = (alert.starts_at, episode)
        return episode

    @staticmethod
    def _needs_update(entry: LogEntry | None, firing: frozenset[str],
                      resolved: frozenset[str], send_resolved: bool,
                      repeat_s: float, t: float) -> bool:
        """Alertmanager's DedupStage.needsUpdate, over episodes."""
        if entry is None:
            return bool(firing)
        if not firing <= entry.firing:
            return True
        if entry.firing and not firing:
            return True  # everything resolved (or went away): one resolved notification
        if send_resolved and not resolved <= entry.resolved:
            return True
        return bool(firing) and entry.sent_at + repeat_s <= t

    def _enqueue_direct(self, rx: _Receiver, batch: list[Alert], now: datetime) -> None:
        note = Notification(rx.name, "", {}, batch, now.astimezone(UTC), uuid.uuid4().hex)
        assert self._store is not None
        # A newer batch covering the same alerts makes older undelivered ones moot:
        # Alertmanager only needs the latest state (this bounds the queue while it is down).
        fps = {a.fingerprint for a in batch}
        stale = [q.id for q in self._store.pending(rx.name)
                 if q.id != rx.inflight and {a.fingerprint for a in decode(q.body).alerts} <= fps]
        if stale:
            self._store.delete(stale)
            rx.queued -= len(stale)
        self._queue(rx, note, time.time())

    def _queue(self, rx: _Receiver, note: Notification, t: float, *,
               log_key: str | None = None, entry: LogEntry | None = None) -> None:
        assert self._store is not None
        body = encode(note)
        if log_key is not None and entry is not None:
            _, replaced = self._store.enqueue_and_log(rx.name, body, t, log_key, entry,
                                                      rx.inflight)
        else:
            _, replaced = self._store.enqueue(rx.name, body, t)
        rx.queued += 1 - replaced
        rx.wake.set()

    # -- delivery ------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        base = self.options.retry_backoff_s * 2 ** min(attempts, 20)
        return min(self.options.retry_backoff_max_s, base) * random.uniform(0.9, 1.1)

    async def _deliver(self, rx: _Receiver) -> None:
        """One receiver's queue, oldest first; only this task waits on this receiver."""
        while True:
            try:
                done = await self._deliver_next(rx)
            except sqlite3.Error as exc:
                log.error("notifications: queue of %s unreadable (%s), retrying in %g s: %s",
                          rx.name, self.state_dir / DB_NAME, STORE_RETRY_S, exc)
                if self._closing:
                    return
                await asyncio.sleep(STORE_RETRY_S)
                continue
            if done:
                return

    async def _deliver_next(self, rx: _Receiver) -> bool:
        """Deliver or wait for the head of the queue; True when the task should end."""
        while True:
            store = self._store
            if store is None:
                return True
            head = store.head(rx.name, fifo=rx.bypasses_grouping)
            if head is None:
                if self._closing:
                    return True
                rx.wake.clear()
                await rx.wake.wait()
                continue
            now = time.time()
            if now - head.created > self.options.max_age_s:
                store.delete([head.id])
                rx.queued -= 1
                rx.dropped += 1
                log.error("notification to %s dropped after %d attempts: undelivered for "
                          "longer than max_age (last error: %s)", rx.name, head.attempts,
                          rx.last_error or "none")
                continue
            if head.next_try > now:
                if self._closing:
                    return True
                rx.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rx.wake.wait(), head.next_try - now)
                continue
            await self._attempt(rx, store, head.id, head.body, head.attempts)

    async def _attempt(self, rx: _Receiver, store: DeliveryStore, queued_id: int,
                       body: str, attempts: int) -> None:
        note = decode(body)
        sender = getattr(rx.notifier, "send", None)
        rx.inflight = queued_id
        try:
            if sender is not None:
                await asyncio.wait_for(sender(note), rx.timeout_s * 2 + 1)
            else:
                await asyncio.wait_for(rx.notifier.notify(note.alerts), rx.timeout_s * 2 + 1)
        except DeliveryError as exc:
            self._failed(rx, store, queued_id, attempts, str(exc), exc.retryable,
                         exc.retry_after_s)
            return
        except TimeoutError:
            self._failed(rx, store, queued_id, attempts,
                         f"no answer within {rx.timeout_s * 2 + 1:g} s", True, None)
            return
        except Exception as exc:
            # A bug in a receiver must not stop its queue: record it, retry later.
            log.exception("receiver %s failed unexpectedly", rx.name)
            self._failed(rx, store, queued_id, attempts, f"{exc.__class__.__name__}: {exc}",
                         True, None)
            return
        finally:
            rx.inflight = None
        store.delete([queued_id])
        rx.queued -= 1
        rx.sent += 1
        rx.last_error = ""
        if attempts:
            log.info("notification to %s delivered after %d failed attempt(s)",
                     rx.name, attempts)

    def _failed(self, rx: _Receiver, store: DeliveryStore, queued_id: int, attempts: int,
                error: str, retryable: bool, retry_after_s: float | None) -> None:
        rx.failed += 1
        rx.last_error = error
        if not retryable:
            store.delete([queued_id])
            rx.queued -= 1
            rx.dropped += 1
            log.error("notification to %s refused, not retried: %s", rx.name, error)
            return
        wait = self._backoff(attempts)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, RETRY_AFTER_MAX_S))
        if not store.postpone(queued_id, time.time() + wait, error):
            rx.queued -= 1
            log.warning("notification to %s failed (attempt %d), not retried: a newer one "
                        "of its group replaces it: %s", rx.name, attempts + 1, error)
            return
        log.warning("notification to %s failed (attempt %d), retrying in %.1f s: %s",
                    rx.name, attempts + 1, wait, error)
