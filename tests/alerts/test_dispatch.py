"""The dispatcher against real webhook servers on loopback: routing, grouping,
repeat, retries, isolation of a hung receiver, and the persisted queue."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from notify_support import make_alert, options
from receivers import WebhookServer, eventually

from alerts.dispatch import Dispatcher
from alerts.notifiers.webhook import SIGNATURE_HEADER, sign


def hook(name: str, server: WebhookServer, **extra: object) -> dict[str, object]:
    return {"name": name, "webhook": {"url": server.url, **extra}}


def metric(d: Dispatcher, name: str, receiver: str) -> float:
    for metric_name, labels, value in d.metrics():
        if metric_name == name and labels["receiver"] == receiver:
            return value
    raise KeyError((name, receiver))


async def feed(d: Dispatcher, alerts: list, seconds: float, every_s: float = 0.05) -> None:
    """Hand the same alerts over every ``every_s`` for ``seconds``, as the engine does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        d.update(alerts, datetime.now(UTC))
        await asyncio.sleep(every_s)


async def test_group_wait_collects_a_group_into_one_notification(tmp_path: Path) -> None:
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_by": ["alertname"],
                              "group_wait": "400ms", "group_interval": "10s"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        a1, a2 = make_alert("a1"), make_alert("a2", link="ge-0/0/2")
        t0 = time.monotonic()
        d.update([a1], datetime.now(UTC))
        await asyncio.sleep(0.15)
        d.update([a1, a2], datetime.now(UTC))
        await eventually(lambda: server.delivered)
        waited = time.monotonic() - t0
        await feed(d, [a1, a2], 0.5)
        await d.aclose()
    assert waited >= 0.4
    assert len(server.delivered) == 1
    doc = server.delivered[0].json()
    assert doc["status"] == "firing"
    assert doc["groupLabels"] == {"alertname": "link_utilisation_high"}
    assert sorted(a["fingerprint"] for a in doc["alerts"]) == ["a1", "a2"]


async def test_one_firing_then_repeats_then_one_resolved(tmp_path: Path) -> None:
    a1 = make_alert("a1")
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_wait": "100ms",
                              "group_interval": "100ms", "repeat_interval": "700ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [a1], 1.9)
        firing = [r.json() for r in server.delivered]
        times = [r.at for r in server.delivered]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        resolved = make_alert("a1", "resolved", starts_at=a1.starts_at)
        await feed(d, [resolved], 0.8)
        await d.aclose()
    # t=0.1 first, then every repeat_interval (checked at group_interval ticks): ~0.8, ~1.5.
    assert [n["status"] for n in firing] == ["firing"] * 3
    assert all(0.65 <= gap < 1.0 for gap in gaps), gaps
    after = [r.json() for r in server.delivered[len(firing):]]
    assert [n["status"] for n in after] == ["resolved"]
    assert after[0]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"


async def test_repeat_interval_is_not_shortened_by_group_interval(tmp_path: Path) -> None:
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms",
                              "group_interval": "50ms"},  # repeat_interval: default 4h
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [make_alert("a1")], 1.0)
        await d.aclose()
    assert len(server.delivered) == 1


async def test_silenced_and_inhibited_alerts_are_never_sent(tmp_path: Path) -> None:
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_by": ["..."], "group_wait": "50ms",
                              "group_interval": "50ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [make_alert("s1", silenced=True, link="x1"),
                       make_alert("i1", inhibited=True, link="x2"),
                       make_alert("ok", link="x3")], 0.6)
        await d.aclose()
    sent = [a["fingerprint"] for r in server.delivered for a in r.json()["alerts"]]
    assert sent == ["ok"]
    assert metric(d, "netmon_notifications_sent_total", "log") == 1


async def test_routing_tree_with_continue(tmp_path: Path) -> None:
    async with WebhookServer() as noc, WebhookServer() as mail, WebhookServer() as hn:
        opts = options(
            route={"receiver": "mail", "group_by": ["..."], "group_wait": "50ms",
                   "routes": [
                       {"matchers": {"tier": "backbone"}, "receiver": "noc", "continue": True},
                       {"matchers": ["site=~HN.*"], "receiver": "hn"},
                   ]},
            receivers=[hook("noc", noc), hook("mail", mail), hook("hn", hn)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [make_alert("core", tier="backbone", site="HNI"),
                       make_alert("prov", tier="province", site="HCM", link="p1"),
                       make_alert("hnprov", tier="province", site="HNM", link="p2")], 0.5)
        await d.aclose()

    def got(server: WebhookServer) -> list[str]:
        return sorted(a["fingerprint"] for r in server.delivered for a in r.json()["alerts"])

    # backbone: noc, and (continue) the next sibling matches too (site HNI ~ HN.*).
    assert got(noc) == ["core"]
    assert got(hn) == ["core", "hnprov"]
    # Only an alert no child took ends at the root.
    assert got(mail) == ["prov"]


async def test_500_three_times_then_delivered_once_with_valid_hmac(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NOC_HMAC", "s3cr3t-hmac-key")
    async with WebhookServer(statuses=[500, 500, 500]) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[hook("noc", server, hmac_key="${NOC_HMAC}")])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert("a1")], datetime.now(UTC))
        await eventually(lambda: server.delivered, timeout_s=10)
        await feed(d, [make_alert("a1")], 0.5)
        await d.aclose()
    assert len(server.requests) == 4
    assert len(server.delivered) == 1
    got = server.delivered[0]
    assert got.headers[SIGNATURE_HEADER] == sign(b"s3cr3t-hmac-key", got.body)
    # The same notification every time: one id, one body.
    assert {r.body for r in server.requests} == {got.body}
    assert metric(d, "netmon_notifications_failed_total", "noc") == 3
    assert metric(d, "netmon_notifications_sent_total", "noc") == 1
    assert metric(d, "netmon_notifications_queued", "noc") == 0


