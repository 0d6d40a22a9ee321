"""Micro-benchmark: CPU µs per varbind, netmon's v2c path vs pysnmp hlapi.

Step: collectors -> SNMP transport (not part of the test suite).

Starts one snmpsim agent on 127.0.0.1 serving the Huawei NE recording and
measures process CPU time (time.process_time: this process only, the agent
runs elsewhere) for:

* an interface poll: GET of 9 OIDs for one interface (what a collector does);
* a table walk: GETBULK of 6 ifTable/ifXTable columns over all interfaces;
* the BER codec alone (encode a request + decode a 9-varbind answer);
* pysnmp 7 hlapi v3arch and v1arch GET of the same 9 OIDs (lookupMib=False).

Prints the median of several runs. Run: ``python3 bench/snmp_codec.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from machine import cpu_model  # bench/ is on sys.path when run as a script
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from agents import SnmpSim, shared_dir  # noqa: E402

from netmon import ber  # noqa: E402
from netmon.credentials import SnmpV2c  # noqa: E402
from netmon.snmp import SnmpClient  # noqa: E402

IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
INDEX = "6"
POLL_OIDS = [f"{IFX}.6.{INDEX}", f"{IFX}.10.{INDEX}", f"{IFX}.7.{INDEX}", f"{IFX}.11.{INDEX}",
             f"{IF}.14.{INDEX}", f"{IF}.20.{INDEX}", f"{IF}.13.{INDEX}", f"{IF}.8.{INDEX}",
             f"{IFX}.15.{INDEX}"]
WALK_COLUMNS = [f"{IFX}.1", f"{IFX}.6", f"{IFX}.10", f"{IFX}.15", f"{IF}.8", f"{IF}.14"]


async def measure(fn: Callable[[], Awaitable[int]], seconds: float) -> float:
    """CPU µs per varbind while running ``fn`` (returns varbinds done) for ~``seconds``."""
    await fn()  # warm caches
    varbinds = 0
    wall_end = time.monotonic() + seconds
    cpu0 = time.process_time()
    while time.monotonic() < wall_end:
        varbinds += await fn()
    return (time.process_time() - cpu0) / varbinds * 1e6


async def run(port: int, runs: int, seconds: float) -> list[tuple[str, list[float]]]:
    community = "ne"
    results: list[tuple[str, list[float]]] = []
    async with SnmpClient() as client:
        s = client.session(device="bench", host="127.0.0.1", port=port,
                           credentials=SnmpV2c(version="2c", community=SecretStr(community)))

        async def netmon_get() -> int:
            r = await s.get(POLL_OIDS)
            return len(r.values)

        async def netmon_walk() -> int:
            t = await s.walk(WALK_COLUMNS)
            return sum(len(c) for c in t.columns.values())

        answer = ber.encode_response(
            b"ne", 1, [(o, ber.COUNTER64, 2**63 + 12345) for o in POLL_OIDS])
        encoded = [ber.encode_oid(o) for o in POLL_OIDS]

        async def codec_only() -> int:
            for _ in range(100):
                ber.encode_request(b"ne", ber.GET_REQUEST, 1, encoded)
                ber.decode_message(answer)
            return 100 * len(POLL_OIDS)

        import pysnmp.hlapi.v1arch.asyncio as v1
        import pysnmp.hlapi.v3arch.asyncio as v3

        engine = v3.SnmpEngine()
        target3 = await v3.UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=1)
        auth3 = v3.CommunityData(community)
        vbs3 = [v3.ObjectType(v3.ObjectIdentity(o)) for o in POLL_OIDS]

        async def pysnmp_v3arch() -> int:
            err, status, _, got = await v3.get_cmd(engine, auth3, target3, v3.ContextData(),
                                                   *vbs3, lookupMib=False)
            assert not err and not status, err
            return len(got)

        dispatcher = v1.SnmpDispatcher()
        target1 = await v1.UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=1)
        auth1 = v1.CommunityData(community)
        vbs1 = [v1.ObjectType(v1.ObjectIdentity(o)) for o in POLL_OIDS]

        async def pysnmp_v1arch() -> int:
            err, status, _, got = await v1.get_cmd(dispatcher, auth1, target1, *vbs1,
                                                   lookupMib=False)
            assert not err and not status, err
            return len(got)

        cases = [
            ("netmon v2c GET, 9 OIDs (interface poll)", netmon_get),
            (f"netmon v2c walk, {len(WALK_COLUMNS)} columns (GETBULK x25)", netmon_walk),
            ("netmon BER codec only (encode+decode, 9 varbinds)", codec_only),
            ("pysnmp 7 hlapi v3arch GET, 9 OIDs", pysnmp_v3arch),
            ("pysnmp 7 hlapi v1arch GET, 9 OIDs", pysnmp_v1arch),
        ]
        for name, fn in cases:
            results.append((name, [await measure(fn, seconds) for _ in range(runs)]))
        engine.close_dispatcher()
        dispatcher.transport_dispatcher.close_dispatcher()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per run")
    args = parser.parse_args()
    recording = shared_dir() / "corpus" / "librenms" / "vrp_ne.snmprec"
    with SnmpSim({"ne": recording}) as sim:
        results = asyncio.run(run(sim.port, args.runs, args.seconds))
    print(f"# SNMP CPU cost per varbind, median of {args.runs} runs of {args.seconds:g}s")
    print(f"# {cpu_model()}, Python {platform.python_version()}, {platform.system()} "
          f"{platform.release()}; agent: snmpsim on 127.0.0.1 ({recording.name})")
    width = max(len(name) for name, _ in results)
    print(f"{'case':<{width}}  {'µs/varbind':>10}  {'min':>7}  {'max':>7}")
    for name, samples in results:
        print(f"{name:<{width}}  {statistics.median(samples):>10.1f}  {min(samples):>7.1f}  "
              f"{max(samples):>7.1f}")


if __name__ == "__main__":
    main()
