"""InfluxSink against real servers on loopback: VictoriaMetrics, and tiny aiohttp
servers that answer what a broken InfluxDB would (401, 400, 503)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr
from vmetrics import VictoriaMetrics, free_port

from netmon.model import Sample
from netmon.sinks.influx import InfluxOptions, InfluxSink, Outcome, classify_status
from netmon.sinks.lineproto import encode_many
from netmon.sinks.spool import Spool, SpoolOptions, encode_body

TOKEN = "s3cret-t0ken-value"
MATCH = '{__name__=~"interface_.*", __name__!="interface_status"}'  # strings: see vmetrics
REPO = Path(__file__).resolve().parents[3]


def options(url: str, **kw: object) -> InfluxOptions:
    base: dict[str, object] = {
        "url": url, "org": "netmon", "bucket": "netmon", "token": SecretStr(TOKEN),
        "flush_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.2, "timeout": 2.0,
        "close_timeout": 20.0,
    }
    base.update(kw)
    return InfluxOptions.model_validate(base)


def expected_series(samples: Sequence[Sample]) -> dict[tuple, list[tuple[int, float]]]:
    """What VictoriaMetrics must hold: numeric fields only (it stores strings as 0)."""
    out: dict[tuple, list[tuple[int, float]]] = {}
    for s in samples:
        ts_ms = int(s.ts.timestamp() * 1000)
        labels = sorted((k, v) for k, v in s.tags.items() if v)
        for field, value in s.fields.items():
            if isinstance(value, str):
                continue
            out.setdefault((f"{s.measurement}_{field}", *labels), []).append(
                (ts_ms, float(value))
            )
    for points in out.values():
        points.sort()
    return out


async def wait_until(predicate, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_samples_arrive_exactly(vm: VictoriaMetrics, tmp_path: Path, make_samples) -> None:
    samples = make_samples(2_000)
    sink = InfluxSink(options(vm.url, batch_size=700), Spool(tmp_path / "spool.sqlite"))
    for i in range(0, len(samples), 300):
        await sink.write(samples[i : i + 300])
    await sink.aclose()

    assert vm.series(MATCH) == expected_series(samples)
    stats = sink.stats
    assert stats.points_written == 2_000
    assert (stats.points_spooled, stats.points_dropped, stats.write_errors) == (0, 0, 0)


async def test_small_writes_are_flushed_without_closing(
    vm: VictoriaMetrics, tmp_path: Path, make_samples
) -> None:
    # A daemon writes a few points per poll and never closes: each write must
    # reach the database within the flush interval, not wait for a full batch.
    samples = make_samples(12)
    sink = InfluxSink(options(vm.url, flush_interval=0.2), Spool(tmp_path / "spool.sqlite"))
    try:
        await sink.write(samples)
        await wait_until(lambda: sink.stats.points_written == 12, 5.0, "first flush")
        await asyncio.sleep(0.5)  # idle, then another small write
        more = make_samples(24)[12:]
        await sink.write(more)
        await wait_until(lambda: sink.stats.points_written == 24, 5.0, "second flush")
    finally:
        await sink.aclose()
    vm.force_flush()
    assert vm.count(MATCH) == sum(
        len(points) for points in expected_series(samples + more).values())


async def test_outage_spools_then_replays_in_order(
    vm: VictoriaMetrics, tmp_path: Path, make_samples
) -> None:
    samples = make_samples(1_200)
    spool = Spool(tmp_path / "spool.sqlite")
    sink = InfluxSink(options(vm.url, batch_size=100), spool)
    await sink.write(samples[:200])
    await wait_until(lambda: sink.stats.points_written == 200, what="first delivery")

    vm.stop()
    for i in range(200, 800, 100):  # several flush intervals while the server is down
        await sink.write(samples[i : i + 100])
        await asyncio.sleep(0.08)
    await wait_until(lambda: spool.depth_points == 600, what="600 points spooled")
    assert sink.stats.write_errors >= 1
    assert "cannot reach" in (sink.stats.last_error or "")
    assert sink.stats.spool_oldest_age_s > 0

    vm.start()
    await sink.write(samples[800:1_000])  # new data while a backlog exists
    await wait_until(lambda: spool.depth_points == 0, what="spool replayed")
    await sink.write(samples[1_000:])
    await sink.aclose()

    assert vm.series(MATCH) == expected_series(samples)
    assert sink.stats.points_written == 1_200
    assert sink.stats.points_dropped == 0


async def test_spool_bound_drops_oldest_during_outage(
    vm: VictoriaMetrics, tmp_path: Path, make_samples, caplog: pytest.LogCaptureFixture
) -> None:
    samples = make_samples(1_000)
    lines = encode_many(samples)
    one_batch = len(encode_body(lines[:100]))
    spool = Spool(tmp_path / "spool.sqlite", SpoolOptions(max_size=one_batch * 3))
    sink = InfluxSink(options(vm.url, batch_size=100), spool)
    vm.stop()
    for i in range(0, 1_000, 100):
        await sink.write(samples[i : i + 100])
        await wait_until(lambda i=i: spool.depth_points + spool.dropped_points == i + 100)
    stats = sink.stats
    assert stats.points_dropped == spool.dropped_points > 0
    assert stats.points_dropped + stats.spool_depth_points == 1_000
    assert "oldest" in caplog.text and "dropped" in caplog.text

    vm.start()
    await sink.aclose()
    kept = samples[stats.points_dropped :]  # exactly the newest ones arrive
    assert vm.series(MATCH) == expected_series(kept)


async def test_killed_process_leaves_spool_that_a_new_sink_delivers(
    vm: VictoriaMetrics, tmp_path: Path, make_samples
) -> None:
    state = tmp_path / "state"
    vm.stop()
    script = textwrap.dedent(
        f"""
        import asyncio, sys, time
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from pathlib import Path
        from pydantic import SecretStr
        from netmon.sinks.influx import InfluxOptions, InfluxSink, Outcome, classify_status
        from netmon.sinks.spool import Spool, SpoolOptions, encode_body
        from tests.netmon.sinks.conftest import interface_samples
        from datetime import datetime

        async def main():
            start = datetime.fromisoformat(sys.argv[1])
            spool = Spool.in_state_dir(Path({str(state)!r}))
            opts = InfluxOptions(url={vm.url!r}, org="o", bucket="b",
                                 token=SecretStr("x"), flush_interval=0.05,
                                 retry_initial=0.05, retry_max=0.1, timeout=1)
            sink = InfluxSink(opts, spool)
            samples = interface_samples(900, start=start)
            for i in range(0, 900, 300):
                await sink.write(samples[i:i + 300])
                await asyncio.sleep(0.1)
            while spool.depth_points < 900:
                await asyncio.sleep(0.02)
            print("SPOOLED", flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    samples = make_samples(900)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, samples[0].ts.isoformat()],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        assert line.strip() == b"SPOOLED"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    assert proc.returncode == -signal.SIGKILL

    vm.start()
    spool = Spool.in_state_dir(state)
    assert spool.depth_points == 900
    sink = InfluxSink(options(vm.url), spool)
    await sink.start()
    await sink.aclose()
    assert spool.depth_points == 0
    assert vm.series(MATCH) == expected_series(samples)


