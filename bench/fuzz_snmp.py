"""Fuzz benchmark: 100,000+ hostile SNMP answers through the real poll path.

Step: untrusted datagrams -> netmon.ber -> netmon.snmp -> collectors ->
netmon.poll.poll_target (not part of the test suite; tests/netmon/test_fuzz_snmp.py
runs the same families a few thousand times).

The hostile agent of tests/hostile.py runs in its own process on 127.0.0.1
(so this process's memory is netmon's alone); each case's community carries
its family, seed and which request to damage. This process polls every case
once through ``poll_target`` over real UDP, ``--concurrency`` at a time, and
every fifth case also through ``SnmpSession.get`` / ``walk`` directly. It
counts what escapes (anything but a PollResult, or an exception other than
SnmpError out of get/walk), polls that outlive their device deadline by more
than ``--slack`` seconds, error texts over 1,000 characters, and RSS: after
10% and 50% of the cases and at the end: it may grow until the OID cache
reaches its byte bound (``netmon.ber.OID_CACHE_MAX_BYTES``), then stays flat.

Prints one row per family and a total. Run:
``python3 bench/fuzz_snmp.py [--cases 105000] [--concurrency 80]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import hostile  # noqa: E402

from netmon import ber  # noqa: E402
from netmon.snmp import SnmpClient  # noqa: E402


def _agent_process(conn) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        agent, port = await hostile.start_agent(stateless=True)
        conn.send(port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
        agent.transport.close()  # type: ignore[union-attr]
        conn.send(agent.errors[:20])

    asyncio.run(main())


async def run(args: argparse.Namespace, port: int) -> tuple[dict[str, hostile.FuzzStats],
                                                            list[int], float]:
    per_family = {f: hostile.FuzzStats() for f in hostile.FAMILIES}
    cases = hostile.make_cases(args.cases, seed=args.seed)
    batch = max(args.concurrency * 10, 1000)
    rss = [hostile.rss_bytes()]
    marks = [args.cases // 10, args.cases // 2]  # RSS after 10% and 50% of the cases
    started = time.monotonic()
    async with SnmpClient() as client:
        gate = asyncio.Semaphore(args.concurrency)

        async def one(case: hostile.Case) -> None:
            async with gate:
                await hostile.poll_case(client, None, port, case, per_family[case.family],
                                        timeout_s=args.timeout, retries=args.retries,
                                        deadline_s=args.deadline, slack_s=args.slack)

        done = 0
        for i in range(0, len(cases), batch):
            await asyncio.gather(*(one(c) for c in cases[i:i + batch]))
            done += len(cases[i:i + batch])
            while marks and done >= marks[0]:
                marks.pop(0)
                rss.append(hostile.rss_bytes())
            if args.progress:
                print(f"# {done} cases, {time.monotonic() - started:.0f} s, "
                      f"RSS {hostile.rss_bytes() // 2**20} MiB", file=sys.stderr, flush=True)
    rss.append(hostile.rss_bytes())
    return per_family, rss, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=105_000)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=0.5, help="SNMP timeout per try, s")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=1.5, help="device deadline, s")
    parser.add_argument("--slack", type=float, default=0.5,
                        help="a poll longer than deadline + slack counts as late")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_agent_process, args=(child,), daemon=True)
    proc.start()
    port = parent.recv()
    try:
        per_family, rss, wall_s = asyncio.run(run(args, port))
    finally:
        parent.send("stop")
        agent_errors = parent.recv() if parent.poll(5) else ["agent did not answer"]
        proc.join(5)

    print(machine_line())
    print(f"# {args.cases} cases over {len(hostile.FAMILIES)} families, one poll_target each "
          f"(and get/walk for every 5th), {args.concurrency} at a time, real UDP to a hostile "
          f"agent in another process; timeout {args.timeout:g} s x {args.retries + 1}, "
          f"device deadline {args.deadline:g} s; wall {wall_s:.0f} s "
          f"({args.cases / wall_s:.0f} cases/s)")
    print(f"# OID cache after the run: {ber.oid_cache_bytes() / 2**20:.1f} MiB "
          f"(bound {ber.OID_CACHE_MAX_BYTES / 2**20:.0f} MiB); agent errors: "
          f"{agent_errors or 'none'}")
    head = (f"{'family':<14} {'cases':>7} {'escapes':>7} {'late':>5} {'long err':>8} "
            f"{'failed polls':>12} {'max poll s':>10}  most common error")
    print(head)
    total = hostile.FuzzStats()
    for family, st in per_family.items():
        common = max(st.by_error.items(), key=lambda kv: kv[1], default=("-", 0))
        print(f"{family:<14} {st.cases:>7} {len(st.escapes):>7} {len(st.late):>5} "
              f"{len(st.long_errors):>8} {st.failed_polls:>12} {st.max_poll_s:>10.3f}  "
              f"{common[0]} ({common[1]})")
        total.cases += st.cases
        total.escapes += st.escapes
        total.late += st.late
        total.long_errors += st.long_errors
        total.failed_polls += st.failed_polls
        total.max_poll_s = max(total.max_poll_s, st.max_poll_s)
    print(f"{'TOTAL':<14} {total.cases:>7} {len(total.escapes):>7} {len(total.late):>5} "
          f"{len(total.long_errors):>8} {total.failed_polls:>12} {total.max_poll_s:>10.3f}")
    mib = [r / 2**20 for r in rss]
    print(f"# RSS of the polling process: start {mib[0]:.1f} MiB, after 10% of the cases "
          f"{mib[1]:.1f} MiB, after 50% {mib[2]:.1f} MiB, end {mib[-1]:.1f} MiB "
          f"(from 50% to the end {mib[-1] - mib[2]:+.1f} MiB; the OID cache alone may take "
          f"{ber.OID_CACHE_MAX_BYTES / 2**20:.0f} MiB)")
    print(f"# median of the per-family max poll s: "
          f"{statistics.median(st.max_poll_s for st in per_family.values()):.3f}")
    for text in (total.escapes + total.late + total.long_errors)[:10]:
        print("# ", text)
    return 1 if total.escapes or total.late or agent_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
