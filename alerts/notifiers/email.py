"""The email receiver: one plain-text message per notification (one group), over SMTP.

Step: dispatcher -> **notifiers (email)**. aiosmtplib with STARTTLS (port
587), implicit TLS (465) or, for a relay on loopback only, plain SMTP (25).
The password comes from a secret reference and never appears in a message,
a log line or an error. Subject and body are in the language given to the
dispatcher (``en`` or ``vi``).
"""

from __future__ import annotations

import email.utils
import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import ClassVar, Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext, common_labels
from alerts.notifiers.http import redact, tls_context
from netmon.model import Alert
from netmon.plugins import register_notifier
from netmon.secrets import Secret
from netmon.units import Duration

__all__ = ["EmailNotifier", "EmailOptions", "render"]

KIND = "email"
_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmailOptions(BaseModel):
    """``receivers[].email:``"""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str
    port: int | None = Field(None, ge=1, le=65535)
    """Default by ``security``: 587 (starttls), 465 (tls), 25 (none)."""
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    from_: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)
    timeout_s: Duration = Field(10.0, alias="timeout")
    tls_verify: bool = True
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.password is not None and self.security == "none" and not _loopback(self.host):
            raise ValueError("a password is sent in clear over security: none; use starttls "
                             "or tls (plain SMTP with a password only to a loopback relay)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or _PORTS[self.security]


_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "firing_tag": "FIRING",
        "resolved_tag": "RESOLVED",
        "firing": "Firing",
        "resolved": "Resolved",
        "intro_firing": "{n} alert{s} firing",
        "intro_resolved": "{n} alert{s} resolved",
        "since": "Since",
        "ended": "Resolved at",
        "lasted": "lasted",
        "for": "for",
        "value": "Value",
        "description": "Description",
        "labels": "Labels",
        "source": "Source",
        "footer": "Sent by netmon to receiver {receiver}.",
    },
    "vi": {
        "firing_tag": "ĐANG CẢNH BÁO",
        "resolved_tag": "ĐÃ KHẮC PHỤC",
        "firing": "Đang cảnh báo",
        "resolved": "Đã khắc phục",
        "intro_firing": "{n} cảnh báo đang hoạt động",
        "intro_resolved": "{n} cảnh báo đã khắc phục",
        "since": "Bắt đầu",
        "ended": "Khắc phục lúc",
        "lasted": "kéo dài",
        "for": "đã kéo dài",
        "value": "Giá trị",
        "description": "Mô tả",
        "labels": "Nhãn",
        "source": "Nguồn",
        "footer": "Gửi bởi netmon tới người nhận {receiver}.",
    },
}


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _plural(n: int) -> str:
    return "" if n == 1 else "s"  # Vietnamese templates do not use it


def _group_name(notification: Notification) -> str:
    labels = dict(notification.group_labels) or common_labels(notification.alerts)
    name = labels.pop("alertname", "")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return " ".join(part for part in (name, rest) if part) or "netmon"


def _alert_block(alert: Alert, text: Mapping[str, str], now: datetime) -> list[str]:
    severity = alert.labels.get("severity", "")
    title = alert.annotations.get("summary") or alert.name or alert.fingerprint
    lines = [f"* [{severity}] {title}" if severity else f"* {title}"]
    if alert.state == "firing":
        lines.append(f"  {text['since']}: {_when(alert.starts_at)} "
                     f"({text['for']} {_span((now - alert.starts_at).total_seconds())})")
    else:
        ended = alert.ends_at or alert.starts_at
        lines.append(f"  {text['since']}: {_when(alert.starts_at)}")
        lines.append(f"  {text['ended']}: {_when(ended)} "
                     f"({text['lasted']} {_span((ended - alert.starts_at).total_seconds())})")
    if alert.value is not None:
        lines.append(f"  {text['value']}: {alert.value:g}")
    description = alert.annotations.get("description")
    if description:
        lines.append(f"  {text['description']}: {description}")
    labels = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    lines.append(f"  {text['labels']}: {labels}")
    if alert.generator_url:
        lines.append(f"  {text['source']}: {alert.generator_url}")
    return lines


def render(notification: Notification, language: str) -> tuple[str, str]:
    """``(subject, body)`` of the message for one notification."""
    text = _TEXT.get(language, _TEXT["en"])
    firing, resolved = notification.firing, notification.resolved
    group = _group_name(notification)
    if firing:
        subject = f"[{text['firing_tag']}:{len(firing)}] {group}"
    else:
        subject = f"[{text['resolved_tag']}] {group}"
    intro = []
    if firing:
        intro.append(text["intro_firing"].format(n=len(firing), s=_plural(len(firing))))
    if resolved:
        intro.append(text["intro_resolved"].format(n=len(resolved), s=_plural(len(resolved))))
    lines = [f"{'; '.join(intro)}: {group}", ""]
    for title, alerts in ((text["firing"], firing), (text["resolved"], resolved)):
        if not alerts:
            continue
        heading = f"{title} ({len(alerts)})"
        lines += [heading, "=" * len(heading), ""]
        for alert in alerts:
            lines += [*_alert_block(alert, text, notification.created), ""]
    lines += ["-- ", text["footer"].format(receiver=notification.receiver), ""]
    return subject, "\n".join(lines)


class EmailNotifier:
    name: ClassVar[str] = KIND

    def __init__(self, options: EmailOptions, context: ReceiverContext | None = None) -> None:
        self.options = options
        self.context = context or ReceiverContext(name=KIND)
        self._tls = (tls_context(options.tls_verify, options.ca_file)
                     if options.security != "none" else None)

    def message(self, notification: Notification) -> EmailMessage:
        subject, text = render(notification, self.context.language)
        msg = EmailMessage()
        msg["From"] = self.options.from_
        msg["To"] = ", ".join(self.options.to)
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(notification.created.astimezone(UTC))
        if notification.id:
            # The same on every retry: a mail delivered twice is one message to clients.
            msg["Message-ID"] = f"<{notification.id}@netmon>"
            msg["X-Netmon-Notification-Id"] = notification.id
        else:
            msg["Message-ID"] = email.utils.make_msgid(domain="netmon")
        msg.set_content(text, charset="utf-8")
        return msg

    async def notify(self, alerts: Sequence[Alert]) -> None:
        await self.send(Notification(self.context.name, "", common_labels(alerts), alerts,
                                     datetime.now(UTC)))

    async def send(self, notification: Notification) -> None:
        try:
            await self._send(notification)
        except DeliveryError as exc:
            secret = self.options.password.get_secret_value() if self.options.password else ""
            raise DeliveryError(redact(str(exc), [secret]), retryable=exc.retryable) from None

    async def _send(self, notification: Notification) -> None:
        opts = self.options
        where = f"smtp {opts.host}:{opts.effective_port}"
        try:
            await aiosmtplib.send(
                self.message(notification),
                hostname=opts.host, port=opts.effective_port,
                username=opts.username,
                password=opts.password.get_secret_value() if opts.password else None,
                use_tls=opts.security == "tls",
                start_tls=opts.security == "starttls",
                tls_context=self._tls, timeout=opts.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(f"{where}: recipients refused ({codes})",
                                retryable=any(400 <= c < 500 for c in codes)) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Retried: a corrected password (SIGHUP) then delivers what waited.
            raise DeliveryError(f"{where}: authentication failed ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{where}: {exc.code} {exc.message}",
                                retryable=not 500 <= exc.code < 600) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{where}: {exc.__class__.__name__}: {exc}") from None


register_notifier(KIND, EmailOptions, EmailNotifier)