class FakeInflux:
    """A loopback HTTP server answering /api/v2/write with scripted statuses."""

    def __init__(
        self, responses: list[tuple[int, dict | None]], then: int = 204, hang_s: float = 0.0
    ) -> None:
        self.responses = list(responses)
        self.then = then
        self.hang_s = hang_s  # the first request waits this long before answering
        self.requests: list[tuple[int, list[str], dict[str, str]]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        if self.hang_s and not self.requests:
            self.requests.append((0, [], {}))
            await asyncio.sleep(self.hang_s)
            return web.Response(status=204)
        status, payload = self.responses.pop(0) if self.responses else (self.then, None)
        self.requests.append((status, body.decode().splitlines(), dict(request.headers)))
        if payload is None:
            return web.Response(status=status)
        return web.json_response(payload, status=status)

    async def __aenter__(self) -> FakeInflux:
        app = web.Application()
        app.router.add_post("/api/v2/write", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()

    def delivered(self) -> list[str]:
        return [line for status, lines, _ in self.requests if status == 204 for line in lines]


async def test_bad_token_is_reported_and_points_stay_spooled(
    tmp_path: Path, make_samples, caplog: pytest.LogCaptureFixture
) -> None:
    unauthorized = {"code": "unauthorized", "message": "unauthorized access"}
    samples = make_samples(50)
    spool = Spool(tmp_path / "spool.sqlite")
    caplog.set_level(logging.DEBUG)
    async with FakeInflux([], then=401) as server:
        server.responses = [(401, unauthorized)] * 10
        sink = InfluxSink(options(server.url), spool)
        await sink.write(samples)
        await wait_until(lambda: sink.stats.config_errors >= 1, what="config error")
        await asyncio.sleep(0.3)  # long back-off: no hot loop of retries
        assert len(server.requests) == 1
        await sink.aclose()  # one last attempt, then the points stay on disk
    assert len(server.requests) == 2
    assert server.requests[0][2]["Authorization"] == f"Token {TOKEN}"
    assert server.requests[0][2]["Content-Encoding"] == "gzip"
    stats = sink.stats
    assert "401" in (stats.last_error or "") and "unauthorized access" in stats.last_error
    assert stats.points_dropped == 0 and stats.points_written == 0
    assert spool.depth_points == 50
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "401" in errors[0].getMessage()
    assert TOKEN not in caplog.text


async def test_repeated_config_errors_stop_the_retries(
    tmp_path: Path, make_samples, caplog: pytest.LogCaptureFixture
) -> None:
    samples = make_samples(40)
    spool = Spool(tmp_path / "spool.sqlite")
    async with FakeInflux([], then=404) as server:
        sink = InfluxSink(options(server.url, config_error_retry=0.05,
                                  config_error_attempts=3), spool)
        await sink.write(samples[:20])
        await wait_until(lambda: sink.halted, what="giving up")
        await sink.write(samples[20:])  # still kept, not sent
        await asyncio.sleep(0.5)
        await sink.aclose()
    assert len(server.requests) == 3  # no retry forever, and none at close
    assert spool.depth_points == 40
    assert sink.stats.points_dropped == 0
    assert "not trying again until netmon restarts" in caplog.text


async def test_rejected_data_drops_only_that_batch(tmp_path: Path, make_samples) -> None:
    samples = make_samples(30)
    lines = encode_many(samples)
    spool = Spool(tmp_path / "spool.sqlite")
    partial = {"code": "invalid", "message": "partial write: field type conflict"}
    async with FakeInflux([(204, None), (400, partial)]) as server:
        sink = InfluxSink(options(server.url, batch_size=10), spool)
        await sink.write(samples[:10])
        await wait_until(lambda: len(server.requests) == 1)
        await sink.write(samples[10:20])
        await wait_until(lambda: len(server.requests) == 2)
        await sink.write(samples[20:])
        await sink.aclose()
    assert server.delivered() == lines[:10] + lines[20:]
    assert sink.stats.points_dropped == 10
    assert "partial write" in (sink.stats.last_error or "")
    assert spool.depth_points == 0


async def test_server_errors_are_retried_in_original_order(tmp_path: Path, make_samples) -> None:
    samples = make_samples(120)
    lines = encode_many(samples)
    spool = Spool(tmp_path / "spool.sqlite")
    busy = [(503, {"message": "busy"}), (429, {"message": "slow down"}), (500, None)]
    async with FakeInflux(busy) as server:
        sink = InfluxSink(options(server.url, batch_size=25), spool)
        for i in range(0, 120, 20):
            await sink.write(samples[i : i + 20])
            await asyncio.sleep(0.03)
        await sink.aclose()
    assert server.delivered() == lines
    assert sink.stats.write_errors == 3
    assert spool.depth_points == 0


async def test_full_queue_overflows_to_spool_without_loss(tmp_path: Path, make_samples) -> None:
    samples = make_samples(200)
    lines = encode_many(samples)
    spool = Spool(tmp_path / "spool.sqlite")
    async with FakeInflux([]) as server:
        sink = InfluxSink(
            options(server.url, batch_size=10, max_queue_points=30, flush_interval=5), spool
        )
        for i in range(0, 200, 20):
            await sink.write(samples[i : i + 20])
        assert sink.stats.points_spooled > 0
        await sink.aclose()
    assert server.delivered() == lines
    assert sink.stats.points_dropped == 0


async def test_close_with_server_down_keeps_everything_spooled(
    tmp_path: Path, make_samples
) -> None:
    port = free_port()  # nothing listens there
    spool = Spool(tmp_path / "spool.sqlite")
    sink = InfluxSink(options(f"http://127.0.0.1:{port}", close_timeout=0.5), spool)
    await sink.write(make_samples(300))
    t = time.monotonic()
    await sink.aclose()
    assert time.monotonic() - t < 3
    assert spool.depth_points == 300
    assert sink.stats.points_dropped == 0 and sink.stats.write_errors >= 1


async def test_timeout_is_retried(tmp_path: Path, make_samples) -> None:
    samples = make_samples(40)
    async with FakeInflux([], hang_s=0.8) as server:
        sink = InfluxSink(options(server.url, timeout=0.3), Spool(tmp_path / "spool.sqlite"))
        await sink.write(samples)
        await wait_until(lambda: len(server.delivered()) == 40, what="delivery after timeout")
        await sink.aclose()
    assert server.delivered() == encode_many(samples)
    assert "no answer within 0.3 s" in (sink.stats.last_error or "")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (204, Outcome.OK), (400, Outcome.BAD_DATA), (401, Outcome.CONFIG),
        (403, Outcome.CONFIG), (404, Outcome.CONFIG), (413, Outcome.CONFIG),
        (429, Outcome.RETRY), (500, Outcome.RETRY), (502, Outcome.RETRY),
        (503, Outcome.RETRY), (307, Outcome.RETRY),
    ],
)
def test_status_classes(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_options_keep_the_token_out_of_repr() -> None:
    opts = options("http://127.0.0.1:1")
    assert TOKEN not in repr(opts) and TOKEN not in json.dumps(opts.model_dump(mode="json"))


async def test_token_is_redacted_before_the_message_is_cut(
    tmp_path: Path, make_samples, caplog: pytest.LogCaptureFixture
) -> None:
    """A server message echoing the token across the 500th character must not leak a piece."""
    for offset in range(480, 501, 4):
        message = "x" * (offset - len("HTTP 401 from ...: ")) + f" token {TOKEN} refused"
        spool = Spool(tmp_path / f"spool{offset}.sqlite")
        async with FakeInflux([(401, {"code": "unauthorized", "message": message})]) as server:
            sink = InfluxSink(options(server.url), spool)
            await sink.write(make_samples(4))
            await wait_until(lambda sink=sink: sink.stats.config_errors >= 1)
            await sink.aclose()
        text = (sink.stats.last_error or "") + caplog.text
        assert TOKEN[:6] not in text, offset
        assert "<secret>" in (sink.stats.last_error or "") or len(message) > 500


async def test_unexpected_failure_in_the_background_task_is_reported_and_kept(
    tmp_path: Path, make_samples, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The task never dies silently: counted, logged, failing set, the batch kept."""
    import netmon.sinks.influx as influx

    samples = make_samples(20)
    calls = {"n": 0}
    real_encode = influx.encode_body

    def flaky(lines: list[str]) -> bytes:  # fault injection: fails once, like a bug would
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected failure")
        return real_encode(lines)

    monkeypatch.setattr(influx, "encode_body", flaky)
    spool = Spool(tmp_path / "spool.sqlite")
    async with FakeInflux([]) as server:
        sink = InfluxSink(options(server.url, retry_max=0.2), spool)
        await sink.write(samples)
        await wait_until(lambda: sink.stats.write_errors == 1, what="the failure counted")
        assert sink.stats.failing and "injected failure" in sink.stats.failing
        assert sink._task is not None and not sink._task.done()
        await wait_until(lambda: sink.stats.points_written == 20, what="the retry")
        assert sink.stats.failing is None
        await sink.aclose()
    assert server.delivered() == encode_many(samples)
    assert "injected failure" in caplog.text
