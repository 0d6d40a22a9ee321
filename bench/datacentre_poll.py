"""CPU per data-centre device poll through the real poll path (step: collectors -> samples).

    python3 bench/datacentre_poll.py [--copies 50] [--runs 5]

Serves the corpus recordings of a UPS (ABB, UPS-MIB) and an environment probe
(AKCP sensorProbe8) with snmpsim on 127.0.0.1, ``--copies`` communities of
each, and polls them all concurrently with ``netmon.poll.poll_target`` and
the collectors a ``tier: datacentre`` target gets by default (interfaces,
akcp, apc, entity_sensor, geist, host, ups): most of them find no MIB and
cost one GETBULK round trip each. CPU is ``time.process_time`` of this
process (snmpsim runs in its own). Prints the median of ``--runs`` cycles and
the machine. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon import plugins, simnet  # noqa: E402
from netmon.config import Target, tier_collectors  # noqa: E402
from netmon.credentials import SnmpV2c  # noqa: E402
from netmon.poll import build_collectors, collectors_for, open_session, poll_target  # noqa: E402
from netmon.rates import RateEngine  # noqa: E402
from netmon.snmp import SnmpClient  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "librenms"
KINDS = {"ups": "abbups_abbups", "probe": "akcp_serverprobe8"}


class _Settings:
    def __getattr__(self, section: str):
        return plugins.sections()[section]()


async def cycle(targets: list[Target], built, engine: RateEngine) -> tuple[float, float, int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with SnmpClient() as client:
        results = await asyncio.gather(*(
            poll_target(open_session(client, t), t, collectors_for(t, built), engine)
            for t in targets))
    errors = sum(1 for r in results if r.error)
    return time.process_time() - cpu0, time.perf_counter() - wall0, errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = simnet.world_dir(prefix="netmon-bench-dc-")
    data = root / "data"
    data.mkdir()
    for kind, name in KINDS.items():
        for i in range(args.copies):
            shutil.copyfile(CORPUS / f"{name}.snmprec", data / f"{kind}{i}.snmprec")
    proc = simnet.SnmpSimProcess(data)
    proc.start(ready=lambda: simnet.v2c_answers(proc.host, proc.port, "ups0"))
    try:
        collectors = list(tier_collectors("datacentre"))
        built = build_collectors(_Settings())
        rows = []
        for kind in KINDS:
            targets = [Target.model_validate({
                "name": f"{kind}{i}", "site": "DC", "tier": "datacentre",
                "address": proc.host, "port": proc.port,
                "snmp": SnmpV2c(version="2c", community=SecretStr(f"{kind}{i}")),
                "timeout": 5.0, "retries": 1, "discover": True, "collectors": collectors,
            }) for i in range(args.copies)]
            engine = RateEngine()
            asyncio.run(cycle(targets, built, engine))  # first cycle: interface metadata
            runs = [asyncio.run(cycle(targets, built, engine)) for _ in range(args.runs)]
            cpu = statistics.median(r[0] for r in runs) / args.copies * 1e3
            wall = statistics.median(r[1] for r in runs)
            errors = max(r[2] for r in runs)
            rows.append((kind, KINDS[kind], cpu, wall, errors))
    finally:
        proc.cleanup()
    print(machine_line())
    print(f"# {args.copies} devices of each kind, collectors: {', '.join(collectors)}; "
          f"median of {args.runs} cycles")
    print(f"{'device':<8} {'recording':<20} {'CPU ms / device poll':>21} "
          f"{'cycle wall s':>13} {'errors':>7}")
    for kind, name, cpu, wall, errors in rows:
        print(f"{kind:<8} {name:<20} {cpu:>21.2f} {wall:>13.2f} {errors:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
