"""Benchmark: CPU per varbind and per interface, netmon SNMPv3 authPriv beside v2c.

Step: collectors -> SNMP transport (not part of the test suite).

Starts one snmpsim agent on 127.0.0.1 serving the Huawei NE recording to v2c
(community ``ne``) and to one SNMPv3 authPriv user (context ``ne``; SHA-256 /
AES-128 unless ``--auth`` / ``--priv`` say otherwise), and measures, as CPU
time of the poller process only (the agent runs elsewhere):

* a single-interface GET of 9 OIDs (the worst case for per-message costs);
* a table walk: GETBULK (max-repetitions 25) of 6 ifTable/ifXTable columns;
* the interface collector's poll of a simulated 24-interface router (recording
  ``r24``, as bench/poll_cpu.py builds them) through ``netmon.poll.poll_target``
  with ``InterfaceCollector`` + ``RateEngine``: 24 configured links (GETs packed
  32 OIDs per PDU) and ``discover: true`` (counter columns walked);

for netmon v2c (netmon.ber), netmon v3 on its fast path (netmon.usm), netmon
v3 through pysnmp (``SnmpClient(v3_fast_path=False)``, the path before), and,
when Debian's ``prometheus-snmp-exporter`` is installed, Go snmp_exporter v3
authPriv doing the same GET and walk (CPU of the exporter process from
/proc, scraped over loopback HTTP; its HTTP and metric rendering count too).

Prints the median of several runs, per varbind and per interface (a GET polls
one interface; a walk's cost is divided by the interfaces it returns), with
ratios to netmon v2c and to snmp_exporter v3 doing the same operation.
Run: ``python3 bench/snmp_v3.py [--runs 5] [--seconds 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the package before tests/netmon

from agents import SimV3User, SnmpSim, shared_dir  # noqa: E402
from poll_cpu import VarbindCounter, make_target, sim_interfaces  # noqa: E402

from collectors.interfaces import InterfaceCollector  # noqa: E402
from netmon import simnet  # noqa: E402
from netmon.credentials import SnmpV2c, SnmpV3  # noqa: E402
from netmon.poll import open_session, poll_target  # noqa: E402
from netmon.rates import RateEngine  # noqa: E402
from netmon.snmp import SnmpClient, SnmpSession  # noqa: E402

IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
INDEX = "10"  # an interface the recording has (with traffic)
POLL_OIDS = [f"{IFX}.6.{INDEX}", f"{IFX}.10.{INDEX}", f"{IFX}.7.{INDEX}", f"{IFX}.11.{INDEX}",
             f"{IF}.14.{INDEX}", f"{IF}.20.{INDEX}", f"{IF}.13.{INDEX}", f"{IF}.8.{INDEX}",
             f"{IFX}.15.{INDEX}"]
WALK_COLUMNS = [f"{IFX}.1", f"{IFX}.6", f"{IFX}.10", f"{IFX}.15", f"{IF}.8", f"{IF}.14"]
EXPORTER = shutil.which("prometheus-snmp-exporter")


@dataclass
class Case:
    name: str
    op: str  # "get" or "walk"
    poller: str  # "v2c", "v3", "pysnmp", "exporter"
    us_per_varbind: list[float]
    us_per_interface: list[float]


async def measure(fn: Callable[[], Awaitable[tuple[int, int]]],
                  seconds: float) -> tuple[float, float]:
    """(CPU µs per varbind, per interface) while running ``fn`` (returns varbinds and
    interfaces done) for ~``seconds``."""
    await fn()  # warm caches (discovery, keys, OIDs)
    varbinds = interfaces = 0
    wall_end = time.monotonic() + seconds
    cpu0 = time.process_time()
    while time.monotonic() < wall_end:
        v, i = await fn()
        varbinds += v
        interfaces += i
    cpu_us = (time.process_time() - cpu0) * 1e6
    return cpu_us / varbinds, cpu_us / interfaces


def operations(s: SnmpSession) -> dict[str, Callable[[], Awaitable[tuple[int, int]]]]:
    async def get() -> tuple[int, int]:
        r = await s.get(POLL_OIDS)
        assert all(isinstance(v, int) for v in r.values.values()), r.values
        return len(r.values), 1

    async def walk() -> tuple[int, int]:
        t = await s.walk(WALK_COLUMNS)
        return sum(len(c) for c in t.columns.values()), len(t.columns[WALK_COLUMNS[0]])

    return {"get": get, "walk": walk}


ROUTER_INTERFACES = 24


def collector_poll(client: SnmpClient, port: int, creds: SnmpV2c | SnmpV3,
                   discover: bool) -> Callable[[], Awaitable[tuple[int, int]]]:
    """One cycle of the interface collector on the 24-interface router ``r24``."""
    target = make_target(0, port, ROUTER_INTERFACES, discover, community="r24")
    target = target.model_copy(update={"snmp": creds})
    counter = VarbindCounter()
    session = counter.wrap(open_session(client, target))
    collector = InterfaceCollector()
    engine = RateEngine()

    async def poll() -> tuple[int, int]:
        counter.varbinds = 0
        result = await poll_target(session, target, [collector], engine)
        assert result.error is None, result.error
        assert len(result.links) == ROUTER_INTERFACES, len(result.links)
        return counter.varbinds, ROUTER_INTERFACES

    return poll


async def run_netmon(port: int, user: SimV3User, runs: int, seconds: float,
                     ) -> tuple[list[Case], int, int]:
    def v3(context: str) -> SnmpV3:
        return SnmpV3(version="3", username=user.name, auth_protocol=user.auth_protocol,  # type: ignore[arg-type]
                      auth_key=SecretStr(user.auth_key), priv_protocol=user.priv_protocol,  # type: ignore[arg-type]
                      priv_key=SecretStr(user.priv_key), context_name=context)

    v2c = SnmpV2c(version="2c", community=SecretStr("ne"))
    cases: list[Case] = []
    async with SnmpClient() as fast, SnmpClient(v3_fast_path=False) as slow:
        sessions = {
            "v2c": fast.session(device="bench", host="127.0.0.1", port=port, credentials=v2c),
            "v3": fast.session(device="bench", host="127.0.0.1", port=port,
                               credentials=v3("ne")),
            "pysnmp": slow.session(device="bench", host="127.0.0.1", port=port,
                                   credentials=v3("ne")),
        }
        clients = {"v2c": fast, "v3": fast, "pysnmp": slow}
        router_creds = {"v2c": SnmpV2c(version="2c", community=SecretStr("r24")),
                        "v3": v3("r24"), "pysnmp": v3("r24")}
        table = await sessions["v2c"].walk(WALK_COLUMNS)
        walk_varbinds = sum(len(c) for c in table.columns.values())
        interfaces = len(table.columns[WALK_COLUMNS[0]])
        fns: dict[tuple[str, str], Callable[[], Awaitable[tuple[int, int]]]] = {}
        for op in ("get", "walk", "poll-links", "poll-discover"):
            for poller in ("v2c", "v3", "pysnmp"):
                if op.startswith("poll"):
                    fns[op, poller] = collector_poll(clients[poller], port, router_creds[poller],
                                                     op == "poll-discover")
                else:
                    fns[op, poller] = operations(sessions[poller])[op]
                cases.append(Case("", op, poller, [], []))
        # Round robin: every run measures every case once, so a change in the
        # machine's load (2 shared cores) falls on all cases alike.
        for _ in range(runs):
            for case in cases:
                vb, itf = await measure(fns[case.op, case.poller], seconds)
                case.us_per_varbind.append(vb)
                case.us_per_interface.append(itf)
        assert fast._v3 is None, "the fast path must not start pysnmp"
    return cases, walk_varbinds, interfaces


# ---------------------------------------------------------------- Go snmp_exporter


def exporter_config(user: SimV3User) -> str:
    auth_proto = user.auth_protocol.replace("-", "")
    priv_proto = {"AES-128": "AES", "AES-192": "AES192C", "AES-256": "AES256C"}[
        user.priv_protocol]
    metrics = [("ifName", f"{IFX}.1", "DisplayString"), ("ifHCInOctets", f"{IFX}.6", "counter"),
               ("ifHCOutOctets", f"{IFX}.10", "counter"), ("ifHighSpeed", f"{IFX}.15", "gauge"),
               ("ifOperStatus", f"{IF}.8", "gauge"), ("ifInErrors", f"{IF}.14", "counter"),
               ("ifHCInUcastPkts", f"{IFX}.7", "counter"),
               ("ifHCOutUcastPkts", f"{IFX}.11", "counter"),
               ("ifOutErrors", f"{IF}.20", "counter"), ("ifInDiscards", f"{IF}.13", "counter")]
    lines = []
    for module, key, oids in (("v3walk", "walk", WALK_COLUMNS), ("v3get", "get", POLL_OIDS)):
        lines += [f"{module}:", f"  {key}:", *[f"  - {o}" for o in oids],
                  "  version: 3", "  max_repetitions: 25", "  retries: 1", "  timeout: 2s",
                  "  auth:", f"    username: {user.name}", "    security_level: authPriv",
                  f"    password: {user.auth_key}", f"    auth_protocol: {auth_proto}",
                  f"    priv_protocol: {priv_proto}", f"    priv_password: {user.priv_key}",
                  "    context_name: ne", "  metrics:"]
        for name, oid, kind in metrics:
            lines += [f"  - name: {name}", f"    oid: {oid}", f"    type: {kind}",
                      "    indexes:", "    - labelname: ifIndex", "      type: gauge"]
    return "\n".join(lines) + "\n"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_s(pid: int) -> float:
    """utime + stime of a whole process (threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_exporter(agent_port: int, user: SimV3User, runs: int, seconds: float,
                 walk_varbinds: int, interfaces: int) -> list[Case]:
    assert EXPORTER is not None
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        config = Path(tmp) / "snmp.yml"
        config.write_text(exporter_config(user))
        web = free_tcp_port()
        proc = subprocess.Popen([EXPORTER, f"--config.file={config}",
                                 f"--web.listen-address=127.0.0.1:{web}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{web}/snmp?target=127.0.0.1:{agent_port}&module="
            deadline = time.monotonic() + 10
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("snmp_exporter did not start") from None
                    time.sleep(0.1)
            for op, module, varbinds, per_call_interfaces in (
                    ("get", "v3get", len(POLL_OIDS), 1),
                    ("walk", "v3walk", walk_varbinds, interfaces)):
                body = urllib.request.urlopen(base + module, timeout=5).read().decode()
                samples = [ln for ln in body.splitlines()
                           if ln and not ln.startswith(("#", "snmp_scrape"))]
                if len(samples) < varbinds:
                    raise RuntimeError(f"snmp_exporter {module}: {len(samples)} samples for "
                                       f"{varbinds} varbinds:\n{body[:2000]}")
                per_vb: list[float] = []
                per_if: list[float] = []
                for _ in range(runs):
                    # /proc counts CPU in clock ticks (10 ms): run longer.
                    calls = 0
                    cpu0 = process_cpu_s(proc.pid)
                    end = time.monotonic() + max(seconds, 3.0)
                    while time.monotonic() < end:
                        urllib.request.urlopen(base + module, timeout=5).read()
                        calls += 1
                    cpu_us = (process_cpu_s(proc.pid) - cpu0) * 1e6
                    per_vb.append(cpu_us / (calls * varbinds))
                    per_if.append(cpu_us / (calls * per_call_interfaces))
                cases.append(Case("", op, "exporter", per_vb, per_if))
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    return cases


# ---------------------------------------------------------------- table

NAMES = {
    ("get", "v2c"): "netmon v2c GET, 9 OIDs (interface poll)",
    ("get", "v3"): "netmon v3 authPriv GET, 9 OIDs (fast path)",
    ("get", "pysnmp"): "netmon v3 authPriv GET, 9 OIDs (pysnmp hlapi)",
    ("get", "exporter"): "Go snmp_exporter v3 authPriv GET, 9 OIDs",
    ("walk", "v2c"): "netmon v2c walk, 6 columns (GETBULK x25)",
    ("walk", "v3"): "netmon v3 authPriv walk, 6 columns (fast path)",
    ("walk", "pysnmp"): "netmon v3 authPriv walk, 6 columns (pysnmp hlapi)",
    ("walk", "exporter"): "Go snmp_exporter v3 authPriv walk, 6 columns",
    ("poll-links", "v2c"): "netmon v2c collector poll, 24 links (GET)",
    ("poll-links", "v3"): "netmon v3 authPriv collector poll, 24 links (fast path)",
    ("poll-links", "pysnmp"): "netmon v3 authPriv collector poll, 24 links (pysnmp)",
    ("poll-discover", "v2c"): "netmon v2c collector poll, discover (walk)",
    ("poll-discover", "v3"): "netmon v3 authPriv collector poll, discover (fast path)",
    ("poll-discover", "pysnmp"): "netmon v3 authPriv collector poll, discover (pysnmp)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per run")
    parser.add_argument("--auth", default="SHA-256", help="SHA, SHA-224 ... SHA-512")
    parser.add_argument("--priv", default="AES-128", help="AES-128, AES-192, AES-256")
    parser.add_argument("--no-exporter", action="store_true", help="skip snmp_exporter")
    args = parser.parse_args()
    user = SimV3User("bench", args.auth, "netmon-bench-auth", args.priv, "netmon-bench-priv")
    recording = shared_dir() / "corpus" / "librenms" / "vrp_ne.snmprec"
    exporter = EXPORTER is not None and not args.no_exporter
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        router = simnet.write_snmprec(Path(tmp) / "r24.snmprec", simnet.device_records(
            sim_interfaces(0, ROUTER_INTERFACES)))
        sim = SnmpSim({"ne": recording, "r24": router}, v3_users=[user]).start()
    try:
        cases, walk_varbinds, interfaces = asyncio.run(
            run_netmon(sim.port, user, args.runs, args.seconds))
        if exporter:
            cases += run_exporter(sim.port, user, args.runs, args.seconds, walk_varbinds,
                                  interfaces)
    finally:
        sim.cleanup()
    med = {(c.op, c.poller): (statistics.median(c.us_per_varbind),
                              statistics.median(c.us_per_interface)) for c in cases}
    print(f"# SNMP CPU cost of the poller, median of {args.runs} runs of {args.seconds:g}s "
          f"(snmp_exporter: of {max(args.seconds, 3.0):g}s)")
    print(machine_line())
    print(f"# agent: snmpsim on 127.0.0.1 ({recording.name}, {interfaces} interfaces, "
          f"walk = {walk_varbinds} varbinds; r24: {ROUTER_INTERFACES} simulated interfaces); "
          f"v3 user {args.auth}/{args.priv} authPriv")
    if not exporter:
        print("# Go snmp_exporter: not measured (prometheus-snmp-exporter not installed"
              + (" or --no-exporter)" if EXPORTER else ")"))
    header = (f"| {'case':<56} | µs CPU/varbind | µs CPU/interface | vs netmon v2c "
              "| vs snmp_exporter v3 |")
    print(header)
    print("|" + "|".join("-" * (len(p) + 0) for p in header.split("|")[1:-1]) + "|")
    for c in cases:
        vb, itf = med[(c.op, c.poller)]
        v2c_itf = med[(c.op, "v2c")][1]
        exp = med.get((c.op, "exporter"))
        vs_exp = f"{itf / exp[1]:.2f}×" if exp else "-"
        print(f"| {NAMES[(c.op, c.poller)]:<56} | {vb:>14.1f} | {itf:>16.1f} "
              f"| {itf / v2c_itf:>12.2f}× | {vs_exp:>19} |")


if __name__ == "__main__":
    main()
