"""The email receiver against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from notify_support import make_alert, options
from receivers import SmtpServer, eventually, self_signed_cert, server_tls, subjects

from alerts.dispatch import Dispatcher
from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext
from alerts.notifiers.email import EmailNotifier, EmailOptions

PASSWORD = "mail-pa55-do-not-print"


def mail_receiver(smtp: SmtpServer, **extra: object) -> dict[str, object]:
    return {"name": "ops-mail", "email": {
        "host": "127.0.0.1", "port": smtp.port, "security": "none",
        "username": "netmon", "password": "${NETMON_SMTP_PASSWORD}",
        "from": "netmon@example.gov.vn", "to": ["noc@example.gov.vn", "ops@example.gov.vn"],
        **extra}}


def body_of(msg) -> str:
    return msg.get_content()


pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.mark.parametrize(("language", "firing_subject", "resolved_subject", "words"), [
    ("en", "[FIRING:2] link_utilisation_high site=HNI",
     "[RESOLVED] link_utilisation_high site=HNI",
     ["2 alerts firing: link_utilisation_high site=HNI", "Firing (2)", "Resolved (2)",
      "Since: ", "(for 10m0", "Resolved at: ", "Value: 63.2"]),
    ("vi", "[ĐANG CẢNH BÁO:2] link_utilisation_high site=HNI",
     "[ĐÃ KHẮC PHỤC] link_utilisation_high site=HNI",
     ["2 cảnh báo đang hoạt động: link_utilisation_high site=HNI", "Đang cảnh báo (2)",
      "Đã khắc phục (2)", "Bắt đầu: ", "(đã kéo dài 10m0", "Khắc phục lúc: ", "Giá trị: 63.2"]),
])
async def test_firing_and_resolved_mails_in_each_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str, firing_subject: str,
        resolved_subject: str, words: list[str]) -> None:
    monkeypatch.setenv("NETMON_SMTP_PASSWORD", PASSWORD)
    a1 = make_alert("a1", started_s_ago=600)
    a2 = make_alert("a2", started_s_ago=600, link="ge-0/0/2",
                    annotations={"summary": "ge-0/0/2 to HNI plane B at 58% of 1.2 Gbit/s",
                                 "description": "plane B carries plane A's load"})
    with SmtpServer(credentials=("netmon", PASSWORD), auth_require_tls=False) as smtp:
        opts = options(route={"receiver": "ops-mail", "group_by": ["alertname", "site"],
                              "group_wait": "50ms", "group_interval": "100ms"},
                       receivers=[mail_receiver(smtp)])
        d = Dispatcher(opts, tmp_path, language=language)
        await d.start()
        d.update([a1, a2], datetime.now(UTC))
        await eventually(lambda: smtp.messages)
        await asyncio.sleep(0.3)
        d.update([make_alert("a1", "resolved", starts_at=a1.starts_at),
                  make_alert("a2", "resolved", starts_at=a2.starts_at, link="ge-0/0/2")],
                 datetime.now(UTC))
        await eventually(lambda: len(smtp.messages) >= 2)
        await asyncio.sleep(0.3)
        await d.aclose()
    assert subjects(smtp.messages) == [firing_subject, resolved_subject]
    firing, resolved = smtp.messages
    assert firing["To"] == "noc@example.gov.vn, ops@example.gov.vn"
    assert firing["From"] == "netmon@example.gov.vn"
    text = body_of(firing) + body_of(resolved)
    for word in words:
        assert word in text, word
    # Both alerts of the group in one message, each with its summary and labels.
    assert "ge-0/0/1 at 63.2% of 400 Mbit/s" in body_of(firing)
    assert "ge-0/0/2 to HNI plane B at 58% of 1.2 Gbit/s" in body_of(firing)
    assert "plane B carries plane A's load" in body_of(firing)
    assert "device=hni-core-a" in body_of(firing)
    assert "Resolved" not in body_of(firing) and "Đã khắc phục (" not in body_of(firing)


def _note(*alerts) -> Notification:
    return Notification("ops-mail", "k", {"alertname": "link_utilisation_high"}, list(alerts),
                        datetime.now(UTC), "id-1")


async def test_starttls_with_verified_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with SmtpServer(tls_context=server_tls(cert, key), require_starttls=True) as smtp:
        base = {"host": "127.0.0.1", "port": smtp.port, "security": "starttls",
                "from": "netmon@example.gov.vn", "to": ["noc@example.gov.vn"]}
        ok = EmailNotifier(EmailOptions.model_validate({**base, "ca_file": str(cert)}),
                           ReceiverContext("ops-mail"))
        await ok.send(_note(make_alert("a1")))
        assert subjects(smtp.messages) == ["[FIRING:1] link_utilisation_high"]
        assert smtp.messages[0]["Message-ID"] == "<id-1@netmon>"
        # Verification is on by default: an unknown CA is refused, and retried later.
        strict = EmailNotifier(EmailOptions.model_validate(base), ReceiverContext("ops-mail"))
        with pytest.raises(DeliveryError) as err:
            await strict.send(_note(make_alert("a1")))
        assert err.value.retryable
        assert len(smtp.messages) == 1


async def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with SmtpServer(ssl_context=server_tls(cert, key)) as smtp:
        notifier = EmailNotifier(EmailOptions.model_validate({
            "host": "127.0.0.1", "port": smtp.port, "security": "tls", "ca_file": str(cert),
            "from": "netmon@example.gov.vn", "to": ["noc@example.gov.vn"]}),
            ReceiverContext("ops-mail", language="vi"))
        await notifier.send(_note(make_alert("a1", "resolved")))
    assert subjects(smtp.messages) == ["[ĐÃ KHẮC PHỤC] link_utilisation_high"]


async def test_wrong_password_is_retried_and_never_printed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETMON_SMTP_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with SmtpServer(credentials=("netmon", "the-right-one"), auth_require_tls=False) as smtp:
        opts = options(route={"receiver": "ops-mail", "group_wait": "50ms"},
                       receivers=[mail_receiver(smtp)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert("a1")], datetime.now(UTC))
        await eventually(lambda: any("authentication failed" in r.getMessage()
                                     for r in caplog.records))
        await d.aclose()
        assert smtp.messages == []
    queued = [v for name, labels, v in d.metrics()
              if name == "netmon_notifications_queued" and labels["receiver"] == "ops-mail"]
    assert queued == [1.0]
    out = capsys.readouterr()
    assert PASSWORD not in caplog.text + out.out + out.err
    assert PASSWORD not in repr(opts) + str(opts) + repr(d.options)
