"""The alert engine inside the daemon: gathers samples, evaluates off the poll path.

Step: rates -> (storage sinks, **alert engine**) -> notifiers.

A poll only appends its samples to a list (``submit``: no work on the poll's
path). Every ``alerts.eval_interval`` the engine evaluates what has gathered
in a worker thread, then: the transitions are logged, firing/resolved events
go to the storage sinks as measurement ``alert``, and every active alert goes
to the dispatcher (``Dispatcher.update``), which routes, groups and delivers.
The sinks' spool figures are added to each evaluation as ``spool`` samples
(for the spool_backlog rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from alerts.engine import FIRING, PENDING, RESOLVED, AlertEngine, Evaluation
from alerts.settings import AlertsOptionsBase, utcnow
from alerts.store import AlertStore
from netmon.model import SPOOL, Alert, Sample, Sink

__all__ = ["AlertService", "Dispatches"]

log = logging.getLogger("netmon.alerts")


class Dispatches(Protocol):
    """What the service needs of alerts.dispatch.Dispatcher (tests record the calls)."""

    def update(self, alerts: Sequence[Alert], now: datetime) -> None: ...


def spool_samples(sinks: Sequence[Any], now: datetime) -> list[Sample]:
    """One ``spool`` sample per sink that keeps stats (netmon.sinks.stats.SinkStats)."""
    out = []
    for sink in sinks:
        stats = getattr(sink, "stats", None)
        if stats is None:
            continue
        fields: dict[str, float | int | str | bool] = {
            "spool_depth_points": stats.spool_depth_points,
            "spool_oldest_age_s": float(stats.spool_oldest_age_s),
            "last_error": stats.last_error or "",
        }
        out.append(Sample("netmon", SPOOL, {"sink": type(sink).__name__}, fields, now))
    return out


def _describe(alert: Alert) -> str:
    labels = alert.labels
    where = " ".join(f"{k}={labels[k]}" for k in ("device", "link", "site", "sink")
                     if labels.get(k))
    flags = "".join((" [silenced]" if alert.silenced else "",
                     " [inhibited]" if alert.inhibited else ""))
    return f"{alert.name} {where}: {alert.annotations.get('summary', '')}{flags}"


class AlertService:
    def __init__(self, options: AlertsOptionsBase, state_dir: Path, sinks: Sequence[Sink] = (),
                 *, dispatcher: Dispatches | None = None) -> None:
        self.store = AlertStore.in_state_dir(state_dir)
        self.engine = AlertEngine(options, self.store)
        self.sinks = sinks
        self.dispatcher = dispatcher
        self.last: Evaluation | None = None
        self._buffer: list[Sample] = []
        self._task: asyncio.Task[None] | None = None
        self._evaluating = asyncio.Lock()

    @property
    def options(self) -> AlertsOptionsBase:
        return self.engine.options

    def submit(self, samples: Sequence[Sample]) -> None:
        """Called by each poll with its derived samples: an append, nothing else."""
        self._buffer.extend(samples)

    async def start(self) -> None:
        """Start the dispatcher (its persisted queue resumes), then evaluate periodically."""
        start = getattr(self.dispatcher, "start", None)
        if start is not None:
            await start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alert-engine")

    def reconfigure(self, options: AlertsOptionsBase) -> None:
        if options != self.engine.options:
            self.engine.reconfigure(options)
            log.info("alert rules reloaded")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.engine.options.eval_interval_s)
            await self.evaluate()

    async def evaluate(self, now: datetime | None = None) -> Evaluation:
        async with self._evaluating:
            now = now or utcnow()
            batch, self._buffer = self._buffer, []
            batch.extend(spool_samples(self.sinks, now))
            result = await asyncio.to_thread(self.engine.evaluate, batch, now)
            self.last = result
            for state, alert in result.transitions:
                if state == FIRING:
                    log.warning("alert firing: %s", _describe(alert))
                elif state == RESOLVED:
                    log.info("alert resolved: %s", _describe(alert))
                elif state == PENDING:
                    log.debug("alert pending: %s", _describe(alert))
            if result.events:
                for sink in self.sinks:
                    await sink.write(result.events)
            if self.dispatcher is not None:
                self.dispatcher.update(result.alerts, now)
            return result

    async def aclose(self) -> None:
        """Evaluate what the last polls gathered (so their state is saved), then close."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._buffer:
            await self.evaluate()
        close = getattr(self.dispatcher, "aclose", None)
        if close is not None:
            await close()
        self.store.close()
