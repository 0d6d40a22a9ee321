"""CPU per interface poll through the real poll path (step: collectors -> samples -> rates).

    python3 bench/poll_cpu.py [--devices 200] [--interfaces 24] [--runs 5] [--mode both]

Simulates ``--devices`` routers of ``--interfaces`` interfaces each
(``netmon.simnet.device_records``), served by several snmpsim processes on
127.0.0.1 (one community = one recording), and polls them all with
``netmon.poll.poll_target`` + ``InterfaceCollector`` + ``RateEngine``,
concurrently as the daemon does (asyncio.gather under a semaphore).

The first cycle reads the metadata (walks) and is not measured. Each
following cycle is timed with ``time.process_time`` (CPU of this process
only: snmpsim runs in other processes) and wall time. Varbinds are counted on
the wire: every PDU exchange a session makes adds the number of varbinds in
its answer. Two modes: ``links`` (24 configured links read with GET) and
``discover`` (``discover: true``: counter columns walked with GETBULK).

Prints the median of ``--runs`` measured cycles per mode and the machine.
Goal: <= 400 µs CPU per interface poll. ``--profile`` prints a cProfile of
one extra cycle per mode (not measured). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collectors.interfaces import InterfaceCollector  # noqa: E402
from netmon import simnet  # noqa: E402
from netmon.config import Link, Target  # noqa: E402
from netmon.credentials import SnmpV2c  # noqa: E402
from netmon.poll import PollResult, open_session, poll_target  # noqa: E402
from netmon.rates import RateEngine  # noqa: E402
from netmon.snmp import SnmpClient, SnmpSession  # noqa: E402

GOAL_CPU_US_PER_IFACE = 400.0


# ---------------------------------------------------------------- simulated network


def sim_interfaces(device: int, count: int) -> list[simnet.SimInterface]:
    """``count`` 64-bit interfaces with varied traffic (10G uplinks, 1G access ports)."""
    out = []
    for i in range(1, count + 1):
        speed = 10_000 if i <= 2 else 1_000
        load = ((device * 37 + i * 11) % 60 + 5) / 100  # 5%..64% of the port
        out.append(simnet.SimInterface(
            index=i, name=f"ge-0/0/{i - 1}", alias=f"LINK-{device:04d}-{i:02d}",
            high_speed_mbps=speed, in_bps=speed * 1e6 * load,
            out_bps=speed * 1e6 * load * 0.7,
            initial_in=device * 1_000_003 + i, initial_out=device * 999_983 + i,
            # Error counters stay static: every numeric variation costs the agent CPU.
        ))
    return out


class SimFarm:
    """Several snmpsim processes on 127.0.0.1, each serving its own set of recordings.

    ``groups[k]`` is ``{community: records}`` for process k. Processes are
    started in parallel; ``start_s`` is how long until all of them answered.
    """

    def __init__(self, groups: Sequence[dict[str, list[simnet.Record]]]) -> None:
        self.groups = groups
        self.procs: list[simnet.SnmpSimProcess] = []
        self.start_s = 0.0

    def start(self, timeout_s: float = 240.0) -> SimFarm:
        t0 = time.monotonic()
        for recordings in self.groups:
            root = simnet.world_dir("netmon-bench-")
            data = simnet.install_recordings(recordings, root)
            proc = simnet.SnmpSimProcess(data)
            self.procs.append(proc)
            proc.start(ready=None)  # Popen only; readiness is checked below, all at once
        waiting = {i: next(iter(g)) for i, g in enumerate(self.groups)}
        deadline = time.monotonic() + timeout_s
        while waiting:
            for i, community in list(waiting.items()):
                p = self.procs[i]
                if not p.running:
                    log = p.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"snmpsim on port {p.port} exited; log:\n{log}")
                if simnet.v2c_answers(p.host, p.port, community, timeout_s=0.2):
                    del waiting[i]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} snmpsim processes did not answer in time")
            if waiting:
                time.sleep(0.2)
        self.start_s = time.monotonic() - t0
        return self

    def pids(self) -> list[int]:
        return [p._proc.pid for p in self.procs if p._proc is not None]

    def cpu_s(self) -> float:
        """CPU seconds used so far by all snmpsim processes (utime + stime)."""
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(stat[11]) + int(stat[12])
        return total / os.sysconf("SC_CLK_TCK")

    def cleanup(self) -> None:
        for p in self.procs:
            p.stop()
        for p in self.procs:
            shutil.rmtree(p.root, ignore_errors=True)


def build_network(devices: int, interfaces: int, per_process: int,
                  delay_ms: Callable[[int], int | None] | None = None,
                  ) -> list[dict[str, list[simnet.Record]]]:
    """Recordings grouped per snmpsim process; community ``dNNNNN`` = device number."""
    groups: list[dict[str, list[simnet.Record]]] = []
    for d in range(devices):
        if d % per_process == 0:
            groups.append({})
        groups[-1][community_of(d)] = simnet.device_records(
            sim_interfaces(d, interfaces), sys_name=f"r{d:05d}", uptime_cs=360_000 + d,
            delay_ms=delay_ms(d) if delay_ms else None)
    return groups


def community_of(device: int) -> str:
    return f"d{device:05d}"


def make_target(device: int, port: int, interfaces: int, discover: bool, *,
                timeout_s: float = 5.0, retries: int = 1, interval_s: float = 60.0,
                community: str | None = None, deadline_s: float | None = None) -> Target:
    links = () if discover else tuple(
        Link.model_validate({"ifName": f"ge-0/0/{i}", "capacity": "1G" if i > 1 else "10G",
                             "role": "access" if i > 1 else ("plane-a", "plane-b")[i]})
        for i in range(interfaces))
    return Target(
        name=f"r{device:05d}", site=f"S{device % 63:02d}", tier="province",
        province=f"P{device % 17:02d}", address="127.0.0.1", port=port,
        snmp=SnmpV2c(version="2c", community=SecretStr(community or community_of(device))),
        interval=interval_s, timeout=timeout_s, retries=retries, discover=discover,
        deadline=deadline_s, links=links,
    )


class VarbindCounter:
    """Counts varbinds in every answer a session decodes (wraps the session's exchange)."""

    def __init__(self) -> None:
        self.varbinds = 0
        self.pdus = 0

    def wrap(self, session: SnmpSession) -> SnmpSession:
        inner = session._exchange

        async def exchange(*args, **kwargs):  # type: ignore[no-untyped-def]
            out = await inner(*args, **kwargs)
            self.varbinds += len(out[2])
            self.pdus += 1
            return out

        session._exchange = exchange  # type: ignore[method-assign]
        return session


async def poll_all(sessions: Sequence[SnmpSession], targets: Sequence[Target],
                   collector: InterfaceCollector, engine: RateEngine,
                   concurrency: int) -> list[PollResult]:
    sem = asyncio.Semaphore(concurrency)

    async def one(session: SnmpSession, target: Target) -> PollResult:
        async with sem:
            return await poll_target(session, target, [collector], engine)

    return await asyncio.gather(*(one(s, t) for s, t in zip(sessions, targets, strict=True)))


# ---------------------------------------------------------------- measurement


async def measure_mode(farm: SimFarm, args: argparse.Namespace, discover: bool,
                       profiler: cProfile.Profile | None) -> dict[str, object]:
    ports = [p.port for p in farm.procs]
    targets = [make_target(d, ports[d // args.per_process], args.interfaces, discover)
               for d in range(args.devices)]
    counter = VarbindCounter()
    collector = InterfaceCollector()
    engine = RateEngine()
    cpu_us: list[float] = []
    wall_s: list[float] = []
    varbinds: list[int] = []
    unrated: list[int] = []
    agent_s: list[float] = []
    async with SnmpClient() as client:
        sessions = [counter.wrap(open_session(client, t)) for t in targets]
        meta_wall = time.monotonic()
        first = await poll_all(sessions, targets, collector, engine, args.concurrency)
        meta_wall = time.monotonic() - meta_wall
        print(f"  {'discover' if discover else 'links'}: metadata cycle {meta_wall:.1f} s wall",
              file=sys.stderr, flush=True)
        failed = [r for r in first if r.error]
        if failed:
            raise RuntimeError(f"{len(failed)} targets failed the metadata cycle: "
                               f"{failed[0].error}")
        for run in range(args.runs + (profiler is not None)):
            await asyncio.sleep(args.pause)
            counter.varbinds = 0
            profiled = profiler is not None and run == args.runs
            if profiled:
                # One extra cycle under the profiler, not counted: cProfile slows it down.
                profiler.enable()
                await poll_all(sessions, targets, collector, engine, args.concurrency)
                profiler.disable()
                break
            a0, w0, c0 = farm.cpu_s(), time.monotonic(), time.process_time()
            results = await poll_all(sessions, targets, collector, engine, args.concurrency)
            c1, w1, a1 = time.process_time(), time.monotonic(), farm.cpu_s()
            agent_s.append(a1 - a0)
            errors = [r.error for r in results if r.error]
            if errors:
                raise RuntimeError(f"{len(errors)} polls failed: {errors[0]}")
            links = sum(len(r.links) for r in results)
            rated = sum(1 for r in results for s in r.links if "in_bps" in s.fields)
            if links != args.devices * args.interfaces:
                raise RuntimeError(f"expected {args.devices * args.interfaces} links, "
                                   f"got {links}")
            unrated.append(links - rated)
            print(f"  {'discover' if discover else 'links'}: cycle {len(wall_s) + 1}: "
                  f"{w1 - w0:.2f} s wall, {(c1 - c0) * 1e6 / links:.0f} µs CPU/iface",
                  file=sys.stderr, flush=True)
            cpu_us.append((c1 - c0) * 1e6 / links)
            wall_s.append(w1 - w0)
            varbinds.append(counter.varbinds)
    cpu_med = statistics.median(cpu_us)
    vb_med = statistics.median(varbinds)
    return {
        "mode": "discover (GETBULK walk)" if discover else "links (GET)",
        "devices": args.devices,
        "ifaces": args.interfaces,
        "varbinds": vb_med,
        "cpu_us": cpu_med,
        "cpu_min": min(cpu_us),
        "cpu_max": max(cpu_us),
        "vb_per_cpu_s": vb_med / (cpu_med * args.devices * args.interfaces / 1e6),
        "wall_s": statistics.median(wall_s),
        "meta_wall_s": meta_wall,
        "unrated": max(unrated),
        "agent_cpu_s": statistics.median(agent_s),
    }


def print_table(rows: list[dict[str, object]], args: argparse.Namespace, farm: SimFarm) -> None:
    print(f"# netmon poll path CPU (this process only), median of {args.runs} cycles after "
          f"the metadata cycle; concurrency {args.concurrency}")
    print(machine_line())
    print(f"# agents: {len(farm.procs)} snmpsim processes on 127.0.0.1 "
          f"({args.per_process} devices each), started in {farm.start_s:.1f} s")
    head = (f"{'mode':<24} {'devices':>7} {'ifaces':>6} {'varbinds/cycle':>14} "
            f"{'CPU µs/iface poll':>17} {'min':>6} {'max':>6} {'varbinds/CPU-s':>14} "
            f"{'cycle wall s':>12} {'agent CPU s':>11} {'no rate':>7} {'goal µs':>8}")
    print("# agent CPU s: all snmpsim processes per cycle (they share the machine's cores)")
    print("# no rate: links left without a rate in the worst cycle (counter_reset events)")
    print(head)
    for r in rows:
        print(f"{r['mode']:<24} {r['devices']:>7} {r['ifaces']:>6} {r['varbinds']:>14.0f} "
              f"{r['cpu_us']:>17.1f} {r['cpu_min']:>6.0f} {r['cpu_max']:>6.0f} "
              f"{r['vb_per_cpu_s']:>14,.0f} {r['wall_s']:>12.2f} {r['agent_cpu_s']:>11.1f} "
              f"{r['unrated']:>7} "
              f"{'<= ' + format(GOAL_CPU_US_PER_IFACE, 'g'):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--interfaces", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5, help="measured cycles per mode")
    parser.add_argument("--mode", choices=("links", "discover", "both"), default="both")
    parser.add_argument("--per-process", type=int, default=50,
                        help="devices per snmpsim process")
    parser.add_argument("--concurrency", type=int, default=100,
                        help="polls in flight at once")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--profile", action="store_true",
                        help="profile one extra (unmeasured) cycle per mode with cProfile")
    args = parser.parse_args()

    farm = SimFarm(build_network(args.devices, args.interfaces, args.per_process))
    rows = []
    profiler = cProfile.Profile() if args.profile else None
    try:
        farm.start()
        modes = {"links": [False], "discover": [True], "both": [False, True]}[args.mode]
        for discover in modes:
            rows.append(asyncio.run(measure_mode(farm, args, discover, profiler)))
    finally:
        farm.cleanup()
    print_table(rows, args, farm)
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


if __name__ == "__main__":
    main()
