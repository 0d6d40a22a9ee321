"""The log/journal receiver: every notification, one line per alert. Always on.

Step: alert engine -> dispatcher -> **notifiers (log)**. Under systemd the
daemon's log goes to the journal, so ``journalctl -u netmon`` shows each
firing, repeat and resolved notification, whatever else is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from alerts.notifiers.base import Notification, ReceiverContext, common_labels
from netmon.model import Alert

__all__ = ["LogNotifier"]

log = logging.getLogger("netmon.alerts")

# Labels shown in the line first and in this order; the rest follow sorted.
_LEAD = ("alertname", "severity", "device", "site", "link")


def _labels(alert: Alert) -> str:
    keys = [k for k in _LEAD if k in alert.labels]
    keys += sorted(k for k in alert.labels if k not in _LEAD)
    return " ".join(f"{k}={alert.labels[k]}" for k in keys)


class LogNotifier:
    """Writes each alert of a notification to the ``netmon.alerts`` logger."""

    name: ClassVar[str] = "log"

    def __init__(self, context: ReceiverContext | None = None) -> None:
        self.context = context or ReceiverContext(name="log")

    async def notify(self, alerts: Sequence[Alert]) -> None:
        await self.send(Notification(self.context.name, "", common_labels(alerts), alerts,
                                     datetime.now(UTC)))

    async def send(self, notification: Notification) -> None:
        for alert in notification.alerts:
            summary = alert.annotations.get("summary", "")
            if alert.state == "firing":
                since = alert.starts_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                log.warning("alert firing since %s: %s%s", since, _labels(alert),
                            f" - {summary}" if summary else "")
            else:
                log.info("alert resolved: %s%s", _labels(alert),
                         f" - {summary}" if summary else "")
