"""The IPv6 readiness collector against real agents on loopback.

* Generated recordings (tests/ipv6_records.py), one per readiness level 0-4,
  an IPV6-MIB-only agent and one per indexing quirk: the right level, reasons,
  addresses and prefix lengths.
* Real recordings (shared/corpus/librenms and the snmpsim-data devices with
  IPv6 rows): the addresses found equal those the recording holds, no crash.
* Net-SNMP snmpd: management over IPv6 works at [::1]; an agent that listens
  on 127.0.0.1 only is found failing at its address6.
* Traffic: the interface collector's counter rules (first reading, wrap,
  reboot, discontinuity) for the IPv6 share.
"""

from __future__ import annotations

import asyncio
import bz2
import functools
import ipaddress
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import ipv6_records as rec
import pytest
from agents import Snmpd, SnmpSim, shared_dir, write_snmprec
from pydantic import SecretStr

from collectors.ipv6 import (
    Ipv6Collector,
    Traffic,
    TrafficReading,
    classify,
    parse_inet_index,
    readiness_sample,
    traffic_result,
)
from netmon.config import Target
from netmon.credentials import SnmpV2c, SnmpV3
from netmon.model import IPV6_LINK, IPV6_READINESS
from netmon.poll import open_session
from netmon.snmp import SnmpClient

UPLINK = [{"ifName": rec.UPLINK, "role": "uplink"}, {"ifName": rec.ACCESS, "role": "access"}]
TRAFFIC_LOW = "IPv6 traffic 0% of IP traffic, below the 0.1% floor"
NO_MGMT = "management over IPv6 not checked: no address6 configured"


def target(name: str, port: int, *, community: str | None = None, links=UPLINK,
           address: str = "127.0.0.1", address6: str | None = None, **extra) -> Target:
    return Target.model_validate({
        "name": name, "site": "HNI", "tier": "province", "province": "HN",
        "address": address, "port": port, "address6": address6,
        "snmp": SnmpV2c(version="2c", community=SecretStr(community or name)),
        "timeout": 1.0, "retries": 0, "links": links, **extra,
    })


async def read(t: Target, collector: Ipv6Collector | None = None):
    async with SnmpClient() as client:
        return await (collector or Ipv6Collector()).read_device(open_session(client, t), t)


