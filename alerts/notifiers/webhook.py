"""The generic webhook receiver: one JSON POST per notification.

Step: dispatcher -> **notifiers (webhook)**. The body is documented in the
README ("Webhook body"); it follows Alertmanager's webhook format (version
"4") with netmon's additions (``id``, each alert's ``fingerprint`` and
``value``). With ``hmac_key`` set, the header ``X-Netmon-Signature:
sha256=<hex>`` carries HMAC-SHA256(key, body) over the exact bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from alerts.notifiers.base import Notification, ReceiverContext, common_labels
from alerts.notifiers.http import post, tls_context
from netmon.model import Alert
from netmon.plugins import register_notifier
from netmon.secrets import Secret
from netmon.units import Duration

__all__ = ["SIGNATURE_HEADER", "WebhookNotifier", "WebhookOptions", "body", "sign"]

KIND = "webhook"
SIGNATURE_HEADER = "X-Netmon-Signature"
ID_HEADER = "X-Netmon-Notification-Id"


class WebhookOptions(BaseModel):
    """``receivers[].webhook:``"""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str = Field(pattern=r"^https?://")
    hmac_key: Secret | None = None
    bearer_token: Secret | None = None
    timeout_s: Duration = Field(10.0, alias="timeout")
    tls_verify: bool = True
    ca_file: Path | None = None


def _time(value: datetime | None) -> str:
    # Alertmanager's zero time for "not resolved yet".
    if value is None:
        return "0001-01-01T00:00:00Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _alert(alert: Alert) -> dict[str, object]:
    return {
        "status": alert.state,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": _time(alert.starts_at),
        "endsAt": _time(alert.ends_at if alert.state != "firing" else None),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
        "value": alert.value,
    }


def body(notification: Notification) -> bytes:
    """The JSON body (UTF-8), the same bytes on every retry of one notification."""
    alerts = list(notification.alerts)
    doc = {
        "version": "4",
        "id": notification.id,
        "receiver": notification.receiver,
        "status": notification.status,
        "groupKey": notification.group_key,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": common_labels(alerts),
        "commonAnnotations": common_labels(alerts, field_name="annotations"),
        "truncatedAlerts": 0,
        "alerts": [_alert(a) for a in alerts],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()


def sign(key: bytes, data: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(key, data, hashlib.sha256).hexdigest()


class WebhookNotifier:
    name: ClassVar[str] = KIND

    def __init__(self, options: WebhookOptions, context: ReceiverContext | None = None) -> None:
        self.options = options
        self.context = context or ReceiverContext(name=KIND)
        self._ssl = tls_context(options.tls_verify, options.ca_file)
        self._session: aiohttp.ClientSession | None = None

    async def notify(self, alerts: Sequence[Alert]) -> None:
        await self.send(Notification(self.context.name, "", common_labels(alerts), alerts,
                                     datetime.now(UTC)))

    async def send(self, notification: Notification) -> None:
        data = body(notification)
        headers = {"Content-Type": "application/json", "User-Agent": "netmon"}
        if notification.id:
            headers[ID_HEADER] = notification.id
        if self.options.hmac_key is not None:
            headers[SIGNATURE_HEADER] = sign(
                self.options.hmac_key.get_secret_value().encode(), data)
        if self.options.bearer_token is not None:
            headers["Authorization"] = "Bearer " + self.options.bearer_token.get_secret_value()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        await post(self._session, self.options.url, data, headers,
                   timeout_s=self.options.timeout_s, ssl_context=self._ssl,
                   secrets=[s.get_secret_value() for s in
                            (self.options.hmac_key, self.options.bearer_token) if s])

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


register_notifier(KIND, WebhookOptions, WebhookNotifier)
