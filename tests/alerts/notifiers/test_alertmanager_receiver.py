"""The Alertmanager receiver against a real Alertmanager (Debian prometheus-alertmanager)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notify_support import make_alert, options
from receivers import Alertmanager, eventually, free_port

from alerts.dispatch import Dispatcher
from alerts.notifiers.alertmanager import (
    RESOLVED_RETENTION_S,
    AlertmanagerNotifier,
    AlertmanagerOptions,
)
from alerts.notifiers.base import ReceiverContext


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    with Alertmanager(tmp_path_factory.mktemp("am1")) as server:
        yield server


@pytest.fixture(scope="module")
def am2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    with Alertmanager(tmp_path_factory.mktemp("am2")) as server:
        yield server


def held(server: Alertmanager, alertname: str) -> list[dict]:
    return [a for a in server.alerts() if a["labels"].get("alertname") == alertname]


def sent(d: Dispatcher, receiver: str) -> float:
    return next(v for name, labels, v in d.metrics()
                if name == "netmon_notifications_sent_total" and labels["receiver"] == receiver)


async def feed(d: Dispatcher, alerts: list, seconds: float, every_s: float) -> None:
    end = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < end:
        d.update(alerts, datetime.now(UTC))
        await asyncio.sleep(every_s)


async def test_firing_alert_reaches_alertmanager_with_labels_and_ends_at(
        am: Alertmanager, tmp_path: Path) -> None:
    opts = options(route={"receiver": "am"},
                   receivers=[{"name": "am", "alertmanager": {"urls": [am.url]}}])
    d = Dispatcher(opts, tmp_path, eval_interval_s=90.0)
    await d.start()
    alert = make_alert("f1", alertname="am_firing_test", started_s_ago=120)
    before = datetime.now(UTC)
    d.update([alert], before)
    got = await eventually(lambda: held(am, "am_firing_test"))
    await d.aclose()
    assert len(got) == 1
    one = got[0]
    assert one["labels"] == dict(alert.labels)
    assert one["annotations"] == dict(alert.annotations)
    assert one["generatorURL"] == alert.generator_url
    starts = datetime.fromisoformat(one["startsAt"])
    assert abs((starts - alert.starts_at).total_seconds()) < 0.01
    # endsAt = now + 4 x max(evaluation interval 90 s, resend delay 60 s) = now + 6 min.
    ends = datetime.fromisoformat(one["endsAt"])
    assert abs((ends - (before + timedelta(seconds=360))).total_seconds()) < 1.0
    assert one["status"]["state"] == "active"


async def test_resends_every_resend_delay_and_resolves(am: Alertmanager, tmp_path: Path) -> None:
    opts = options(route={"receiver": "am"},
                   receivers=[{"name": "am", "alertmanager": {"urls": [am.url],
                                                               "resend_delay": "1s"}}])
    d = Dispatcher(opts, tmp_path, eval_interval_s=0.25)
    await d.start()
    alert = make_alert("r1", alertname="am_resend_test")
    d.update([alert], datetime.now(UTC))
    first = await eventually(lambda: held(am, "am_resend_test"))
    first_end = datetime.fromisoformat(first[0]["endsAt"])
    await feed(d, [alert], 2.3, 0.25)
    # The first send, then one per second: endsAt moved on at each.
    assert 3 <= sent(d, "am") <= 4
    later_end = datetime.fromisoformat(held(am, "am_resend_test")[0]["endsAt"])
    assert later_end - first_end >= timedelta(seconds=1.9)

    resolved = make_alert("r1", "resolved", alertname="am_resend_test",
                          starts_at=alert.starts_at)
    d.update([resolved], datetime.now(UTC))
    # Gone at once: the resolve was sent (the last endsAt is still ~4 s ahead).
    await eventually(lambda: not held(am, "am_resend_test"), timeout_s=1.0)
    assert datetime.now(UTC) < later_end
    await d.aclose()


async def test_ha_cluster_gets_every_batch_and_one_replica_down_is_not_a_failure(
        am: Alertmanager, am2: Alertmanager, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    opts = options(route={"receiver": "am"},
                   receivers=[{"name": "am", "alertmanager": {"urls": [am.url, am2.url, dead]}}])
    d = Dispatcher(opts, tmp_path)
    await d.start()
    d.update([make_alert("h1", alertname="am_ha_test")], datetime.now(UTC))
    await eventually(lambda: held(am, "am_ha_test") and held(am2, "am_ha_test"))
    await eventually(lambda: sent(d, "am") == 1)
    await d.aclose()


async def test_routing_tree_decides_what_reaches_alertmanager(
        am: Alertmanager, tmp_path: Path) -> None:
    opts = options(route={"routes": [{"matchers": {"tier": "backbone"}, "receiver": "am"}]},
                   receivers=[{"name": "am", "alertmanager": {"urls": [am.url]}}])
    d = Dispatcher(opts, tmp_path)
    await d.start()
    d.update([make_alert("t1", alertname="am_route_test", tier="backbone", link="a"),
              make_alert("t2", alertname="am_route_test", tier="district", link="b")],
             datetime.now(UTC))
    got = await eventually(lambda: held(am, "am_route_test"))
    await asyncio.sleep(0.3)
    await d.aclose()
    assert [a["labels"]["tier"] for a in held(am, "am_route_test")] == ["backbone"]
    assert len(got) == 1


def test_select_follows_prometheus_needs_sending() -> None:
    notifier = AlertmanagerNotifier(AlertmanagerOptions(urls=("http://127.0.0.1:1",)),
                                    ReceiverContext("am", eval_interval_s=60.0))
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    firing = make_alert("x", starts_at=t0)

    def at(alerts: list, minutes: float) -> list:
        return notifier.select(alerts, t0 + timedelta(minutes=minutes))

    first = at([firing], 0)
    assert [a.ends_at for a in first] == [t0 + timedelta(minutes=4)]
    assert at([firing], 0.5) == []          # not yet: resend_delay is 1m
    assert len(at([firing], 1.0)) == 1      # every evaluation of 1m
    assert len(at([firing], 2.0)) == 1
    resolved = replace(make_alert("x", "resolved", starts_at=t0),
                       ends_at=t0 + timedelta(minutes=2, seconds=30))
    sent_resolved = at([resolved], 2.5)      # at once, though < 1m since the last send
    assert [a.ends_at for a in sent_resolved] == [resolved.ends_at]
    assert at([resolved], 3.0) == []
    assert len(at([resolved], 3.5)) == 1    # re-sent every minute ...
    kept = 2.5 + RESOLVED_RETENTION_S / 60
    assert len(at([resolved], kept - 0.1)) == 1
    assert at([resolved], kept + 1) == []   # ... for 15 minutes


async def test_while_alertmanager_is_down_newer_batches_replace_queued_ones(
        tmp_path: Path) -> None:
    late = Alertmanager(tmp_path / "late")
    opts = options(route={"receiver": "am"},
                   receivers=[{"name": "am", "alertmanager": {"urls": [late.url],
                                                               "resend_delay": "1s"}}])
    d = Dispatcher(opts, tmp_path, eval_interval_s=0.25)
    await d.start()
    alert = make_alert("d1", alertname="am_down_test")
    queued = []
    for _ in range(12):  # 3 s: three resend batches while nobody listens
        d.update([alert], datetime.now(UTC))
        queued.append(next(v for name, labels, v in d.metrics()
                           if name == "netmon_notifications_queued"
                           and labels["receiver"] == "am"))
        await asyncio.sleep(0.25)
    assert max(queued) <= 2  # the one in flight and the latest, never a backlog
    try:
        late.start()
        await feed(d, [alert], 1.0, 0.25)
        got = await eventually(lambda: held(late, "am_down_test"))
        assert datetime.fromisoformat(got[0]["endsAt"]) > datetime.now(UTC)
    finally:
        await d.aclose()
        late.stop()
