"""The webhook receiver against real aiohttp servers on loopback: body, headers, TLS,
retry policy and secrets."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from notify_support import make_alert, options
from receivers import WebhookServer, eventually, self_signed_cert, server_tls

from alerts.dispatch import Dispatcher
from alerts.notifiers.base import DeliveryError, Notification, ReceiverContext
from alerts.notifiers.webhook import (
    ID_HEADER,
    SIGNATURE_HEADER,
    WebhookNotifier,
    WebhookOptions,
    sign,
)

HMAC_KEY = "hmac-key-never-printed"
TOKEN = "bearer-token-never-printed"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOC_HMAC", HMAC_KEY)
    monkeypatch.setenv("NOC_TOKEN", TOKEN)


def _note(*alerts) -> Notification:
    return Notification("noc", "{}:{site='HNI'}", {"site": "HNI"}, list(alerts),
                        datetime.now(UTC), "3f2a")


async def test_body_and_headers_as_documented(tmp_path: Path) -> None:
    a1 = make_alert("a1", started_s_ago=60)
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_by": ["site"], "group_wait": "50ms",
                              "group_interval": "100ms"},
                       receivers=[{"name": "noc", "webhook": {
                           "url": server.url, "hmac_key": "${NOC_HMAC}",
                           "bearer_token": "${NOC_TOKEN}"}}])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([a1], datetime.now(UTC))
        await eventually(lambda: server.delivered)
        d.update([make_alert("a1", "resolved", starts_at=a1.starts_at)], datetime.now(UTC))
        await eventually(lambda: len(server.delivered) == 2)
        await d.aclose()
    firing, resolved = (r.json() for r in server.delivered)
    assert set(firing) == {"version", "id", "receiver", "status", "groupKey", "groupLabels",
                           "commonLabels", "commonAnnotations", "truncatedAlerts", "alerts"}
    assert firing["version"] == "4"
    assert firing["receiver"] == "noc"
    assert firing["status"] == "firing"
    assert firing["groupLabels"] == {"site": "HNI"}
    assert firing["commonLabels"] == dict(a1.labels)
    assert firing["commonAnnotations"] == dict(a1.annotations)
    alert = firing["alerts"][0]
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt",
                          "generatorURL", "fingerprint", "value"}
    assert alert["status"] == "firing"
    assert datetime.fromisoformat(alert["startsAt"]) == a1.starts_at
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["value"] == 63.2
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["status"] == "resolved"
    assert datetime.fromisoformat(resolved["alerts"][0]["endsAt"]) > a1.starts_at
    assert resolved["groupKey"] == firing["groupKey"]
    assert resolved["id"] != firing["id"]
    headers = server.delivered[0].headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers[ID_HEADER] == firing["id"]
    assert headers[SIGNATURE_HEADER] == sign(HMAC_KEY.encode(), server.delivered[0].body)


async def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    async with WebhookServer(ssl_context=server_tls(cert, key)) as server:
        strict = WebhookNotifier(WebhookOptions(url=server.url), ReceiverContext("noc"))
        with pytest.raises(DeliveryError) as err:
            await strict.send(_note(make_alert()))
        await strict.aclose()
        assert err.value.retryable
        assert "certificate" in str(err.value).lower()
        assert server.requests == []

        trusted = WebhookNotifier(WebhookOptions(url=server.url, ca_file=cert),
                                  ReceiverContext("noc"))
        await trusted.send(_note(make_alert()))
        await trusted.aclose()
        unverified = WebhookNotifier(WebhookOptions(url=server.url, tls_verify=False),
                                     ReceiverContext("noc"))
        await unverified.send(_note(make_alert()))
        await unverified.aclose()
    assert len(server.delivered) == 2


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (502, True), (503, True), (429, True),
    (400, False), (401, False), (404, False), (410, False),
])
async def test_retry_policy_by_status(status: int, retryable: bool) -> None:
    async with WebhookServer(statuses=[status]) as server:
        notifier = WebhookNotifier(WebhookOptions(url=server.url), ReceiverContext("noc"))
        with pytest.raises(DeliveryError) as err:
            await notifier.send(_note(make_alert()))
        await notifier.aclose()
    assert err.value.retryable is retryable
    assert f"HTTP {status}" in str(err.value)


async def test_a_timeout_is_retryable() -> None:
    async with WebhookServer(hang=True) as server:
        notifier = WebhookNotifier(WebhookOptions(url=server.url, timeout="200ms"),
                                   ReceiverContext("noc"))
        t0 = time.monotonic()
        with pytest.raises(DeliveryError) as err:
            await notifier.send(_note(make_alert()))
        await notifier.aclose()
    assert err.value.retryable
    assert time.monotonic() - t0 < 2


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async with WebhookServer(statuses=[429], retry_after="1") as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[{"name": "noc", "webhook": {"url": server.url}}])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert()], datetime.now(UTC))
        await eventually(lambda: server.requests)
        t0 = time.monotonic()
        await eventually(lambda: server.delivered, timeout_s=5)
        waited = time.monotonic() - t0
        await d.aclose()
    assert waited >= 0.9  # not the 50 ms backoff


async def test_secrets_never_print(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    async with WebhookServer(statuses=[500, 400], echo_headers=True) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[{"name": "noc", "webhook": {
                           "url": server.url, "hmac_key": "${NOC_HMAC}",
                           "bearer_token": "${NOC_TOKEN}"}}])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert()], datetime.now(UTC))
        await eventually(lambda: len(server.requests) == 2)
        await eventually(lambda: "refused, not retried" in caplog.text)
        await d.aclose()
    # The server echoed our headers in its error answers; the log shows them redacted.
    assert "Bearer **********" in caplog.text
    shown = caplog.text + "".join(capsys.readouterr()) + repr(opts) + str(opts)
    shown += repr(opts.receivers[0]) + str(opts.model_dump()) + opts.model_dump_json()
    assert HMAC_KEY not in shown
    assert TOKEN not in shown
    assert opts.receivers[0].webhook.hmac_key.get_secret_value() == HMAC_KEY


async def test_notify_alone_implements_the_notifier_protocol() -> None:
    async with WebhookServer() as server:
        notifier = WebhookNotifier(WebhookOptions(url=server.url), ReceiverContext("noc"))
        await notifier.notify([make_alert("a1"), make_alert("a2", link="ge-0/0/2")])
        await notifier.aclose()
    doc = server.delivered[0].json()
    assert [a["fingerprint"] for a in doc["alerts"]] == ["a1", "a2"]
    assert doc["commonLabels"]["device"] == "hni-core-a" and "link" not in doc["commonLabels"]


async def test_an_ipv6_webhook() -> None:
    async with WebhookServer(host="::1") as server:
        assert server.url.startswith("http://[::1]:")
        notifier = WebhookNotifier(WebhookOptions(url=server.url), ReceiverContext("noc"))
        await notifier.send(_note(make_alert()))
        await notifier.aclose()
    assert len(server.delivered) == 1
