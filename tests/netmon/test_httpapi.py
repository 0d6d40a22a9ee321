"""The HTTP status API on a real loopback socket: bearer token, Prometheus text,
link and target state, and what /healthz calls healthy.

Step: the read-only window on the daemon. The first tests run a real
``Daemon`` in the test's event loop, polling snmpsim; the /healthz tests drive
a ``DaemonState`` through ``build_app`` served by aiohttp's TestServer (real
HTTP on 127.0.0.1), which lets them set when each target was last attempted.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from netmon.config import load_config
from netmon.daemon import Daemon
from netmon.httpapi import build_app
from netmon.state import DaemonState, TargetState

CORES = ["core-a", "core-b"]
GUARDED = ("/metrics", "/api/targets", "/api/links")


@pytest.fixture
async def running(simnet_agent, netmon_config) -> AsyncIterator[tuple[object, Daemon]]:
    """A Daemon polling core-a and core-b every second into a local store."""
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    daemon = Daemon(load_config(config.path), config.path)
    await daemon.start()
    try:
        yield config, daemon
    finally:
        await daemon.stop()


async def polled(daemon: Daemon, n: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while min(t.polls for t in daemon.state.targets.values()) < n:
        assert time.monotonic() < deadline, f"no {n} polls within {timeout_s} s"
        await asyncio.sleep(0.05)


async def test_bearer_token_guards_everything_but_healthz(running) -> None:
    config, _ = running
    base = f"http://127.0.0.1:{config.http_port}"
    token = config.http_token
    refused = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
               {"Authorization": f"Basic {token}"}, {"Authorization": f"Bearer {token}x"}]
    async with aiohttp.ClientSession() as http:
        for path in GUARDED:
            for headers in refused:
                async with http.get(base + path, headers=headers) as resp:
                    assert resp.status == 401, (path, headers)
                    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                    assert token not in await resp.text()
            async with http.get(base + path, headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, path
        async with http.get(base + "/healthz") as resp:
            assert resp.status == 200
            assert (await resp.text()).startswith("ok")


async def test_metrics_targets_and_links(running, simnet_agent, parse_prometheus) -> None:
    config, daemon = running
    await polled(daemon, 2)
    base = f"http://127.0.0.1:{config.http_port}"
    auth = {"Authorization": f"Bearer {config.http_token}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.get(base + "/metrics") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            metrics = parse_prometheus(await resp.text())
        async with http.get(base + "/api/targets") as resp:
            targets = {t["name"]: t for t in (await resp.json())["targets"]}
        async with http.get(base + "/api/links") as resp:
            links = {(r["target"], r["ifName"]): r for r in (await resp.json())["links"]}

    assert metrics.families["netmon_polls_total"] == "counter"
    assert metrics.families["netmon_spool_depth_points"] == "gauge"
    assert metrics.value("netmon_up") == 1
    assert metrics.value("netmon_targets") == len(CORES)
    for name in CORES:
        assert metrics.value("netmon_polls_total", target=name) >= 2
        assert metrics.value("netmon_poll_errors_total", target=name) == 0
        assert metrics.value("netmon_target_reachable", target=name) == 1
        assert 0 < metrics.value("netmon_poll_duration_seconds", target=name) < 0.5
    assert metrics.value("netmon_points_dropped_total", sink="LocalStore") == 0

    assert set(targets) == set(CORES)
    for name, t in targets.items():
        assert t["reachable"] is True and t["last_error"] is None, t
        assert t["polls"] >= 2 and t["site"] == f"SITE-{name.upper()}"

    expected = {(t, link.if_name): link for t in CORES for link in simnet_agent.links[t]}
    assert set(links) == set(expected)
    for key, row in links.items():
        link = expected[key]
        assert abs(row["util_pct"] - link.util_pct) <= 0.05 * link.util_pct, row
        assert abs(row["in_bps"] - link.in_bps) <= 0.05 * link.in_bps, row
        assert row["capacity_bps"] == link.capacity_bps
        assert row["status"] == link.status, row
        assert row["threshold_pct"] == 50.0


@pytest.mark.parametrize("text", [
    "netmon_up 1\n",  # no TYPE before the sample
    "# TYPE netmon_up gauge\nnetmon_up one\n",
    "# TYPE netmon_up gauge\nnetmon_up{a=\"1\"} 1\nnetmon_up{a=\"1\"} 2\n",
    "# TYPE x gauge\nx{target=core-a} 1\n",
    "# TYPE x gauge\nx{target=\"a\"\"} 1\n",
    "# TYPE x gauge\nx 1 2 3\n",
    "# TYPE x gauge\nx 1",
    "# TYPE x gauges\nx 1\n",
])
def test_the_exposition_check_rejects_malformed_text(text: str, parse_prometheus) -> None:
    with pytest.raises((AssertionError, ValueError)):
        parse_prometheus(text)


# -- /healthz: attempted within 2 x interval ------------------------------------------------


@pytest.fixture
async def health(simnet_agent, netmon_config) -> AsyncIterator[tuple[DaemonState, TestClient]]:
    """/healthz of a DaemonState with one target, core-a, polled every 1 s."""
    config = load_config(netmon_config([simnet_agent.target("core-a")]).path)
    state = DaemonState(scheduler_running=True)
    state.targets["core-a"] = TargetState(config.target("core-a"),
                                          last_attempt_mono=time.monotonic())
    async with TestClient(TestServer(build_app(state, config.settings.http),
                                     host="127.0.0.1")) as client:
        yield state, client


async def test_healthz_200_while_every_target_is_attempted(health) -> None:
    state, client = health
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.text() == "ok: 1 targets\n"
    # Attempted but failing is still healthy: /healthz is about the scheduler.
    ts = state.targets["core-a"]
    ts.reachable, ts.last_error, ts.errors = False, "core-a: no response", 5
    assert (await client.get("/healthz")).status == 200


async def test_healthz_503_when_a_target_is_late(health) -> None:
    state, client = health
    state.targets["core-a"].last_attempt_mono = time.monotonic() - 2.6  # limit: 2 x 1 s
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert re.fullmatch(r"core-a not attempted for \ds \(limit 2s\)\n", await resp.text())

    state.targets["core-a"].last_attempt_mono = time.monotonic() - 1.5
    assert (await client.get("/healthz")).status == 200


async def test_healthz_503_when_never_attempted(health) -> None:
    state, client = health
    state.targets["core-a"].last_attempt_mono = None
    assert (await client.get("/healthz")).status == 200  # just started
    state.started_mono = time.monotonic() - 5
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert "core-a not attempted for 5s" in await resp.text()


async def test_healthz_503_when_the_scheduler_stopped(health) -> None:
    state, client = health
    state.scheduler_running = False
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert "scheduler is not running" in await resp.text()


async def test_healthz_lists_at_most_ten_late_targets(health) -> None:
    state, client = health
    template = state.targets["core-a"].target
    for i in range(12):
        name = f"late-{i:02d}"
        state.targets[name] = TargetState(template.model_copy(update={"name": name}),
                                          last_attempt_mono=time.monotonic() - 10)
    resp = await client.get("/healthz")
    text = await resp.text()
    assert resp.status == 503
    assert text.count("not attempted") == 10 and text.rstrip().endswith("(+2 more)"), text


async def test_healthz_needs_no_token_but_metrics_does(health) -> None:
    _, client = health
    assert (await client.get("/healthz")).status == 200
    for path in GUARDED:
        assert (await client.get(path)).status == 401


# -- hostile Authorization headers and failing sinks ------------------------------------------


async def raw_get(port: int, path: str, authorization: bytes) -> bytes:
    """A GET with header bytes no HTTP client library would send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: " + authorization + b"\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


