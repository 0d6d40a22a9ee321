"""Storage throughput (step: rates -> storage), measured against a real VictoriaMetrics.

    python3 bench/sink_throughput.py [--devices 1000] [--cycles 8] [--runs 5]

Prints the median of ``--runs`` runs of:

* line-protocol encode, microseconds per point (one point = one sample = one
  line of 12 fields), for a first cycle (tag-set cache cold) and the next ones;
* points/s written through ``InfluxSink`` to VictoriaMetrics on loopback
  (one ``write`` of 24 samples per device, as fast as they come, then
  ``aclose``; encoding included); goal >= 50,000;
* spool replay points/s: the spool is filled while the server is away, then a
  new sink replays it; goal >= 100,000.

Not part of the test suite. Needs /usr/bin/victoria-metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon.model import Sample  # noqa: E402
from netmon.sinks import lineproto  # noqa: E402
from netmon.sinks.influx import InfluxOptions, InfluxSink  # noqa: E402
from netmon.sinks.spool import Spool  # noqa: E402
from tests.vmetrics import VictoriaMetrics  # noqa: E402

IFACES_PER_DEVICE = 24


def cycle(devices: int, ts: datetime, seed: int = 0) -> list[Sample]:
    out = []
    for d in range(devices):
        device = f"site{d % 63:02d}-r{d:04d}"
        for i in range(IFACES_PER_DEVICE):
            v = (d * 31 + i * 7 + seed) % 1000
            out.append(
                Sample(
                    target=device,
                    measurement="interface",
                    tags={
                        "site": f"S{d % 63:02d}", "tier": "access" if d % 5 else "core",
                        "province": f"P{d % 63:02d}", "plane": "AB"[d % 2], "device": device,
                        "ifName": f"xe-0/0/{i}", "role": "uplink" if i < 2 else "access",
                        "link": f"L-{d:04d}-{i:02d}",
                    },
                    fields={
                        "in_bps": 1e6 * v + 0.25, "out_bps": 2e6 * v + 0.5,
                        "util_in_pct": v / 10, "util_out_pct": v / 20, "util_pct": v / 10,
                        "capacity_bps": 10_000_000_000, "oper_status": 1,
                        "in_errors_per_s": 0.0, "out_errors_per_s": 0.0,
                        "in_discards_per_s": 0.01 * v, "out_discards_per_s": 0.0,
                        "status": "up",
                    },
                    ts=ts,
                )
            )
    return out


def cycles(devices: int, n: int, run: int) -> list[list[Sample]]:
    """``n`` cycles a minute apart within the last hour; runs differ by ``run`` ms.

    Same hour, same series for every run: VictoriaMetrics indexes series per
    day, and the first point of a series on a day costs much more than the next.
    """
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, milliseconds=-run)
    return [cycle(devices, start + timedelta(seconds=60 * c), seed=c) for c in range(n)]


def bench_encode(devices: int) -> tuple[float, float]:
    lineproto._prefix_cache.clear()
    first, second = cycles(devices, 2, 0)
    t = time.perf_counter()
    lineproto.encode_many(first)
    cold = (time.perf_counter() - t) / len(first) * 1e6
    t = time.perf_counter()
    lineproto.encode_many(second)
    warm = (time.perf_counter() - t) / len(second) * 1e6
    return cold, warm


def opts(url: str, **kw: object) -> InfluxOptions:
    base: dict[str, object] = {
        "url": url, "org": "bench", "bucket": "bench", "token": SecretStr("bench"),
        "flush_interval": 0.2, "retry_initial": 0.05, "retry_max": 0.5,
        "close_timeout": 600, "max_queue_points": 1_000_000,
    }
    base.update(kw)
    return InfluxOptions.model_validate(base)


async def bench_write(vm: VictoriaMetrics, state: Path, data: list[list[Sample]]) -> float:
    sink = InfluxSink(opts(vm.url), Spool(state / "spool-write.sqlite"))
    n = sum(len(c) for c in data)
    t = time.perf_counter()
    for c in data:
        # One write per device, as the poller does; devices answer one after another.
        for i in range(0, len(c), IFACES_PER_DEVICE):
            await sink.write(c[i : i + IFACES_PER_DEVICE])
            await asyncio.sleep(0)
    await sink.aclose()
    elapsed = time.perf_counter() - t
    assert sink.stats.points_written == n, sink.stats
    return n / elapsed


async def bench_replay(vm: VictoriaMetrics, state: Path, data: list[list[Sample]]) -> float:
    spool = Spool(state / "spool-replay.sqlite")
    n = 0
    for c in data:
        lines = lineproto.encode_many(c)
        for i in range(0, len(lines), 5000):
            spool.append(lines[i : i + 5000])
        n += len(lines)
    sink = InfluxSink(opts(vm.url), spool)
    t = time.perf_counter()
    await sink.start()
    await sink.aclose()
    elapsed = time.perf_counter() - t
    assert spool.depth_points == 0 and sink.stats.points_written == n, sink.stats
    return n / elapsed


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    enc_cold, enc_warm, write, replay = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        tmpdir = Path(tmp)
        with VictoriaMetrics(tmpdir / "vm") as vm:
            # Register the series once: a monitored network's series are stable, and
            # VictoriaMetrics is much slower on a point that creates a new series.
            await bench_write(vm, tmpdir / "warmup", cycles(args.devices, 1, 999))
            for run in range(args.runs):
                cold, warm = bench_encode(args.devices)
                enc_cold.append(cold)
                enc_warm.append(warm)
                state = tmpdir / f"state{run}"
                data = cycles(args.devices, args.cycles, 2 * run)
                write.append(await bench_write(vm, state, data))
                data = cycles(args.devices, args.cycles, 2 * run + 1)
                replay.append(await bench_replay(vm, state, data))

    n = args.devices * IFACES_PER_DEVICE * args.cycles
    rows = [
        ("line protocol encode, first cycle", f"{statistics.median(enc_cold):.2f} µs/point", "-"),
        ("line protocol encode, next cycles", f"{statistics.median(enc_warm):.2f} µs/point", "-"),
        ("InfluxSink -> VictoriaMetrics", f"{statistics.median(write):,.0f} points/s",
         ">= 50,000"),
        ("spool replay -> VictoriaMetrics", f"{statistics.median(replay):,.0f} points/s",
         ">= 100,000"),
    ]
    print(f"netmon sink throughput: {args.devices} devices x {IFACES_PER_DEVICE} interfaces x "
          f"{args.cycles} cycles = {n:,} points (12 fields each) per run; "
          f"median of {args.runs} runs")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"{platform.machine()}, {platform.system()} {platform.release()}, "
          f"load average at the end {load} (VictoriaMetrics shares these CPUs)")
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'what':<{w[0]}}  {'median':>{w[1]}}  goal")
    for what, value, goal in rows:
        print(f"{what:<{w[0]}}  {value:>{w[1]}}  {goal}")


if __name__ == "__main__":
    asyncio.run(main())