GENERATED = {
    **{f"level{n}": rec.level(n) for n in range(5)},
    "legacy": rec.legacy_only(),
    **{q: rec.quirk(q) for q in ("no_length_octet", "ipv6z_zone", "prefix_zero_dot_zero",
                                 "prefix_empty", "prefix_unknown", "hex_string")},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Iterator[SnmpSim]:
    work = tmp_path_factory.mktemp("ipv6-rec")
    files = {n: write_snmprec(work / f"{n}.snmprec", r) for n, r in GENERATED.items()}
    with SnmpSim(files, ipv4=True, ipv6=True) as sim:
        yield sim


# -- pure parsing ---------------------------------------------------------------------------

G = rec.dotted(rec.octets("2001:db8::1"))
LL = rec.dotted(rec.octets("fe80::1"))


@pytest.mark.parametrize(("index", "address", "zone", "quirk"), [
    (f"2.16.{G}", "2001:db8::1", None, None),
    (f"2.{G}", "2001:db8::1", None, "index without length octet"),
    (f"4.20.{LL}.0.0.35.13", "fe80::1", 8973, None),                 # H3C: zone = ifIndex
    (f"4.{LL}.1", "fe80::1", 1, "zone as one sub-identifier"),       # ZTE
    ("2.39." + rec.dotted(b"2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1", None,
     "address as text in the index"),                                # Brocade
    ("2.32." + rec.dotted(b"20010db8000000000000000000000001"), "2001:db8::1", None,
     "address as text in the index"),
])
def test_index_forms(index, address, zone, quirk):
    got = parse_inet_index(index)
    assert got is not None
    assert got[0] == ipaddress.IPv6Address(address)
    assert got[1] == zone
    if quirk:
        assert quirk in got[2]
    else:
        assert got[2] == ()


@pytest.mark.parametrize("index", [
    "1.4.10.0.0.1",                      # IPv4
    f"24558368.16.{G}",                  # Brocade ICX garbage type
    "2.16.1.2.3",                        # truncated
    f"2.16.{G.replace('32', '300', 1)}",  # a sub-identifier that is no octet
])
def test_index_not_ipv6(index):
    assert parse_inet_index(index) is None


@pytest.mark.parametrize(("address", "scope"), [
    ("fe80::1", "link-local"), ("febf::1", "link-local"), ("2001:db8::1", "global"),
    ("3fff::1", "global"), ("fd00::1", "ula"), ("fc00::1", "ula"), ("::1", "loopback"),
    ("ff02::1", "multicast"), ("::", "unspecified"), ("4000::1", "other"),
])
def test_classify(address, scope):
    assert classify(ipaddress.IPv6Address(address)) == scope


# -- generated recordings: one per level, legacy MIB, quirks ----------------------------------

LEVELS = {
    0: ["no IPv6 address on any interface", "no global IPv6 address on uplink ge-0/0/1",
        "IPv6 forwarding is off", "no ::/0 route", TRAFFIC_LOW, NO_MGMT],
    1: ["no global IPv6 address on uplink ge-0/0/1", "IPv6 forwarding is off",
        "no ::/0 route", TRAFFIC_LOW, NO_MGMT],
    2: ["IPv6 forwarding is off", "no ::/0 route", TRAFFIC_LOW, NO_MGMT],
    3: [TRAFFIC_LOW, NO_MGMT],
    4: [],
}


@pytest.mark.parametrize("level", sorted(LEVELS))
async def test_generated_level(generated, level):
    # Level 4 needs management over IPv6: snmpsim also listens on [::1].
    t = target(f"level{level}", generated.port, address6="::1" if level == 4 else None)
    dev = await read(t)
    assert dev.level == level
    assert dev.reasons == LEVELS[level]
    sample = readiness_sample(t, dev, datetime.now(UTC))
    assert sample.measurement == IPV6_READINESS
    assert sample.fields["level"] == level
    assert sample.fields["level_name"] == ["none", "enabled", "addressed", "routed",
                                           "in_service"][level]
    assert sample.tags == {"device": t.name, "site": "HNI", "tier": "province",
                           "province": "HN"}


async def test_level4_traffic_share_and_management(generated):
    t = target("level4", generated.port, address6="::1")
    dev = await read(t)
    # ipSystemStats HC octets: v4 1.0e9 + 0.9e9, v6 5e7 + 4e7, since the counters started.
    assert dev.traffic.share_pct == pytest.approx(100 * 9e7 / (1.9e9 + 9e7))
    assert dev.traffic.share_basis == "since counters started"
    assert dev.mgmt_ipv6 is True
    assert dev.mgmt_detail.startswith(f"SNMP over IPv6 at [::1]:{generated.port} answers")


async def test_growing_traffic_rates_share_and_uplink(snmpsim_factory):
    sim = snmpsim_factory({"grow": rec.growing(1_000_000, 10_000)}, ipv4=True, ipv6=True)
    t = target("grow", sim.port, address6="::1")
    collector = Ipv6Collector()
    async with SnmpClient() as client:
        first = await collector.collect(open_session(client, t), t)
        await asyncio.sleep(1.0)
        second = await collector.collect(open_session(client, t), t)
    assert [s.measurement for s in first] == [IPV6_READINESS]  # no rate on the first run
    (ready,) = [s for s in second if s.measurement == IPV6_READINESS]
    assert ready.fields["ipv6_in_bps"] == pytest.approx(80_000, rel=0.2)
    assert ready.fields["ipv6_share_pct"] == pytest.approx(100 * 10_000 / 1_010_000, rel=0.05)
    assert ready.fields["level"] == 4
    (link,) = [s for s in second if s.measurement == IPV6_LINK]
    assert link.tags == {"device": "grow", "site": "HNI", "tier": "province", "province": "HN",
                         "ifName": "ge-0/0/1", "role": "uplink", "link": "ge-0/0/1"}
    assert link.fields["ipv6_in_bps"] == pytest.approx(80_000, rel=0.2)
    assert link.fields["ipv6_out_bps"] == pytest.approx(40_000, rel=0.2)


async def test_traffic_floor_is_configurable(generated):
    from collectors.ipv6 import Ipv6Options

    t = target("level4", generated.port, address6="::1")
    dev = await read(t, Ipv6Collector(Ipv6Options(traffic_floor="5%")))
    assert dev.level == 3
    assert dev.reasons == ["IPv6 traffic 4.52% of IP traffic, below the 5% floor"]


async def test_uplink_that_matches_no_interface(generated):
    t = target("level3", generated.port, links=[{"ifName": "xe-9/9/9", "role": "plane-a"}])
    dev = await read(t)
    assert dev.level == 1
    assert dev.reasons[0] == "plane A link ifName=xe-9/9/9 matches no interface"


async def test_no_uplinks_configured_needs_any_global(generated):
    assert (await read(target("level3", generated.port, links=[]))).level == 3
    # Without configured uplinks, a global address anywhere (here the access port) is
    # enough for level 2; with none at all, that is the reason.
    assert (await read(target("level1", generated.port, links=[]))).level == 2
    dev = await read(target("level0", generated.port, links=[]))
    assert dev.reasons[:2] == ["no IPv6 address on any interface",
                               "no global or ULA IPv6 address on any interface"]


async def test_legacy_ipv6_mib_only(generated):
    dev = await read(target("legacy", generated.port))
    assert dev.address_source == "IPV6-MIB"
    assert {str(a) for a in dev.addresses} == {"fe80::1/64", "2001:db8:1::1/64", "fd00:1::1/48"}
    assert {a.scope for a in dev.addresses} == {"link-local", "global", "ula"}
    assert dev.level == 3
    assert dev.reasons == [
        "IPv6 traffic unknown: the agent has no IPv6 rows in ipSystemStatsTable or "
        "ipIfStatsTable", NO_MGMT]


QUIRKS = {
    "no_length_octet": ({"2001:db8:1::1/64"}, "index without length octet"),
    "ipv6z_zone": ({"2001:db8:1::1/64", "fe80::1%7/?", "fe80::2%9/?"},
                   "zone as one sub-identifier"),
    "prefix_zero_dot_zero": ({"2001:db8:1::1/56"}, "ipAddressPrefix zeroDotZero"),
    "prefix_empty": ({"2001:db8:1::1/48"}, "ipAddressPrefix empty"),
    "prefix_unknown": ({"2001:db8:1::1/?"}, "ipAddressPrefix zeroDotZero"),
    "hex_string": ({"2001:db8:1::1/?", "fe80::1/?"}, "address as text in the index"),
}


@pytest.mark.parametrize("name", sorted(QUIRKS))
async def test_indexing_quirk(generated, name):
    addresses, quirk = QUIRKS[name]
    dev = await read(target(name, generated.port))
    assert {str(a) for a in dev.addresses} == addresses
    assert quirk in dev.quirks
    assert dev.level == 3
    assert dev.reasons == [TRAFFIC_LOW, NO_MGMT]


async def test_collect_writes_readiness_sample(generated):
    t = target("level2", generated.port)
    async with SnmpClient() as client:
        samples = await Ipv6Collector().collect(open_session(client, t), t)
    (s,) = [s for s in samples if s.measurement == IPV6_READINESS]
    assert s.fields["level"] == 2
    assert s.fields["global_addresses"] == 1
    assert s.fields["link_local_addresses"] == 2
    assert s.fields["forwarding"] is False
    assert s.fields["reasons"] == "; ".join(LEVELS[2])


async def test_unreachable_device_gives_error_not_level(generated):
    t = target("level3", generated.port, community="wrong-community")
    async with SnmpClient() as client:
        samples = await Ipv6Collector().collect(open_session(client, t), t)
    (s,) = samples
    assert "level" not in s.fields
    assert "no response" in str(s.fields["error"]) or "timeout" in str(s.fields["error"])


# -- management over IPv6 with Net-SNMP snmpd -------------------------------------------------

def v3_target(agent: Snmpd, address6: str) -> Target:
    return Target.model_validate({
        "name": "snmpd", "site": "HNI", "tier": "province", "address": agent.host4,
        "port": agent.port, "address6": address6, "timeout": 1.0, "retries": 0,
        "snmp": SnmpV3(version="3", username=agent.user, security_level="authPriv",
                       auth_protocol="SHA-256", auth_key=SecretStr(agent.auth_key),
                       priv_protocol="AES-128", priv_key=SecretStr(agent.priv_key)),
    })


async def test_snmpd_management_over_ipv6_works(snmpd_v3):
    dev = await read(v3_target(snmpd_v3, "::1"))
    assert dev.mgmt_ipv6 is True
    assert "management over IPv6" not in "; ".join(dev.reasons)


async def test_snmpd_address6_that_does_not_answer():
    with Snmpd(ipv6=False) as agent:
        dev = await read(v3_target(agent, "::1"))
    assert dev.mgmt_ipv6 is False
    assert dev.mgmt_detail.startswith(f"SNMP over IPv6 at [::1]:{agent.port} does not answer")
    assert dev.mgmt_detail in dev.reasons
    assert dev.level < 4


# -- traffic: the interface collector's counter rules ---------------------------------------

def reading(ts: float, v4: int, v6: int, *, uptime: int = 1000, bits: int = 64,
            disc: int | None = None) -> TrafficReading:
    return TrafficReading(ts, uptime, Traffic(v4, v4, 0, 0, bits, disc),
                          Traffic(v6, v6, 0, 0, bits, disc))


def test_traffic_interval_rates_and_share():
    r = traffic_result(reading(0, 1000, 1000), reading(100, 1000 + 9000, 1000 + 1000))
    assert r.in_bps == pytest.approx(1000 * 8 / 100)
    assert r.share_pct == pytest.approx(10.0)
    assert r.share_basis == "interval"


def test_traffic_counter32_wrap():
    r = traffic_result(reading(0, 2**32 - 100, 2**32 - 100, bits=32),
                       reading(10, 900, 100, bits=32))
    assert r.in_bps == pytest.approx(200 * 8 / 10)
    assert r.share_pct == pytest.approx(100 * 200 / 1200)


def test_traffic_reboot_gives_no_rate():
    r = traffic_result(reading(0, 5000, 5000, uptime=9000), reading(60, 10, 10, uptime=100))
    assert r.in_bps is None
    assert r.problem == ("no IPv6 rate this time: device restarted (sysUpTime and counters "
                         "went backwards)")
    assert r.share_pct is not None  # from the totals since the counters restarted


def test_traffic_discontinuity_gives_no_rate():
    r = traffic_result(reading(0, 5000, 5000, disc=1), reading(60, 6000, 6000, disc=2))
    assert r.in_bps is None
    assert "ifCounterDiscontinuityTime changed" in (r.problem or "")


def test_traffic_idle_interval_uses_totals():
    r = traffic_result(reading(0, 999_000, 1_000), reading(3600, 999_000, 1_000))
    assert r.in_bps == 0.0
    assert r.share_pct == pytest.approx(0.1)
    assert r.share_basis == "since counters started"


def test_traffic_first_reading_uses_totals():
    r = traffic_result(None, reading(0, 999_000, 1_000))
    assert r.in_bps is None
    assert r.share_pct == pytest.approx(0.1)
    assert r.share_basis == "since counters started"


# -- real recordings ----------------------------------------------------------------------

IP_IFINDEX = "1.3.6.1.2.1.4.34.1.3."
IPV6_PFX = "1.3.6.1.2.1.55.1.8.1.2."


def expected_addresses(lines: list[str]) -> set[str]:
    """The IPv6 addresses a recording holds, read the plain way: the address octets are the
    16 after the type (and length) octets; zones and text addresses as the agents write them."""
    ip_mib: set[str] = set()
    legacy: set[str] = set()
    for line in lines:
        oid = line.split("|", 1)[0]
        if oid.startswith(IP_IFINDEX):
            n = [int(p) for p in oid.removeprefix(IP_IFINDEX).split(".")]
            if n[0] not in (2, 4) or any(v > 255 for v in n[1:]):
                continue
            if n[0] == 2 and len(n) in (17, 18):
                ip_mib.add(str(ipaddress.IPv6Address(bytes(n[-16:]))))
            elif n[0] == 4 and len(n) in (18, 21, 22):
                body = n[2:18] if len(n) == 22 else n[1:17]
                ip_mib.add(str(ipaddress.IPv6Address(bytes(body))))
            elif n[0] == 2:
                ip_mib.add(str(ipaddress.ip_address(bytes(n[2:]).decode())))
        elif oid.startswith(IPV6_PFX):
            n = [int(p) for p in oid.removeprefix(IPV6_PFX).split(".")]
            legacy.add(str(ipaddress.IPv6Address(bytes(n[-16:]))))
    return ip_mib or legacy


def snmpsim_data_dir() -> Path:
    venv = Path(os.environ.get("NETMON_SNMPSIM_VENV", "/opt/netmon-snmpsim"))
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))"],
        check=True, capture_output=True, text=True)
    return Path(out.stdout.strip()) / "data" / "network"