async def test_a_400_is_not_retried(tmp_path: Path) -> None:
    async with WebhookServer(statuses=[400]) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [make_alert("a1")], 0.8)
        await d.aclose()
    assert len(server.requests) == 1
    assert server.delivered == []
    assert metric(d, "netmon_notifications_dropped_total", "noc") == 1
    assert metric(d, "netmon_notifications_queued", "noc") == 0


async def test_429_and_timeouts_are_retried(tmp_path: Path) -> None:
    async with WebhookServer(statuses=[429, 503]) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert("a1")], datetime.now(UTC))
        await eventually(lambda: server.delivered)
        await d.aclose()
    assert len(server.requests) == 3


async def test_a_hung_receiver_does_not_delay_another(tmp_path: Path) -> None:
    async with WebhookServer(hang=True) as stuck, WebhookServer() as fine:
        opts = options(route={"receiver": "stuck", "group_wait": "50ms", "routes": [
            {"matchers": {"tier": "backbone"}, "receiver": "stuck", "continue": True},
            {"matchers": {"tier": "backbone"}, "receiver": "fine"}]},
            receivers=[hook("stuck", stuck, timeout="20s"), hook("fine", fine)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        t0 = time.monotonic()
        for i in range(3):  # three groups queue up behind the hung one
            d.update([make_alert(f"a{j}", link=f"l{j}") for j in range(i + 1)],
                     datetime.now(UTC))
            await asyncio.sleep(0.1)
        await eventually(lambda: len(fine.delivered) >= 1, timeout_s=2)
        first = time.monotonic() - t0
        await eventually(lambda: stuck.requests, timeout_s=2)
        closing = time.monotonic()
        await d.aclose()
        close_s = time.monotonic() - closing
    assert first < 1.0
    assert stuck.delivered == []
    assert close_s < 5.0  # aclose is bounded even while a send hangs
    assert metric(d, "netmon_notifications_queued", "stuck") >= 1


async def test_undelivered_notifications_survive_a_restart(tmp_path: Path) -> None:
    a1 = make_alert("a1")
    async with WebhookServer(statuses=[503] * 1000) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [a1], 0.4)
        await d.aclose()
        assert server.delivered == []
        tried = {r.json()["id"] for r in server.requests}
        assert len(tried) == 1

        server.statuses.clear()  # the receiver is back
        d2 = Dispatcher(opts, tmp_path)
        assert (tmp_path / "alerts.sqlite").exists()
        await d2.start()
        await feed(d2, [a1], 0.6)  # still firing: no second firing notification
        await d2.aclose()
    assert [r.json()["id"] for r in server.delivered] == list(tried)


async def test_restart_sends_no_second_firing_and_a_resolve_made_while_down(
        tmp_path: Path) -> None:
    a1 = make_alert("a1", started_s_ago=60)
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_wait": "30s",
                              "group_interval": "100ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        # Started a minute ago, longer than group_wait: looked at at once.
        await feed(d, [a1], 0.3)
        await d.aclose()
        assert len(server.delivered) == 1

        d2 = Dispatcher(opts, tmp_path)
        await d2.start()
        await feed(d2, [a1], 0.3)
        await d2.aclose()
        assert len(server.delivered) == 1

        # It resolved while netmon was down; the engine hands it over resolved.
        d3 = Dispatcher(opts, tmp_path)
        await d3.start()
        await feed(d3, [make_alert("a1", "resolved", starts_at=a1.starts_at)], 0.3)
        await d3.aclose()
    statuses = [r.json()["status"] for r in server.delivered]
    assert statuses == ["firing", "resolved"]


async def test_update_never_blocks(tmp_path: Path) -> None:
    opts = options(route={"group_wait": "50ms"})
    d = Dispatcher(opts, tmp_path)
    await d.start()
    many = [make_alert(f"a{i}", link=f"l{i}") for i in range(2000)]
    took = []
    for _ in range(5):  # the fastest of a few: the machine is shared
        t0 = time.perf_counter()
        d.update(many, datetime.now(UTC))
        took.append(time.perf_counter() - t0)
    assert min(took) < 0.005  # it only hands the list over; the dispatch task groups
    await d.aclose()


async def test_the_log_receiver_is_always_on(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="netmon.alerts.notify")
    a1 = make_alert("a1", started_s_ago=5)
    d = Dispatcher(options(route={"group_wait": "50ms", "group_interval": "50ms"}), tmp_path)
    await d.start()
    await feed(d, [a1], 0.3)
    await feed(d, [make_alert("a1", "resolved", starts_at=a1.starts_at)], 0.3)
    await d.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "netmon.alerts.notify"]
    assert len(lines) == 2
    assert lines[0].startswith("alert firing since ")
    assert "alertname=link_utilisation_high severity=warning device=hni-core-a" in lines[0]
    assert lines[0].endswith(" - ge-0/0/1 at 63.2% of 400 Mbit/s")
    assert lines[1].startswith("alert resolved: alertname=link_utilisation_high")
    assert metric(d, "netmon_notifications_sent_total", "log") == 2


