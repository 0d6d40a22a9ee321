"""Interface collector + counter math against real snmpsim agents on loopback.

Counters grow at configured rates (snmpsim ``numeric`` variation); netmon's
rates must come within 2% of them, across 32-bit wraps, sysUpTime rollovers
and reboots.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from collectors.interfaces import InterfaceCollector
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.model import POLL_ISSUE, Sample
from netmon.poll import open_session, poll_target
from netmon.rates import COUNTER_RESET, IF_COUNTERS, INTERFACE, RateEngine
from netmon.simnet import SimInterface, device_records, write_snmprec
from netmon.snmp import SnmpClient


def make_target(sim, community: str, *, links: Sequence[dict] = (), discover: bool = False,
                name: str | None = None, **extra) -> Target:
    return Target.model_validate({
        "name": name or community.replace("/", "-"),
        "site": "TST",
        "tier": "province",
        "province": "Test",
        "address": sim.host,
        "port": sim.port,
        "snmp": SnmpV2c(version="2c", community=SecretStr(community)),
        "timeout": 1.0,
        "retries": 1,
        "links": list(links),
        "discover": discover,
        **extra,
    })


async def poll_series(target: Target, count: int, gap_s: float,
                      collector: InterfaceCollector | None = None) -> list[list[Sample]]:
    """Poll ``count`` times, returning derived samples per poll (raw ones kept in .raw)."""
    collector = collector or InterfaceCollector()
    engine = RateEngine()
    out: list[list[Sample]] = []
    async with SnmpClient() as client:
        session = open_session(client, target)
        for i in range(count):
            if i:
                await asyncio.sleep(gap_s)
            result = await poll_target(session, target, [collector], engine)
            assert result.error is None, result.error
            out.append(result.samples)
    return out


def by_name(samples: list[Sample], measurement: str = INTERFACE) -> dict[str, Sample]:
    return {s.tags["ifName"]: s for s in samples if s.measurement == measurement}


RATES = {  # ifName: (in_bps, out_bps, ifHighSpeed Mbit/s)
    "xe-0/0/0": (480e6, 120e6, 10_000),
    "xe-0/0/1": (37e6, 290e6, 1_000),
    "ge-0/0/2": (905e6, 1e6, 1_000),
    "ge-0/0/3": (0.0, 0.0, 1_000),
}


def rate_device() -> list[SimInterface]:
    return [
        SimInterface(i + 1, name, f"alias {name}", speed, rin, rout, initial_in=10**12 + i)
        for i, (name, (rin, rout, speed)) in enumerate(RATES.items())
    ]


@pytest.mark.parametrize("discover", [True, False], ids=["walk", "get"])
async def test_rates_within_2_percent_of_configured(snmpsim_factory, discover):
    sim = snmpsim_factory({"rates": device_records(rate_device())})
    links = [] if discover else [{"ifName": n, "role": "uplink"} for n in RATES]
    target = make_target(sim, "rates", links=links, discover=discover)
    polls = await poll_series(target, 3, 2.5)
    for poll in polls[1:]:
        got = by_name(poll)
        assert set(got) == set(RATES)
        for name, (rin, rout, speed) in RATES.items():
            f = got[name].fields
            assert f["in_bps"] == pytest.approx(rin, rel=0.02, abs=1.0), name
            assert f["out_bps"] == pytest.approx(rout, rel=0.02, abs=1.0), name
            assert f["capacity_bps"] == speed * 1_000_000
            assert f["counter_bits"] == 64
    first = by_name(polls[0])
    assert all("in_bps" not in s.fields for s in first.values())


async def test_rates_over_snmpv3_fast_path_within_2_percent(snmpsim_factory):
    # The same counters over SNMPv3 authPriv (snmpsim's v3 user, context = the
    # recording): netmon's own USM, no pysnmp, and the same rates.
    from agents import SIM_V3_USERS

    from netmon.credentials import SnmpV3

    user = SIM_V3_USERS[0]
    sim = snmpsim_factory({"rates": device_records(rate_device())}, v3_users=[user])
    creds = SnmpV3(version="3", username=user.name, auth_protocol=user.auth_protocol,
                   auth_key=SecretStr(user.auth_key), priv_protocol=user.priv_protocol,
                   priv_key=SecretStr(user.priv_key), context_name="rates")
    target = make_target(sim, "rates", discover=True).model_copy(update={"snmp": creds})
    collector = InterfaceCollector()
    engine = RateEngine()
    polls = []
    async with SnmpClient() as client:
        session = open_session(client, target)
        for i in range(2):
            if i:
                await asyncio.sleep(2.5)
            result = await poll_target(session, target, [collector], engine)
            assert result.error is None, result.error
            polls.append(result.samples)
        assert client._v3 is None  # pysnmp never started
    got = by_name(polls[1])
    assert set(got) == set(RATES)
    for name, (rin, rout, _) in RATES.items():
        assert got[name].fields["in_bps"] == pytest.approx(rin, rel=0.02, abs=1.0), name
        assert got[name].fields["out_bps"] == pytest.approx(rout, rel=0.02, abs=1.0), name


async def test_counter32_wrap_is_exact(snmpsim_factory):
    # 6.4 Gbit/s on a 10G port without HC counters: Counter32 wraps every 5.4 s.
    rate = 6.4e9
    iface = SimInterface(1, "et-0/0/0", "fast", 10_000, rate, rate / 4, hc=False)
    sim = snmpsim_factory({"wrap32": device_records([iface])})
    target = make_target(sim, "wrap32", links=[{"ifIndex": 1}])
    collector = InterfaceCollector()
    engine = RateEngine()
    raw_in: list[int] = []
    rates: list[float] = []
    async with SnmpClient() as client:
        session = open_session(client, target)
        for i in range(4):
            if i:
                await asyncio.sleep(3.0)
            raw = await collector.collect(session, target)
            (counters,) = [s for s in raw if s.measurement == IF_COUNTERS]
            raw_in.append(int(counters.fields["ifInOctets"]))
            derived = engine.process(raw)
            assert not [s for s in derived if s.measurement == COUNTER_RESET]
            (link,) = [s for s in derived if s.measurement == INTERFACE]
            assert link.fields["counter_bits"] == 32
            if "in_bps" in link.fields:
                rates.append(float(link.fields["in_bps"]))
    assert any(b < a for a, b in itertools.pairwise(raw_in)), "no wrap observed"
    assert len(rates) == 3
    for r in rates:
        assert r == pytest.approx(rate, rel=0.02)


async def test_missing_hc_columns_fall_back_to_32_bit_and_say_so(snmpsim_factory):
    ifaces = [SimInterface(1, "fa0/0", "WAN", 100, 8e6, 2e6, hc=False),
              SimInterface(2, "fa0/1", "LAN", 100, 1e6, 1e6, x_table=False, descr="fa0/1")]
    sim = snmpsim_factory({"nohc": device_records(ifaces)})
    target = make_target(sim, "nohc", discover=True)
    collector = InterfaceCollector()
    async with SnmpClient() as client:
        session = open_session(client, target)
        raw = await collector.collect(session, target)
    counters = by_name(raw, IF_COUNTERS)
    assert "ifInOctets" in counters["fa0/0"].fields
    assert "ifHCInOctets" not in counters["fa0/0"].fields
    issues = [s.fields["message"] for s in raw if s.measurement == "poll_issue"]
    assert any("lack 64-bit ifHCInOctets" in m for m in issues), issues
    polls = await poll_series(target, 2, 2.5)
    got = by_name(polls[1])
    assert got["fa0/0"].fields["in_bps"] == pytest.approx(8e6, rel=0.02)
    assert got["fa0/1"].fields["counter_bits"] == 32


async def test_sub_interface_below_its_traffic_keeps_rates_and_reports_speed_mismatch(
        snmpsim_factory):
    # A 50M Bundle-Ether sub-interface (ifHighSpeed from its bandwidth statement) on
    # a 40G bundle, carrying 200 Mbit/s in. The HC one is judged by nothing but its
    # rising counters; its 32-bit twin (an older line card) wraps 6 s after the agent
    # starts and is judged against its configured 1G capacity.
    ifaces = [
        SimInterface(1, "Bundle-Ether1", "bundle", 40_000, 900e6, 300e6),
        SimInterface(2, "Bundle-Ether1.100", "sub HC", 50, 200e6, 20e6),
        SimInterface(3, "Bundle-Ether1.200", "sub 32", 50, 200e6, 20e6, hc=False,
                     initial_in=2**32 - 150_000_000),
    ]
    sim = snmpsim_factory({"subif": device_records(ifaces)})
    target = make_target(sim, "subif", links=[
        {"ifName": "Bundle-Ether1", "role": "uplink"},
        {"ifName": "Bundle-Ether1.100", "role": "access"},
        {"ifName": "Bundle-Ether1.200", "role": "access", "capacity": "1G"},
    ])
    collector = InterfaceCollector()
    engine = RateEngine()
    raw_in: list[int] = []
    polls: list[list[Sample]] = []
    async with SnmpClient() as client:
        session = open_session(client, target)
        for i in range(4):
            if i:
                await asyncio.sleep(2.5)
            raw = await collector.collect(session, target)
            raw_in += [int(s.fields["ifInOctets"]) for s in raw if s.measurement == IF_COUNTERS
                       and s.tags["ifName"] == "Bundle-Ether1.200"]
            polls.append(engine.process(raw))
    assert any(b < a for a, b in itertools.pairwise(raw_in)), f"no wrap observed: {raw_in}"
    texts = []
    for derived in polls[1:]:
        assert not [s for s in derived if s.measurement == COUNTER_RESET]
        got = by_name(derived)
        assert got["Bundle-Ether1"].fields["in_bps"] == pytest.approx(900e6, rel=0.02)
        for name in ("Bundle-Ether1.100", "Bundle-Ether1.200"):
            assert got[name].fields["in_bps"] == pytest.approx(200e6, rel=0.02), name
            assert got[name].fields["out_bps"] == pytest.approx(20e6, rel=0.02), name
        assert got["Bundle-Ether1.100"].fields["util_pct"] == pytest.approx(400, rel=0.02)
        assert got["Bundle-Ether1.200"].fields["util_pct"] == pytest.approx(20, rel=0.02)
        issues = sorted(str(s.fields["message"]) for s in derived
                        if s.measurement == POLL_ISSUE
                        and str(s.fields["message"]).startswith("speed_mismatch"))
        assert [m.split(" carries ")[0] for m in issues] == [
            "speed_mismatch: Bundle-Ether1.100", "speed_mismatch: Bundle-Ether1.200"]
        assert all("above its reported port speed of 50.0 Mbit/s" in m for m in issues)
        texts.append(issues)
    assert texts[0] == texts[-1]  # the same text while the mismatch lasts


async def test_reboot_emits_counter_reset_and_no_rate(snmpsim_factory):
    before = [SimInterface(1, "ge-0/0/0", "", 1_000, 100e6, 50e6,
                           initial_in=10**13, initial_out=10**13)]
    sim = snmpsim_factory({"reboot": device_records(before, uptime_cs=50_000_000)})
    target = make_target(sim, "reboot", links=[{"ifName": "ge-0/0/0"}])
    collector = InterfaceCollector()
    engine = RateEngine()
    async with SnmpClient() as client:
        session = open_session(client, target)
        first = await poll_target(session, target, [collector], engine)
        assert first.error is None
        # The device restarts: sysUpTime and counters start again near zero.
        after = [SimInterface(1, "ge-0/0/0", "", 1_000, 100e6, 50e6)]
        write_snmprec(Path(sim.data_dir) / "reboot.snmprec",
                      device_records(after, uptime_cs=100))
        await asyncio.to_thread(sim.restart)
        second = await poll_target(session, target, [collector], engine)
        resets = [s for s in second.samples if s.measurement == COUNTER_RESET]
        assert [s.fields["reason"] for s in resets] == [
            "device restarted (sysUpTime and counters went backwards)"
        ]
        assert "in_bps" not in by_name(second.samples)["ge-0/0/0"].fields
        await asyncio.sleep(1.5)
        third = await poll_target(session, target, [collector], engine)
        assert by_name(third.samples)["ge-0/0/0"].fields["in_bps"] == pytest.approx(
            100e6, rel=0.02)


async def test_sysuptime_rollover_is_not_a_reboot(snmpsim_factory):
    # sysUpTime starts 2.5 s before its 32-bit rollover (497.1 days of uptime).
    iface = [SimInterface(1, "ge-0/0/0", "", 1_000, 200e6, 20e6)]
    sim = snmpsim_factory({"rollover": device_records(iface, uptime_cs=2**32 - 250,
                                                      uptime_wrap=True)})
    target = make_target(sim, "rollover", links=[{"ifName": "ge-0/0/0"}])
    collector = InterfaceCollector()
    engine = RateEngine()
    uptimes: list[int] = []
    async with SnmpClient() as client:
        session = open_session(client, target)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            raw = await collector.collect(session, target)
            (c,) = [s for s in raw if s.measurement == IF_COUNTERS]
            uptimes.append(int(c.fields["sysUpTime"]))
            derived = engine.process(raw)
            assert not [s for s in derived if s.measurement == COUNTER_RESET]
            link = by_name(derived)["ge-0/0/0"]
            if len(uptimes) > 1:
                assert link.fields["in_bps"] == pytest.approx(200e6, rel=0.02)
            if len(uptimes) > 2 and uptimes[-1] < uptimes[-2]:
                break
            await asyncio.sleep(1.0)
    assert any(b < a for a, b in itertools.pairwise(uptimes)), uptimes


async def test_link_selectors_alias_regex_index_and_unmatched(snmpsim_factory):
    ifaces = [SimInterface(1, "Gi0/0", "UPLINK-A core", 1_000),
              SimInterface(2, "Gi0/1", "UPLINK-B core", 1_000),
              SimInterface(3, "Gi0/2", "access", 100),
              SimInterface(4, "Gi0/2", "dup name", 100)]
    sim = snmpsim_factory({"sel": device_records(ifaces)})
    target = make_target(sim, "sel", links=[
        {"ifAlias": "^UPLINK-", "capacity": "400M", "role": "uplink"},
        {"ifIndex": 3, "name": "to district", "role": "access"},
        {"ifName": "xe-9/9/9"},
        {"ifName": "Gi0/2"},
    ])
    (poll,) = await poll_series(target, 1, 0)
    links = by_name(poll)
    assert set(links) == {"Gi0/0", "Gi0/1", "Gi0/2#3"}
    assert links["Gi0/0"].fields["capacity_bps"] == 400_000_000
    assert links["Gi0/2#3"].tags["link"] == "to district"
    issues = [s.fields["message"] for s in poll if s.measurement == "poll_issue"]
    assert "link ifName=xe-9/9/9 matches no interface (4 on the device)" in issues
    assert any(m.startswith("link ifName=Gi0/2 is ambiguous: ifIndex 3, 4") for m in issues)


async def test_interfaces_over_snmpv3_authpriv_on_ipv6(snmpd_v3):
    # Net-SNMP serves this machine's own interfaces; 'lo' always exists.
    from netmon.credentials import SnmpV3

    creds = SnmpV3(version="3", username=snmpd_v3.user, security_level="authPriv",
                   auth_protocol="SHA-256", auth_key=SecretStr(snmpd_v3.auth_key),
                   priv_protocol="AES-128", priv_key=SecretStr(snmpd_v3.priv_key))
    target = Target.model_validate({
        "name": "snmpd-v3", "site": "LAB", "tier": "datacentre", "address": "::1",
        "port": snmpd_v3.port, "snmp": creds, "discover": True, "timeout": 2.0,
        "links": [{"ifName": "lo", "capacity": "1G", "role": "access"}],
    })
    polls = await poll_series(target, 2, 1.0)
    lo = by_name(polls[1])["lo"]
    assert lo.tags["role"] == "access"
    assert lo.fields["counter_bits"] == 64
    assert lo.fields["in_bps"] >= 0 and lo.fields["status"] in ("ok", "over_threshold")


async def test_link_on_interface_without_counters_is_reported_once_not_refetched(
        snmpsim_factory):
    # A recording whose ifTable row has names but no octet counters (a partial walk).
    ifaces = [SimInterface(1, "Gi0/0", "WAN", 1_000, 1e6, 1e6),
              SimInterface(2, "Gi0/1", "dead", 1_000)]
    records = [r for r in device_records(ifaces)
               if not (r[0].endswith(".2") and r[0].split(".")[-2] in ("6", "10", "16")
                       and r[0].startswith(("1.3.6.1.2.1.2.2.1.", "1.3.6.1.2.1.31.1.1.1.")))]
    sim = snmpsim_factory({"partial": records})
    target = make_target(sim, "partial", links=[{"ifName": "Gi0/0"}, {"ifName": "Gi0/1"}])
    collector = InterfaceCollector()
    walks = 0
    async with SnmpClient() as client:
        session = open_session(client, target)
        original = session.walk

        async def counted(*args, **kwargs):
            nonlocal walks
            walks += 1
            return await original(*args, **kwargs)

        session.walk = counted  # type: ignore[method-assign]
        for _ in range(3):
            raw = await collector.collect(session, target)
            await asyncio.sleep(1.1)
    assert walks == 1  # metadata read once, not on every poll
    assert set(by_name(raw, IF_COUNTERS)) == {"Gi0/0"}
    issues = [s.fields["message"] for s in raw if s.measurement == "poll_issue"]
    assert "link ifName=Gi0/1 selects ifIndex 2 (Gi0/1), which has no octet counters" in issues


def proc_net_dev_rx_bytes(name: str) -> int:
    """Received bytes of interface ``name`` as the kernel counts them (what snmpd reads)."""
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        iface, _, counters = line.partition(":")
        if iface.strip() == name:
            return int(counters.split()[0])
    raise KeyError(name)


class LoopbackLoad:
    """Bounded UDP traffic to 127.0.0.1 at ``bps``, for at most ``max_s`` seconds."""

    def __init__(self, bps: float, max_s: float = 30.0) -> None:
        import socket
        import threading

        self.bps = bps
        self.max_s = max_s
        self._stop = threading.Event()
        self._rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._rx.bind(("127.0.0.1", 0))
        self._rx.settimeout(0.2)
        self._tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._drain, daemon=True)]

    def _send(self) -> None:
        payload = b"\0" * 8192
        per_s = self.bps / 8 / len(payload)
        start = time.monotonic()
        sent = 0
        while not self._stop.is_set() and time.monotonic() - start < self.max_s:
            due = start + sent / per_s
            if time.monotonic() < due:
                time.sleep(min(0.01, due - time.monotonic()))
                continue
            self._tx.sendto(payload, self._rx.getsockname())
            sent += 1

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self._rx.recv(65536)
            except TimeoutError:
                continue

    def __enter__(self) -> LoopbackLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        self._tx.close()
        self._rx.close()


async def after_cache_reload(session, oid: str, limit_s: float = 8.0) -> None:
    """Return just after snmpd refreshed ``oid``: Net-SNMP serves interface counters
    from a cache reloaded on a timer, so a value may be seconds old. Polling right
    after a reload makes every reading equally fresh, as a comparison needs."""
    first = (await session.get([oid])).values.get(oid)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if (await session.get([oid])).values.get(oid) != first:
            return
    raise AssertionError(f"{oid} did not change in {limit_s} s")


async def test_net_snmp_lo_under_load_matches_proc_net_dev(snmpd_v3):
    # Net-SNMP reports lo at ifSpeed 10,000,000 (ifHighSpeed 10) whatever it carries.
    # Under ~48 Mbit/s of real traffic every interval must keep its rate (matching
    # the kernel's own counters) and say speed_mismatch, never counter_reset.
    from netmon.credentials import SnmpV3

    creds = SnmpV3(version="3", username=snmpd_v3.user, security_level="authPriv",
                   auth_protocol="SHA-256", auth_key=SecretStr(snmpd_v3.auth_key),
                   priv_protocol="AES-128", priv_key=SecretStr(snmpd_v3.priv_key))
    target = Target.model_validate({
        "name": "snmpd-lo", "site": "LAB", "tier": "datacentre", "address": "127.0.0.1",
        "port": snmpd_v3.port, "snmp": creds, "timeout": 2.0,
        "links": [{"ifName": "lo", "capacity": "1G", "role": "access"}],
    })
    collector = InterfaceCollector()
    engine = RateEngine()
    polls: list[tuple[float, int, list[Sample]]] = []  # /proc time and bytes, derived
    with LoopbackLoad(48e6, max_s=15.0):
        async with SnmpClient() as client:
            session = open_session(client, target)
            (c,) = [s for s in await collector.collect(session, target)
                    if s.measurement == IF_COUNTERS]  # names and indexes first
            oid = f"1.3.6.1.2.1.31.1.1.1.6.{c.tags['ifIndex']}"
            for _ in range(2):  # one interval: snmpd reloads its cache every 3 s
                await after_cache_reload(session, oid)
                at, rx = time.time(), proc_net_dev_rx_bytes("lo")
                raw = await collector.collect(session, target)
                polls.append((at, rx, engine.process(raw)))
    for (t0, rx0, _), (t1, rx1, derived) in itertools.pairwise(polls):
        assert not [s for s in derived if s.measurement == COUNTER_RESET]
        lo = by_name(derived)["lo"]
        kernel_bps = (rx1 - rx0) * 8 / (t1 - t0)
        assert kernel_bps > 20e6  # well above 1.1 x the 10 Mbit/s snmpd reports
        assert lo.fields["in_bps"] == pytest.approx(kernel_bps, rel=0.05)
        assert lo.fields["capacity_bps"] == 1_000_000_000
        assert lo.fields["util_pct"] == pytest.approx(lo.fields["in_bps"] / 1e7)
        (issue,) = [str(s.fields["message"]) for s in derived if s.measurement == POLL_ISSUE]
        assert issue.startswith("speed_mismatch: lo carries ")
        assert "above its reported port speed of 10.0 Mbit/s" in issue
