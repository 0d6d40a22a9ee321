"""The daemon at scale: 1,000 targets x 24 interfaces with slow and dead agents.

Step: YAML -> scheduler -> collectors -> samples -> rates -> storage, end to end.

    python3 bench/daemon_scale.py [--targets 1000] [--interval 60] [--intervals 2]

Simulates ``--targets`` routers of ``--interfaces`` interfaces. Every agent
answers with 20-80 ms of latency (snmpsim's ``delay`` variation on
sysUpTime.0, asked in every poll). snmpsim's delay sleeps in its one thread
and stalls the whole process, so the targets are spread over many snmpsim
processes (``--per-process`` each, started in parallel). ``--dead-pct`` of
the targets point at a UDP port bound here that never answers.

Measured:

* snmpsim start: time until every process answers;
* burst cycle: every target polled at once (asyncio.gather through
  ``netmon.poll.poll_target``, no cap) in this process, after a first
  metadata cycle; median wall and CPU of ``--runs`` cycles; goal < 15 s;
* the real ``Daemon`` (``netmon run`` in a child process) with a generated
  netmon.yaml, ``interval``, local SQLite storage: after every target's first
  (metadata) poll, ``--intervals`` full intervals are measured: the daemon's
  CPU % of one core from /proc/PID/stat (goal < 40 %), the cycle wall time
  (first slot of the interval to the last poll completed for a slot in it;
  targets are spread over the interval on purpose, so this is close to the
  interval), poll latency and lateness, and peak RSS (ru_maxrss of the child;
  VmHWM agrees).

Quick smoke run: ``--targets 40 --per-process 10 --runs 1 --interval 10 --intervals 1``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from poll_cpu import SimFarm, machine_line, make_target, poll_all, sim_interfaces  # noqa: E402

from netmon import simnet  # noqa: E402
from netmon.poll import open_session  # noqa: E402
from netmon.rates import RateEngine  # noqa: E402
from netmon.snmp import SnmpClient  # noqa: E402

GOAL_BURST_S = 15.0
GOAL_CPU_PCT = 40.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the simulated network


class Network:
    """Which target lives where: port, community, agent delay, dead or alive."""

    def __init__(self, args: argparse.Namespace) -> None:
        rnd = random.Random(42)
        self.args = args
        n = args.targets
        dead_every = round(100 / args.dead_pct) if args.dead_pct > 0 else 0
        self.dead = [dead_every > 0 and d % dead_every == dead_every - 1 for d in range(n)]
        self.delay_ms = [rnd.randint(args.delay_min, args.delay_max) for _ in range(n)]
        self.groups: list[dict[str, list[simnet.Record]]] = []
        self.group_of: list[int] = []
        for d in range(n):
            if d % args.per_process == 0:
                self.groups.append({})
            self.group_of.append(len(self.groups) - 1)
            if not self.dead[d]:
                self.groups[-1][self.community(d)] = simnet.device_records(
                    sim_interfaces(d, args.interfaces), sys_name=f"r{d:05d}",
                    uptime_cs=360_000 + d, delay_ms=self.delay_ms[d])
        # A group of dead targets only needs no process.
        self.live_groups = [g for g in range(len(self.groups)) if self.groups[g]]
        self.farm = SimFarm([self.groups[g] for g in self.live_groups])
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))
        self.ports: list[int] = []

    def community(self, d: int) -> str:
        """Shared across processes (slot within the process), so the config needs few profiles."""
        return f"s{d % self.args.per_process:03d}"

    def start(self) -> None:
        self.farm.start()
        port_of_group = {g: p.port for g, p in zip(self.live_groups, self.farm.procs,
                                                    strict=True)}
        self.ports = [self.blackhole.getsockname()[1] if self.dead[d]
                      else port_of_group[self.group_of[d]] for d in range(self.args.targets)]

    def cleanup(self) -> None:
        self.farm.cleanup()
        self.blackhole.close()


# ---------------------------------------------------------------- burst cycle


async def burst(net: Network, args: argparse.Namespace) -> dict[str, float]:
    from collectors.interfaces import InterfaceCollector

    # Live agents get one long try (when everything is asked at once the agents, not
    # netmon, are the bottleneck); dead ones the daemon's timeout and retries.
    targets = [make_target(d, net.ports[d], args.interfaces, args.mode == "discover",
                           timeout_s=args.timeout if net.dead[d] else args.burst_timeout,
                           retries=args.retries if net.dead[d] else 0,
                           interval_s=args.interval, community=net.community(d),
                           deadline_s=4 * args.burst_timeout)
               for d in range(args.targets)]
    import logging

    logging.getLogger("netmon.poll").setLevel(logging.ERROR)  # one warning per dead target
    collector = InterfaceCollector()
    engine = RateEngine()
    walls: list[float] = []
    cpus: list[float] = []
    agent: list[float] = []
    live_done: list[float] = []
    async with SnmpClient() as client:
        sessions = [open_session(client, t) for t in targets]
        a0, w0 = net.farm.cpu_s(), time.monotonic()
        first = await poll_all(sessions, targets, collector, engine, len(targets))
        meta_wall = time.monotonic() - w0
        meta_agent = net.farm.cpu_s() - a0
        meta_failed = sum(1 for r in first if r.error)
        print(f"  burst: metadata cycle {meta_wall:.1f} s, {meta_failed} failed",
              file=sys.stderr, flush=True)
        failed = failed_live = 0
        for _ in range(args.runs):
            await asyncio.sleep(2.0)
            a0, w0, c0 = net.farm.cpu_s(), time.monotonic(), time.process_time()
            results = await poll_all(sessions, targets, collector, engine, len(targets))
            c1, w1, a1 = time.process_time(), time.monotonic(), net.farm.cpu_s()
            agent.append(a1 - a0)
            live_done.append(max((r.duration_s for d, r in enumerate(results)
                                  if not net.dead[d]), default=0.0))
            failed = sum(1 for r in results if r.error)
            failed_live = sum(1 for d, r in enumerate(results) if r.error and not net.dead[d])
            walls.append(w1 - w0)
            cpus.append(c1 - c0)
            print(f"  burst: cycle {len(walls)}: {w1 - w0:.1f} s wall, {c1 - c0:.1f} s CPU, "
                  f"{failed} failed", file=sys.stderr, flush=True)
    return {"meta_wall_s": meta_wall, "wall_s": statistics.median(walls),
            "wall_max_s": max(walls), "cpu_s": statistics.median(cpus), "failed": failed,
            "failed_live": failed_live, "agent_cpu_s": statistics.median(agent),
            "meta_agent_cpu_s": meta_agent, "live_done_s": statistics.median(live_done)}


# ---------------------------------------------------------------- the daemon


def write_config(net: Network, args: argparse.Namespace, root: Path) -> Path:
    conf = root / "config"
    secrets = conf / "secrets"
    secrets.mkdir(parents=True)
    (conf / "targets").mkdir()
    communities = sorted({net.community(d) for d in range(args.targets)})
    profiles = []
    for c in communities:
        (secrets / c).write_text(c + "\n", encoding="utf-8")
        profiles.append(f"  {c}: {{version: \"2c\", community: \"file:secrets/{c}\"}}\n")
    with socket.socket() as s:  # a free TCP port for the HTTP API
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    discover = "true" if args.mode == "discover" else "false"
    main = conf / "netmon.yaml"
    main.write_text(
        "# Generated by bench/daemon_scale.py\n"
        f"state_dir: {root / 'state'}\n"
        "log_level: warning\n"
        "include: [targets/*.yaml]\n"
        f"http: {{listen: \"127.0.0.1:{http_port}\"}}\n"
        f"defaults: {{interval: {args.interval:g}s, timeout: {args.timeout:g}s, "
        f"retries: {args.retries}, discover: {discover}}}\n"
        "snmp_profiles:\n" + "".join(profiles),
        encoding="utf-8",
    )
    lines = ["targets:\n"]
    for d in range(args.targets):
        lines.append(
            f"  - {{name: r{d:05d}, site: S{d % 63:02d}, tier: province, province: P{d % 17:02d},"
            f" address: \"127.0.0.1\", port: {net.ports[d]}, snmp: {net.community(d)}")
        if args.mode == "links":
            links = ", ".join(
                f"{{ifName: ge-0/0/{i}, capacity: {'10G' if i < 2 else '1G'}}}"
                for i in range(args.interfaces))
            lines.append(f", links: [{links}]")
        lines.append("}\n")
    (conf / "targets" / "sim.yaml").write_text("".join(lines), encoding="utf-8")
    return main


def serve_daemon(config_path: Path, stats_path: Path) -> None:
    """Child process: the real Daemon, recording every poll; stats written on SIGTERM."""
    import logging

    from netmon.config import load_config
    from netmon.daemon import Daemon

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    polls: list[tuple[str, float, float, float, bool]] = []
    started: dict[str, float] = {}

    class RecordingDaemon(Daemon):
        def _record(self, ts, result):  # type: ignore[no-untyped-def]
            changed = super()._record(ts, result)
            polls.append((result.target, result.ts.timestamp(), time.time(),
                          result.duration_s, result.error is not None))
            return changed

        async def start(self) -> None:
            await super().start()
            started["ready"] = time.time()

    t0 = time.time()
    config = load_config(config_path)
    started["loaded"] = time.time()
    daemon = RecordingDaemon(config, config_path)
    asyncio.run(daemon.serve())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "t0": t0, "loaded": started["loaded"], "ready": started.get("ready", 0.0),
        # ru_maxrss survives execve on Linux, so it can carry the parent's size
        # from before the exec; VmHWM belongs to this process image alone.
        "polls": polls, "maxrss_kib": usage.ru_maxrss, "hwm_exit_kib": proc_hwm_kib(os.getpid()),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "overruns": sum(t.overruns for t in daemon.state.targets.values()),
    }
    stats_path.write_text(json.dumps(stats), encoding="utf-8")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_daemon(net: Network, args: argparse.Namespace, root: Path) -> dict[str, float]:
    config = write_config(net, args, root)
    stats_path = root / "stats.json"
    log_path = root / "daemon.log"
    interval = args.interval
    with log_path.open("wb") as log:
        t_start = time.time()
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-daemon", str(config),
             "--stats", str(stats_path)], stdout=log, stderr=subprocess.STDOUT, cwd=root)
        try:
            # Every target's first slot (its metadata poll) falls within one interval of
            # the start; measure whole intervals after that, plus a margin for slow polls.
            window_start = t_start + interval + args.margin
            window_end = window_start + args.intervals * interval
            _sleep_until(window_start, proc)
            cpu0, a0, w0 = proc_cpu_s(proc.pid), net.farm.cpu_s(), time.time()
            _sleep_until(window_end, proc)
            cpu1, a1, w1 = proc_cpu_s(proc.pid), net.farm.cpu_s(), time.time()
            hwm = proc_hwm_kib(proc.pid)
            # Let polls of the last slots in the window finish before stopping.
            tail = max(args.margin, args.timeout * (args.retries + 1) + 2)
            _sleep_until(time.time() + min(tail, interval), proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if not stats_path.exists():
        raise RuntimeError("daemon wrote no stats; log:\n"
                           + log_path.read_text(errors="replace")[-3000:])
    stats = json.loads(stats_path.read_text())
    polls = stats["polls"]
    # Cycles: the polls whose slot lies in each whole interval of the window.
    cycle_walls, durations, late, errors, counted = [], [], [], 0, 0
    for k in range(args.intervals):
        lo, hi = w0 + k * interval, w0 + (k + 1) * interval
        in_cycle = [p for p in polls if lo <= p[1] < hi]
        if not in_cycle:
            continue
        cycle_walls.append(max(p[2] for p in in_cycle) - min(p[1] for p in in_cycle))
        counted += len(in_cycle)
        errors += sum(1 for p in in_cycle if p[4])
        durations += [p[3] for p in in_cycle if not p[4]]
        late += [(p[2] - p[3]) - p[1] for p in in_cycle]
    durations.sort()
    late.sort()
    return {
        "cpu_pct": (cpu1 - cpu0) / (w1 - w0) * 100,
        "agent_pct": (a1 - a0) / (w1 - w0) * 100,
        "window_s": w1 - w0,
        "cycle_wall_s": statistics.median(cycle_walls) if cycle_walls else float("nan"),
        "polls_per_interval": counted / max(1, len(cycle_walls)),
        "errors_per_interval": errors / max(1, len(cycle_walls)),
        "poll_p50_s": _pct(durations, 50), "poll_p99_s": _pct(durations, 99),
        "poll_max_s": durations[-1] if durations else float("nan"),
        "late_p50_s": _pct(late, 50), "late_max_s": late[-1] if late else float("nan"),
        "maxrss_mib": stats["maxrss_kib"] / 1024, "hwm_mib": hwm / 1024,
        "hwm_exit_mib": stats["hwm_exit_kib"] / 1024,
        "overruns": stats["overruns"], "startup_s": stats["ready"] - stats["t0"],
        "cycles": len(cycle_walls),
    }


def _pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def _sleep_until(when: float, proc: subprocess.Popen[bytes]) -> None:
    while time.time() < when:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited early with status {proc.returncode}")
        time.sleep(min(1.0, max(0.0, when - time.time())))


# ---------------------------------------------------------------- report


def print_report(args: argparse.Namespace, net: Network, b: dict[str, float] | None,
                 d: dict[str, float] | None) -> None:
    alive = sum(1 for x in net.dead if not x)
    print(f"# netmon daemon at scale: {args.targets} targets x {args.interfaces} interfaces, "
          f"mode {args.mode}, {args.targets - alive} dead ({args.dead_pct:g}%), agent delay "
          f"{args.delay_min}-{args.delay_max} ms; daemon timeout {args.timeout:g}s x "
          f"{args.retries + 1} tries, burst {args.burst_timeout:g}s x 1")
    print(machine_line())
    print(f"# agents: {len(net.farm.procs)} snmpsim processes on 127.0.0.1 "
          f"(<= {args.per_process} targets each), all answering "
          f"{net.farm.start_s:.1f} s after a parallel start")
    print(f"{'measure':<52} {'measured':>12} {'goal':>10}")

    def row(name: str, value: str, goal: str = "") -> None:
        print(f"{name:<52} {value:>12} {goal:>10}")

    if b is not None:
        row("burst: metadata cycle wall s (all at once)", f"{b['meta_wall_s']:.1f}")
        row(f"burst: cycle wall s, median of {args.runs}", f"{b['wall_s']:.1f}",
            f"< {GOAL_BURST_S:g}")
        row("burst: slowest live poll s, median", f"{b['live_done_s']:.1f}")
        row("burst: metadata cycle snmpsim CPU s (all processes)", f"{b['meta_agent_cpu_s']:.1f}")
        row("burst: cycle CPU s (netmon, bench process)", f"{b['cpu_s']:.1f}")
        row("burst: cycle snmpsim CPU s (all processes)", f"{b['agent_cpu_s']:.1f}")
        row("burst: failed polls in the last cycle (all / live)",
            f"{b['failed']}/{b['failed_live']}", f"{args.targets - alive}/0")
    if d is not None:
        row("daemon: load config + start s", f"{d['startup_s']:.1f}")
        row(f"daemon: CPU % of one core over {d['window_s']:.0f} s "
            f"({d['cycles']} x {args.interval:g} s)", f"{d['cpu_pct']:.1f}", f"< {GOAL_CPU_PCT:g}")
        row("daemon: snmpsim CPU % of one core, same window", f"{d['agent_pct']:.0f}")
        row("daemon: cycle wall s (first slot -> last poll done)", f"{d['cycle_wall_s']:.1f}",
            f"~ {args.interval:g}")
        row("daemon: polls per interval", f"{d['polls_per_interval']:.0f}",
            f"{args.targets}")
        row("daemon: failed polls per interval", f"{d['errors_per_interval']:.0f}",
            f"{args.targets - alive}")
        row("daemon: poll duration p50 / p99 s (answered)",
            f"{d['poll_p50_s']:.2f}/{d['poll_p99_s']:.2f}")
        row("daemon: poll duration max s (answered)", f"{d['poll_max_s']:.2f}")
        row("daemon: start after slot p50 / max s",
            f"{d['late_p50_s']:.2f}/{d['late_max_s']:.2f}")
        row("daemon: overruns (skipped slots)", f"{d['overruns']}", "0")
        row("daemon: peak RSS MiB (VmHWM at exit, after the SIGTERM flush)",
            f"{d['hwm_exit_mib']:.0f}")
        row("daemon: VmHWM MiB at window end", f"{d['hwm_mib']:.0f}")
        row("daemon: ru_maxrss MiB (includes the pre-exec fork of the bench)",
            f"{d['maxrss_mib']:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--interfaces", type=int, default=24)
    parser.add_argument("--per-process", type=int, default=25,
                        help="targets per snmpsim process")
    parser.add_argument("--dead-pct", type=float, default=5.0)
    parser.add_argument("--delay-min", type=int, default=20, help="agent latency, ms")
    parser.add_argument("--delay-max", type=int, default=80, help="agent latency, ms")
    parser.add_argument("--mode", choices=("discover", "links"), default="discover")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="SNMP timeout of the daemon's targets, s")
    parser.add_argument("--retries", type=int, default=1, help="the daemon's retries")
    parser.add_argument("--burst-timeout", type=float, default=30.0,
                        help="SNMP timeout in the burst (one try): the agents, not netmon, "
                             "are the bottleneck when everything is asked at once")
    parser.add_argument("--runs", type=int, default=3, help="burst cycles measured")
    parser.add_argument("--interval", type=float, default=60.0, help="daemon interval, s")
    parser.add_argument("--intervals", type=int, default=2, help="daemon intervals measured")
    parser.add_argument("--margin", type=float, default=10.0,
                        help="s after the first interval before measuring")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-daemon", action="store_true")
    parser.add_argument("--serve-daemon", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_daemon:
        serve_daemon(args.serve_daemon, args.stats)
        return

    t0 = time.monotonic()
    net = Network(args)
    root = simnet.world_dir("netmon-scale-")
    b = d = None
    try:
        net.start()
        print(f"  snmpsim: {len(net.farm.procs)} processes answering after "
              f"{net.farm.start_s:.1f} s", file=sys.stderr, flush=True)
        if not args.skip_burst:
            b = asyncio.run(burst(net, args))
        if not args.skip_daemon:
            d = run_daemon(net, args, root)
    finally:
        net.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print_report(args, net, b, d)
    print(f"# bench took {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