async def test_undelivered_past_max_age_is_dropped_and_counted(tmp_path: Path) -> None:
    async with WebhookServer(statuses=[503] * 1000) as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"}, max_age="400ms",
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert("a1")], datetime.now(UTC))
        await eventually(lambda: metric(d, "netmon_notifications_dropped_total", "noc") == 1)
        tries = len(server.requests)
        await asyncio.sleep(0.3)
        await d.aclose()
    assert tries >= 2 and len(server.requests) == tries
    assert metric(d, "netmon_notifications_queued", "noc") == 0


async def test_update_before_start_and_close_without_start(tmp_path: Path) -> None:
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms"},
                       receivers=[hook("noc", server)])
        idle = Dispatcher(opts, tmp_path / "idle")
        await idle.aclose()
        d = Dispatcher(opts, tmp_path)
        d.update([make_alert("a1")], datetime.now(UTC))
        await d.start()
        await eventually(lambda: server.delivered)
        await d.aclose()
        await d.aclose()  # twice is harmless


async def test_send_resolved_false_gets_firing_only(tmp_path: Path) -> None:
    a1 = make_alert("a1")
    async with WebhookServer() as server:
        opts = options(route={"receiver": "noc", "group_wait": "50ms",
                              "group_interval": "50ms"},
                       receivers=[{**hook("noc", server), "send_resolved": False}])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        await feed(d, [a1], 0.3)
        await feed(d, [make_alert("a1", "resolved", starts_at=a1.starts_at)], 0.3)
        await feed(d, [make_alert("a1", started_s_ago=0)], 0.3)  # a new episode
        await d.aclose()
    assert [r.json()["status"] for r in server.delivered] == ["firing", "firing"]


async def test_a_newer_notification_of_a_group_replaces_an_undelivered_one(
        tmp_path: Path) -> None:
    async with WebhookServer(statuses=[503] * 1000) as server:
        opts = options(route={"receiver": "noc", "group_by": ["alertname"],
                              "group_wait": "50ms", "group_interval": "100ms"},
                       receivers=[hook("noc", server)])
        d = Dispatcher(opts, tmp_path)
        await d.start()
        a1, a2 = make_alert("a1"), make_alert("a2", link="ge-0/0/2")
        await feed(d, [a1], 0.3)
        await feed(d, [a1, a2], 0.3)
        assert metric(d, "netmon_notifications_queued", "noc") == 1
        server.statuses.clear()  # back
        await eventually(lambda: server.delivered)
        await feed(d, [a1, a2], 0.3)
        await d.aclose()
    assert len(server.delivered) == 1
    assert sorted(a["fingerprint"] for a in server.delivered[0].json()["alerts"]) == [
        "a1", "a2"]


async def test_one_group_in_backoff_does_not_hold_back_the_others(tmp_path: Path) -> None:
    def refuse_bad(got) -> int | None:
        return 500 if b'"fingerprint": "bad"' in got.body else None

    async with WebhookServer(status_for=refuse_bad) as server:
        opts = options(route={"receiver": "noc", "group_by": ["link"], "group_wait": "50ms"},
                       receivers=[hook("noc", server)], retry_backoff="2s",
                       retry_backoff_max="2s")
        d = Dispatcher(opts, tmp_path)
        await d.start()
        d.update([make_alert("bad", link="l1")], datetime.now(UTC))
        await eventually(lambda: server.requests)  # failed once, now waits 2 s
        d.update([make_alert("bad", link="l1"), make_alert("good", link="l2")],
                 datetime.now(UTC))
        t0 = time.monotonic()
        await eventually(lambda: server.delivered, timeout_s=1.5)
        took = time.monotonic() - t0
        await d.aclose()
    assert took < 1.0
    assert [a["fingerprint"] for a in server.delivered[0].json()["alerts"]] == ["good"]
