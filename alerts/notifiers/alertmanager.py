"""The Prometheus Alertmanager receiver: POST /api/v2/alerts, as Prometheus sends.

Step: dispatcher -> **notifiers (Alertmanager)**. Alertmanager groups,
deduplicates, repeats and routes by itself, so this receiver bypasses the
dispatcher's grouping and repeat: at every evaluation ``select`` picks what
Prometheus would send (its ``needsSending``):

* a firing alert when it is new, and again every ``resend_delay`` (1m) while it
  fires, with ``endsAt = now + 4 x max(evaluation interval, resend_delay)`` -
  if netmon stops sending, Alertmanager resolves it by itself after that;
* a resolved alert at once (``endsAt`` = when it resolved), then again every
  ``resend_delay`` for 15 minutes, so an Alertmanager that missed it learns it.

Several ``urls`` form an HA cluster: every batch goes to each of them
(Alertmanager replicas do not share alerts, only silences and the
notification log). A batch counts as delivered when at least one replica
took it; the others catch up with the next resend. The routing tree still
decides *which* alerts reach this receiver (matchers, ``continue``); its
group_by and timers do not apply here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext, common_labels
from alerts.notifiers.http import post, tls_context
from netmon.model import Alert
from netmon.plugins import register_notifier
from netmon.secrets import Secret
from netmon.units import Duration

__all__ = ["AlertmanagerNotifier", "AlertmanagerOptions", "payload"]

KIND = "alertmanager"
RESOLVED_RETENTION_S = 15 * 60.0
"""Prometheus keeps re-sending a resolved alert this long (its resolvedRetention)."""

log = logging.getLogger(__name__)


class AlertmanagerOptions(BaseModel):
    """``receivers[].alertmanager:``"""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    urls: tuple[str, ...] = Field(min_length=1)
    """Base URLs (``http://am1:9093``); ``/api/v2/alerts`` is appended."""
    resend_delay_s: Duration = Field(60.0, alias="resend_delay")
    timeout_s: Duration = Field(10.0, alias="timeout")
    bearer_token: Secret | None = None
    tls_verify: bool = True
    ca_file: Path | None = None

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return urls


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def payload(alerts: Sequence[Alert]) -> bytes:
    """The API v2 body: a list of postable alerts."""
    out = []
    for alert in alerts:
        item: dict[str, object] = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": _time(alert.starts_at),
            "generatorURL": alert.generator_url,
        }
        if alert.ends_at is not None:
            item["endsAt"] = _time(alert.ends_at)
        out.append(item)
    return json.dumps(out, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class _Sent:
    starts_at: datetime
    state: str
    at: datetime


class AlertmanagerNotifier:
    name: ClassVar[str] = KIND
    bypasses_grouping: ClassVar[bool] = True
    """The dispatcher calls ``select`` at each update instead of grouping."""

    def __init__(self, options: AlertmanagerOptions,
                 context: ReceiverContext | None = None) -> None:
        self.options = options
        self.context = context or ReceiverContext(name=KIND)
        self._ssl = tls_context(options.tls_verify, options.ca_file)
        self._session: aiohttp.ClientSession | None = None
        self._sent: dict[str, _Sent] = {}
        self.valid_for = timedelta(
            seconds=4 * max(self.context.eval_interval_s, options.resend_delay_s))

    def select(self, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
        """What to send at this evaluation (Prometheus' ``needsSending``), endsAt filled in.

        Call once per evaluation with every alert routed here; what is
        returned counts as sent (the dispatcher's queue delivers it).
        """
        # Evaluations drift by a little; without slack a 60 s resend would slip
        # to every second evaluation.
        resend = timedelta(seconds=max(0.0, self.options.resend_delay_s
                                       - 0.1 * self.context.eval_interval_s))
        out: list[Alert] = []
        seen: set[str] = set()
        for alert in alerts:
            seen.add(alert.fingerprint)
            if alert.state != "firing":
                ended = alert.ends_at or now
                if now - ended > timedelta(seconds=RESOLVED_RETENTION_S):
                    continue
            last = self._sent.get(alert.fingerprint)
            due = (last is None or last.starts_at != alert.starts_at
                   or last.state != alert.state or now - last.at >= resend)
            if not due:
                continue
            self._sent[alert.fingerprint] = _Sent(alert.starts_at, alert.state, now)
            if alert.state == "firing":
                out.append(replace(alert, ends_at=now + self.valid_for))
            else:
                out.append(replace(alert, ends_at=alert.ends_at or now))
        for gone in self._sent.keys() - seen:
            del self._sent[gone]
        return out

    async def notify(self, alerts: Sequence[Alert]) -> None:
        await self.send(Notification(self.context.name, "", common_labels(alerts), alerts,
                                     datetime.now(UTC)))

    async def send(self, notification: Notification) -> None:
        data = payload(notification.alerts)
        headers = {"Content-Type": "application/json", "User-Agent": "netmon"}
        if self.options.bearer_token is not None:
            headers["Authorization"] = "Bearer " + self.options.bearer_token.get_secret_value()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        session = self._session
        results = await asyncio.gather(*(
            post(session, url.rstrip("/") + "/api/v2/alerts", data, headers,
                 timeout_s=self.options.timeout_s, ssl_context=self._ssl,
                 secrets=[self.options.bearer_token.get_secret_value()]
                 if self.options.bearer_token else ())
            for url in self.options.urls
        ), return_exceptions=True)
        errors = [r for r in results if isinstance(r, DeliveryError)]
        others = [r for r in results if isinstance(r, BaseException)
                  and not isinstance(r, DeliveryError)]
        if others:
            raise others[0]
        if len(errors) < len(results):
            for error in errors:
                log.warning("%s: one Alertmanager of the cluster missed a batch (it gets "
                            "the next resend): %s", self.context.name, error)
            return
        raise DeliveryError("; ".join(str(e) for e in errors),
                            retryable=any(e.retryable for e in errors))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


register_notifier(KIND, AlertmanagerOptions, AlertmanagerNotifier)
