"""Helpers shared by the dispatcher and notifier tests: alerts and options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.dispatch import NotificationsOptions
from netmon.model import Alert


def make_alert(fp: str = "a1", state: str = "firing", *, started_s_ago: float = 0.0,
               ended_s_ago: float | None = None, silenced: bool = False,
               inhibited: bool = False, starts_at: datetime | None = None,
               annotations: dict[str, str] | None = None, value: float | None = 63.2,
               **labels: str) -> Alert:
    now = datetime.now(UTC)
    start = starts_at or now - timedelta(seconds=started_s_ago)
    end = None
    if state == "resolved":
        end = now - timedelta(seconds=ended_s_ago or 0.0)
    base = {"alertname": "link_utilisation_high", "severity": "warning", "device": "hni-core-a",
            "site": "HNI", "tier": "backbone", "link": "ge-0/0/1"}
    base.update(labels)
    return Alert(fingerprint=fp, labels=base,
                 annotations=annotations or {"summary": f"{base['link']} at 63.2% of 400 Mbit/s"},
                 state=state, starts_at=start, ends_at=end, value=value,
                 generator_url="http://127.0.0.1:9161/api/alerts", silenced=silenced,
                 inhibited=inhibited)


def options(**data: Any) -> NotificationsOptions:
    """Validated ``notifications:`` with fast retries unless the test says otherwise."""
    data.setdefault("retry_backoff", "50ms")
    data.setdefault("retry_backoff_max", "200ms")
    return NotificationsOptions.model_validate(data)