_KEEP_RE = re.compile(r"^1\.3\.6\.1\.2\.1\.(?:1|2|31|4|55)\..*\n", re.M)


@functools.cache
def read_lines(path: Path) -> list[str]:
    """The system, IF-MIB, IP-MIB and IPV6-MIB lines of a recording (as served)."""
    data = bz2.decompress(path.read_bytes()) if path.suffix == ".bz2" else path.read_bytes()
    return _KEEP_RE.findall(data.decode("utf-8", errors="replace"))


# The snmpsim-data recordings that carry IPv6 rows (ipAddressTable type 2/4 or
# ipv6AddrTable); test_real_recordings_with_ipv6_rows checks each still does.
SNMPSIM_DATA_IPV6 = (
    "appliance/tripplite-poweralert.snmprec", "appliance/empirical-hw-mgmt.snmprec.bz2",
    "switch/zte-zrx10.snmprec.bz2", "switch/cisco-c3560.snmprec.bz2",
    "switch/h3c-wx6103.snmprec.bz2", "switch/hpe-procurve-516733-b21.snmprec.bz2",
    "switch/ruijie-s5750-24gt12sfp.snmprec.bz2", "switch/dcrs-5980-28t-dc.snmprec.bz2",
    "switch/h3c-comware-lsq1wcmd0-2509p61.snmprec.bz2", "switch/brocade-fiber-channel.snmprec.bz2",
    "switch/maipu-sm4200-16gef8ge-ac.snmprec.bz2", "switch/brocade-icx6430-24.snmprec.bz2",
    "switch/h3c-comware-7-1-075.snmprec.bz2", "router/ruijie-n18010.snmprec.bz2",
    "router/huawei-unknown-001.snmprec.bz2", "router/huawei-unknown-002.snmprec.bz2",
    "router/vyatta-unknown.snmprec.bz2", "router/brocade-unknown-001.snmprec.bz2",
    "firewall/sangfor-vad1.snmprec.bz2", "firewall/netentsec-ngfw.snmprec.bz2",
    "firewall/sangfor-ad1800-fp2.snmprec.bz2", "firewall/nsfocus-osms.snmprec.bz2",
)
REAL = [snmpsim_data_dir() / p for p in SNMPSIM_DATA_IPV6]
REAL += [shared_dir() / "corpus" / "librenms" / "vrp_ne.snmprec"]