@pytest.fixture
def http_token(simnet_agent, netmon_config) -> str:
    """The bearer token the ``health`` app is configured with."""
    return netmon_config([simnet_agent.target("core-a")]).http_token


async def test_non_utf8_authorization_is_401_not_500(health, http_token: str) -> None:
    token = http_token
    _, client = health
    port = client.port
    assert port is not None
    for header in (b"Bearer \xff\xfe\xfd", b"\xff\xff " + token.encode(),
                   b"Bearer " + token.encode() + b"\xc3", b"Bearer \xed\xa0\x80"):
        answer = await raw_get(port, "/metrics", header)
        assert answer.startswith(b"HTTP/1.1 401"), (header, answer[:200])
        assert b"Traceback" not in answer
    assert (await raw_get(port, "/metrics", b"Bearer " + token.encode())).startswith(
        b"HTTP/1.1 200")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_bearer_scheme_is_case_insensitive(health, http_token: str, scheme: str) -> None:
    token = http_token
    _, client = health
    resp = await client.get("/metrics", headers={"Authorization": f"{scheme} {token}"})
    assert resp.status == 200
    resp = await client.get("/metrics", headers={"Authorization": f"{scheme} {token}x"})
    assert resp.status == 401


async def test_a_failing_sink_shows_in_healthz_and_metrics(running, parse_prometheus) -> None:
    """The local store cannot write: 503 with the reason, errors counted, points kept."""
    config, daemon = running
    base = f"http://127.0.0.1:{config.http_port}"
    auth = {"Authorization": f"Bearer {config.http_token}"}
    store = daemon.sinks[0]
    store._db.execute("PRAGMA query_only = ON")  # a real SQLite refusal, as a read-only disk
    deadline = time.monotonic() + 10
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(base + "/healthz") as resp:
                status, text = resp.status, await resp.text()
            if status == 503:
                break
            assert time.monotonic() < deadline, "the failing sink never showed in /healthz"
            await asyncio.sleep(0.1)
        assert "local store" in text and "readonly" in text
        async with http.get(base + "/metrics", headers=auth) as resp:
            metrics = parse_prometheus(await resp.text())
        errors = metrics.value("netmon_sink_write_errors_total", sink="LocalStore")
        assert errors >= 1
        kept = store.stats.queue_points
        assert kept > 0
        store._db.execute("PRAGMA query_only = OFF")
        deadline = time.monotonic() + 10
        while store.stats.failing is not None or store.stats.points_written < kept:
            assert time.monotonic() < deadline, "the store did not recover"
            await asyncio.sleep(0.1)
        async with http.get(base + "/healthz") as resp:
            assert resp.status == 200
