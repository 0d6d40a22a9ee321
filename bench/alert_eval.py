"""CPU of one alert evaluation over 100,000 links (step: rates -> alert engine).

    python3 bench/alert_eval.py [--links 100000] [--per-device 24] [--cycles 7]
                                [--over 0.01 0.05 0.10] [--gc default daemon] [--profile]

Builds the derived samples a poll cycle of ``--links`` links produces
(``interface`` samples as netmon.rates makes them, one ``device`` sample per
router, a few ``counter_reset`` events, the spool figures), spread over
devices of ``--per-device`` links; every site has a plane-A and a plane-B
link. 5% of the links run over their threshold, 2% oscillate around it, 0.5%
are down, 0.2% of the devices are unreachable. Each cycle gets fresh samples
(new timestamps, traffic moved) and runs ``AlertEngine.evaluate`` with every
registered rule and the state in a real alerts.sqlite; only ``evaluate`` is
timed (``time.process_time``). Cycles are 60 s apart: the links over their
threshold are pending for ``for`` (5 min) and all start firing in one cycle.
The first cycle (every link judged for the first time) and that one are shown
apart; the goal is for the steady cycles after it, every alert firing.

Each share of links over threshold runs under two garbage-collection
policies: CPython's default, and the daemon's (``netmon.gcpolicy``: full
collections spaced out, the start-up state frozen after start-up), applied at
the same point as the daemon does, once the engine is built.

Prints the median of ``--cycles`` cycles and the machine. Goal: under 200 ms
CPU per cycle for 100,000 links. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.engine import AlertEngine  # noqa: E402
from alerts.store import AlertStore  # noqa: E402
from netmon import gcpolicy, plugins  # noqa: E402
from netmon.model import COUNTER_RESET, DEVICE, INTERFACE, SPOOL, Sample  # noqa: E402

GOAL_MS = 200.0
T0 = datetime(2026, 12, 1, tzinfo=UTC)


class Network:
    """The links of the benchmark and what each does from cycle to cycle."""

    def __init__(self, links: int, per_device: int, over: float, seed: int = 8) -> None:
        rnd = random.Random(seed)
        self.devices = (links + per_device - 1) // per_device
        self.links: list[tuple[str, dict[str, str], int, str]] = []  # device, tags, cap, kind
        for n in range(links):
            d = n // per_device
            device = f"r{d:05d}"
            port = n % per_device
            role = {0: "plane-a", 1: "plane-b"}.get(port, "uplink" if port < 4 else "access")
            tags = {"device": device, "site": f"S{d:05d}", "tier": "district",
                    "province": f"P{d % 63:02d}", "role": role, "link": f"{device} port {port}",
                    "ifName": f"ge-0/0/{port}"}
            if role.startswith("plane"):
                tags["plane"] = role[-1].upper()
            x = rnd.random()
            kind = ("over" if x < over else "oscillating" if x < 1.4 * over else
                    "down" if x < 1.5 * over else "normal")
            if port < 2:  # a site's two planes are sold at the same capacity
                cap = (400_000_000, 1_200_000_000)[d % 2]
            else:
                cap = rnd.choice((50_000_000, 100_000_000, 400_000_000, 1_200_000_000))
            self.links.append((device, tags, cap, kind))
        self.unreachable = {f"r{d:05d}" for d in rnd.sample(range(self.devices),
                                                             max(1, self.devices // 500))}
        self.rnd = rnd

    def cycle(self, i: int) -> list[Sample]:
        ts = T0 + timedelta(seconds=60 * i)
        rnd = self.rnd
        out: list[Sample] = []
        for device, tags, cap, kind in self.links:
            if device in self.unreachable and i > 0:
                continue
            if kind == "over":
                util = 55.0 + rnd.random() * 20
            elif kind == "oscillating":
                util = 52.5 if i % 2 else 47.5
            elif "plane" in tags:
                util = rnd.random() * 25  # each plane under 25%: the pair has headroom
            else:
                util = rnd.random() * 40
            oper = 2 if kind == "down" else 1
            bps = util * cap / 100
            out.append(Sample(device, INTERFACE, tags, {
                "in_bps": bps, "out_bps": bps * 0.7, "util_in_pct": util,
                "util_out_pct": util * 0.7, "util_pct": util, "capacity_bps": cap,
                "threshold_pct": 50.0, "oper_status": oper, "admin_status": 1,
                "in_errors_per_s": 0.0, "out_errors_per_s": 0.0, "counter_bits": 64,
                "ifIndex": 1, "status": "ok"}, ts))
        for d in range(self.devices):
            device = f"r{d:05d}"
            dev_tags = {"device": device, "site": f"S{d:05d}", "tier": "district"}
            reachable = device not in self.unreachable or i == 0
            fields: dict[str, float | int | str | bool] = {"reachable": reachable,
                                                           "poll_duration_s": 0.2}
            if not reachable:
                fields["error"] = "timeout"
            out.append(Sample(device, DEVICE, dev_tags, fields, ts))
        for device, tags, _, _ in rnd.sample(self.links, 20):
            out.append(Sample(device, COUNTER_RESET, tags, {"reason": "reboot", "ifIndex": 1}, ts))
        out.append(Sample("netmon", SPOOL, {"sink": "InfluxSink"},
                          {"spool_depth_points": 0, "spool_oldest_age_s": 0.0,
                           "last_error": ""}, ts))
        return out


class _FullCollections:
    """CPU spent in generation-2 garbage collections (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.spent_s = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.process_time()
        else:
            self.spent_s += time.process_time() - self._start

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--links", type=int, default=100_000)
    p.add_argument("--per-device", type=int, default=24)
    p.add_argument("--cycles", type=int, default=7)
    p.add_argument("--over", type=float, nargs="+", default=[0.01, 0.05, 0.10],
                   help="share of links over their threshold, one run each (default 1%%, 5%% "
                        "and 10%%); 40%% as many oscillate around it, 10%% as many are down")
    p.add_argument("--gc", nargs="+", choices=("default", "daemon"),
                   default=["default", "daemon"],
                   help="garbage-collection policy, one run each: CPython's default, or the "
                        "daemon's (netmon.gcpolicy)")
    p.add_argument("--profile", action="store_true", help="cProfile one extra cycle")
    p.add_argument("--verbose", action="store_true", help="print each cycle's CPU time")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:  # one run, in a process of its own: print its row as JSON
        print(json.dumps(run(args, args.over[0], args.gc[0])))
        return 0

    # Each run in a fresh interpreter: a run's heap (and its garbage collector's
    # state) must not weigh on the next.
    rows = [child(over, policy) for over in args.over for policy in args.gc]
    print(f"# alert evaluation: {args.links:,} links, {args.per_device} per device, "
          f"{rows[0]['samples']:,} samples per cycle (interface, device, counter_reset, spool)")
    print(f"# rules: {', '.join(sorted(plugins.rules()))}")
    print(machine_line())
    print()
    print(f"| {'links over threshold':<20} | {'GC policy':<9} | {'alerts held':>25} | "
          f"{'first cycle':>11} | {'all fire':>8} | {'CPU ms/cycle':>12} | "
          f"{'without full GC':>15} | {'per link':>8} | {'goal':>6} |")
    print(f"|{'-' * 22}|{'-' * 11}|{'-' * 27}|{'-' * 13}|{'-' * 10}|{'-' * 14}|"
          f"{'-' * 17}|{'-' * 10}|{'-' * 8}|")
    for r in rows:
        held = ", ".join(f"{n} {state}" for state, n in sorted(r["counts"].items()))
        print(f"| {format(r['over'], '.0%'):<20} | {r['gc']:<9} | {held:>25} | "
              f"{r['first']:>8.0f} ms | {r['fire']:>5.0f} ms | "
              f"{r['median']:>9.1f} ms | {r['no_gc']:>12.1f} ms | "
              f"{r['median'] * 1000 / args.links:>5.2f} µs | {'<' + format(GOAL_MS, 'g'):>6} |")
    print()
    print(f"CPU ms/cycle: median of {args.cycles} steady cycles, every alert firing "
          "(time.process_time around AlertEngine.evaluate),\nincluding the full (generation-2) "
          "garbage collections "
          "Python happens to run inside it; 'without full GC'\nsubtracts them (they scan "
          "the whole heap, mostly the 100,000 samples of the cycle). First cycle:\nevery "
          "link judged for the first time; all fire: the cycle in which the pending alerts "
          "start firing.\nGC policy: default is CPython's; daemon is "
          "netmon.gcpolicy as the daemon applies it (full collections\nat most every "
          f"{gcpolicy.FULL_EVERY} middle-generation ones, the state after start-up frozen).")
    return 0 if all(r["median"] < GOAL_MS for r in rows) else 1


def child(over: float, policy: str) -> dict:
    argv = list(sys.argv[1:])
    for flag in ("--over", "--gc"):  # replaced by this run's own
        while flag in argv:
            i = argv.index(flag)
            del argv[i]
            while i < len(argv) and not argv[i].startswith("--"):
                del argv[i]
    out = subprocess.run([sys.executable, __file__, *argv, "--child", "--over", str(over),
                          "--gc", policy], check=True, stdout=subprocess.PIPE, text=True).stdout
    *printed, last = out.rstrip("\n").split("\n")
    if printed:  # --profile
        print("\n".join(printed))
    return json.loads(last)  # type: ignore[no-any-return]


def run(args: argparse.Namespace, over: float, policy: str) -> dict:
    net = Network(args.links, args.per_device, over)
    options = plugins.sections()["alerts"].model_validate({})
    default_thresholds = gc.get_threshold()
    with tempfile.TemporaryDirectory(prefix="netmon-bench-alerts-") as tmp:
        store = AlertStore.in_state_dir(Path(tmp))
        engine = AlertEngine(options, store)
        if policy == "daemon":  # as netmon.daemon once started, before the first poll
            gcpolicy.configure()
            gcpolicy.settle()
        cpu_ms: list[float] = []
        wall_ms: list[float] = []
        gc_ms: list[float] = []
        full_gc = _FullCollections()
        first_ms = fire_ms = 0.0
        samples_per_cycle = 0
        # The cycle in which the links over their threshold have been so for `for`.
        fire = int(engine.rules["link_utilisation_high"].options.for_s // 60)
        for i in range(fire + args.cycles + 1):
            samples = net.cycle(i)
            samples_per_cycle = len(samples)
            now = samples[0].ts
            full_gc.spent_s = 0.0
            c0, w0 = time.process_time(), time.perf_counter()
            result = engine.evaluate(samples, now=now)
            c1, w1 = time.process_time(), time.perf_counter()
            if i == 0:
                first_ms = (c1 - c0) * 1000
            elif i == fire:
                fire_ms = (c1 - c0) * 1000
            elif i > fire:
                cpu_ms.append((c1 - c0) * 1000)
                gc_ms.append(full_gc.spent_s * 1000)
                if args.verbose:
                    print(f"cycle {i}: {cpu_ms[-1]:.1f} ms CPU, of which {gc_ms[-1]:.1f} ms "
                          "full garbage collection", file=sys.stderr)
                wall_ms.append((w1 - w0) * 1000)
        counts: dict[str, int] = {}
        for (_, state), n in engine.counts().items():
            counts[state] = counts.get(state, 0) + n
        if args.profile:
            prof = cProfile.Profile()
            samples = net.cycle(fire + args.cycles + 1)
            prof.enable()
            engine.evaluate(samples, now=samples[0].ts)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(20)
            print(buf.getvalue())
        store.close()
        full_gc.close()
    row = {"over": over, "gc": policy, "samples": samples_per_cycle, "counts": counts,
           "first": first_ms, "fire": fire_ms, "median": statistics.median(cpu_ms),
           "wall": statistics.median(wall_ms),
           "no_gc": statistics.median(c - g for c, g in zip(cpu_ms, gc_ms, strict=True)),
           "dispatched": len(result.alerts)}
    gc.unfreeze()
    gc.set_threshold(*default_thresholds)
    del net, engine, store, samples, result
    gc.collect()  # the next run starts from a clean heap
    return row


if __name__ == "__main__":
    raise SystemExit(main())