def real_id(path: Path) -> str:
    return f"{path.parent.name}-{path.name.split('.snmprec')[0]}"


@pytest.fixture(scope="module")
def real_agents(tmp_path_factory) -> Iterator[SnmpSim]:
    work = tmp_path_factory.mktemp("ipv6-real")
    files = {}
    for path in REAL:
        out = work / f"{real_id(path)}.snmprec"
        out.write_text("".join(read_lines(path)), encoding="utf-8")
        files[real_id(path)] = out
    with SnmpSim(files, max_var_binds=256) as sim:
        yield sim


def test_real_recordings_with_ipv6_rows():
    for path in REAL:
        assert expected_addresses(read_lines(path)), path


CORPUS = sorted((shared_dir() / "corpus" / "librenms").glob("*.snmprec"))


@pytest.mark.parametrize("path", CORPUS, ids=real_id)
async def test_corpus_recording_addresses(snmpsim_corpus, path):
    """Every corpus recording, with IPv6 rows or without: what it holds, no crash."""
    name = path.name.removesuffix(".snmprec")
    dev = await read(target(name, snmpsim_corpus.port, links=[], timeout=5.0, retries=1))
    assert {str(a.address) for a in dev.addresses} == expected_addresses(read_lines(path))
    assert dev.level == (2 if name == "vrp_ne" else 0)


@pytest.mark.parametrize("path", REAL, ids=real_id)
async def test_real_recording_addresses(real_agents, path):
    name = real_id(path)
    t = target(name, real_agents.port, links=[], timeout=5.0, retries=1)
    dev = await read(t)
    assert {str(a.address) for a in dev.addresses} == expected_addresses(read_lines(path))
    assert 0 <= dev.level <= 4
    assert dev.reasons  # no real recording is at level 4 (no address6 here)
