"""What every receiver shares: the notification it is handed and its errors.

Step: alert engine -> dispatcher -> **notifiers**. The dispatcher groups
alerts and hands each receiver a ``Notification`` (one group's alerts); a
receiver delivers it or raises ``DeliveryError``. ``retryable`` tells the
dispatcher's persisted queue whether to try again later (5xx, timeouts, 429,
refused connections) or to drop it (a 4xx: the same request would fail again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from netmon.model import Alert

__all__ = ["DeliveryError", "Notification", "ReceiverContext", "common_labels"]


class DeliveryError(Exception):
    """A notification was not delivered. Messages never contain secrets."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ReceiverContext:
    """What a receiver's factory gets besides its options."""

    name: str
    language: str = "en"
    eval_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Notification:
    """One group's alerts for one receiver: what the dispatcher queues and delivers."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[Alert]
    created: datetime
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``firing`` while any alert of the group fires, else ``resolved``."""
        return "firing" if any(a.state == "firing" for a in self.alerts) else "resolved"

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == "firing"]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.state != "firing"]


def common_labels(alerts: Sequence[Alert], *, field_name: str = "labels") -> dict[str, str]:
    """Labels (or annotations) with the same value on every alert."""
    if not alerts:
        return {}
    first = dict(getattr(alerts[0], field_name))
    for alert in alerts[1:]:
        other = getattr(alert, field_name)
        first = {k: v for k, v in first.items() if other.get(k) == v}
    return first
