"""IPv6 readiness collector: what a device has of IPv6, scored 0-4 with the reasons.

Step: scheduler -> **collectors** -> samples (``ipv6_readiness``, ``ipv6_service``).

Runs on its own interval (``ipv6.interval``, default 1 h), apart from traffic
polling: the daemon gives every collector with an ``interval_s`` its own job.
One run reads, in one parallel walk:

* IP-MIB ipAddressTable (1.3.6.1.2.1.4.34): each IPv6 address, its interface,
  type, origin, status and prefix length, classified link-local (fe80::/10),
  global unicast (2000::/3) or unique-local (fc00::/7); when IP-MIB has no
  valid IPv6 row, the legacy IPV6-MIB ipv6AddrTable (1.3.6.1.2.1.55.1.8);
* ipv6IpForwarding (1.3.6.1.2.1.4.25.0; IPV6-MIB ipv6Forwarding as fallback);
* ``::/0`` in inetCidrRouteTable (1.3.6.1.2.1.4.24.7; IPV6-MIB ipv6RouteTable
  as fallback): only the ``::/0`` rows are walked, never a full routing table;
* IPv6 traffic from ipSystemStatsTable (1.3.6.1.2.1.4.31.1, ipVersion 2), else
  the sum of ipIfStatsTable (1.3.6.1.2.1.4.31.3) rows; per configured link
  from ipIfStatsTable where the agent has it;
* whether the device answers SNMP over UDP/IPv6 at its ``address6``.

Counter rules are the interface collector's (netmon.rates.assess): the first
reading gives no rate, wraps are taken modulo 2^bits, a reboot or a changed
ipSystemStatsDiscontinuityTime gives no rate. The IPv6 share of IP traffic is
taken over the interval; on the first run (no previous reading) it is taken
from the counters' totals since they started, so a restart of netmon does not
make every device drop below level 4 for an hour.

Real agents differ from RFC 4293 (each case has a test in
tests/collectors/test_ipv6.py):

* indexes without the InetAddress length octet (``2.<16 octets>``);
* ``ipv6z`` addresses with a zone index: 20 octets (zone in the last four), or
  without the length octet with the zone as one sub-identifier (ZTE);
* ipAddressPrefix ``zeroDotZero`` (Juniper, Cisco ipv6z) or empty (Palo Alto):
  the prefix length then comes from ipAddressPrefixTable (a prefix on the same
  interface containing the address) or IPV6-MIB ipv6AddrPfxLength, else it is
  reported unknown;
* addresses written as text in the index (Brocade: ``2.39.<"0000:...:0001">``,
  or 32 hex digits).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from collectors.interfaces import COL as IF_COL
from collectors.interfaces import discover_interfaces, match_links
from collectors.ipv6_options import Ipv6Options
from collectors.ipv6_services import ServiceChecker, check_services
from netmon.model import IPV6_LINK, IPV6_READINESS, POLL_ISSUE, Sample
from netmon.plugins import register_collector, register_section
from netmon.rates import Rates, Reading, assess
from netmon.snmp import NoSuch, SnmpError, SnmpSession

if TYPE_CHECKING:
    from netmon.config import Link, Target

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IPV6_IP_FORWARDING = "1.3.6.1.2.1.4.25.0"  # IP-MIB: forwarding(1), notForwarding(2)
IPV6_FORWARDING_LEGACY = "1.3.6.1.2.1.55.1.1.0"  # IPV6-MIB ipv6Forwarding

IP_ADDRESS = "1.3.6.1.2.1.4.34.1"
ADDR_COL = {
    "ipAddressIfIndex": f"{IP_ADDRESS}.3",
    "ipAddressType": f"{IP_ADDRESS}.4",
    "ipAddressPrefix": f"{IP_ADDRESS}.5",
    "ipAddressOrigin": f"{IP_ADDRESS}.6",
    "ipAddressStatus": f"{IP_ADDRESS}.7",
}
IP_ADDRESS_PREFIX_ORIGIN = "1.3.6.1.2.1.4.32.1.5"  # ipAddressPrefixTable, any column will do
IP_ADDRESS_PREFIX_TABLE = "1.3.6.1.2.1.4.32.1"

IPV6_ADDR = "1.3.6.1.2.1.55.1.8.1"
LEGACY_COL = {
    "ipv6AddrPfxLength": f"{IPV6_ADDR}.2",
    "ipv6AddrType": f"{IPV6_ADDR}.3",
    "ipv6AddrAnycastFlag": f"{IPV6_ADDR}.4",
    "ipv6AddrStatus": f"{IPV6_ADDR}.5",
}

_ZERO16 = ".".join(["0"] * 16)
# inetCidrRouteTable index: destType(2=ipv6).len(16).dest(16 x 0).pfxLen(0).policy.nextHop...
# Walking a column below this prefix reads only the ::/0 routes.
CIDR_DEFAULT = {
    "inetCidrRouteIfIndex": f"1.3.6.1.2.1.4.24.7.1.7.2.16.{_ZERO16}.0",
    "inetCidrRouteType": f"1.3.6.1.2.1.4.24.7.1.8.2.16.{_ZERO16}.0",
}
# IPV6-MIB ipv6RouteTable index: dest(16, fixed).pfxLength.routeIndex.
LEGACY_ROUTE_DEFAULT = {
    "ipv6RouteIfIndex": f"1.3.6.1.2.1.55.1.11.1.4.{_ZERO16}.0",
    "ipv6RouteType": f"1.3.6.1.2.1.55.1.11.1.6.{_ZERO16}.0",
}

SYSTEM_STATS = "1.3.6.1.2.1.4.31.1.1"
IF_STATS = "1.3.6.1.2.1.4.31.3.1"
# Column numbers shared by ipSystemStatsTable and ipIfStatsTable.
STATS_COL = {
    "InReceives": 3, "HCInReceives": 4, "InOctets": 5, "HCInOctets": 6,
    "OutTransmits": 30, "HCOutTransmits": 31, "OutOctets": 32, "HCOutOctets": 33,
    "DiscontinuityTime": 46,
}

LEVEL_NAMES = ("none", "enabled", "addressed", "routed", "in_service")
UPLINK_ROLES = {"uplink": "uplink", "plane-a": "plane A link", "plane-b": "plane B link"}

ADDRESS_TYPE = {1: "unicast", 2: "anycast", 3: "broadcast"}
ADDRESS_ORIGIN = {1: "other", 2: "manual", 4: "dhcp", 5: "linklayer", 6: "random"}
ADDRESS_STATUS = {1: "preferred", 2: "deprecated", 3: "invalid", 4: "inaccessible",
                  5: "unknown", 6: "tentative", 7: "duplicate", 8: "optimistic"}
LEGACY_TYPE = {1: "stateless", 2: "stateful", 3: "unknown"}
LEGACY_STATUS = {1: "preferred", 2: "deprecated", 3: "invalid", 4: "inaccessible", 5: "unknown"}
USABLE_STATUS = {"preferred", "deprecated", "unknown", "optimistic", ""}
ROUTE_UNUSABLE = {2, 5}  # inetCidrRouteType reject(2), blackhole(5); ipv6RouteType discard(2)

_NETS = (
    ("link-local", ipaddress.IPv6Network("fe80::/10")),
    ("global", ipaddress.IPv6Network("2000::/3")),
    ("ula", ipaddress.IPv6Network("fc00::/7")),
    ("multicast", ipaddress.IPv6Network("ff00::/8")),
)


def classify(address: ipaddress.IPv6Address) -> str:
    """``link-local``, ``global``, ``ula``, ``loopback``, ``unspecified``, ``multicast`` or
    ``other``."""
    if address == ipaddress.IPv6Address("::1"):
        return "loopback"
    if address == ipaddress.IPv6Address("::"):
        return "unspecified"
    for name, net in _NETS:
        if address in net:
            return name
    return "other"


@dataclass(frozen=True, slots=True)
class Ipv6Address:
    """One IPv6 address of the device as discovered."""

    address: ipaddress.IPv6Address
    if_index: int | None
    prefix_length: int | None
    scope: str
    type: str = ""
    origin: str = ""
    status: str = ""
    zone: int | None = None
    source: str = "IP-MIB"
    quirks: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.status in USABLE_STATUS and self.type != "broadcast"

    def __str__(self) -> str:
        text = str(self.address)
        if self.zone is not None:
            text += f"%{self.zone}"
        return text + (f"/{self.prefix_length}" if self.prefix_length is not None else "/?")


# ------------------------------------------------------------------ index parsing

_INET_SIZE = {1: 4, 2: 16, 3: 8, 4: 20}


def _octets(parts: Sequence[int]) -> bytes | None:
    if any(p < 0 or p > 255 for p in parts):
        return None
    return bytes(parts)


def _from_text(raw: bytes) -> ipaddress.IPv6Address | None:
    """An address written as characters in the index: ``0000:...:0001`` or 32 hex digits."""
    try:
        text = raw.decode("ascii").strip().rstrip("\x00")
    except UnicodeDecodeError:
        return None
    text = text.split("%", 1)[0]
    try:
        if ":" in text:
            ip = ipaddress.ip_address(text)
            return ip if isinstance(ip, ipaddress.IPv6Address) else None
        if len(text) == 32:
            return ipaddress.IPv6Address(bytes.fromhex(text))
    except ValueError:
        return None
    return None


Parsed = tuple[ipaddress.IPv6Address, int | None, tuple[str, ...]]


def parse_inet_index(index: str) -> Parsed | None:
    """An ipAddressTable index (``InetAddressType.InetAddress``) -> (IPv6 address, zone,
    quirks), or None when it is not an IPv6 address (IPv4 rows, garbage)."""
    try:
        parts = [int(p) for p in index.split(".")]
    except ValueError:
        return None
    if len(parts) < 2:
        return None
    kind, rest = parts[0], parts[1:]
    if kind not in (2, 4):
        # ipv4/ipv4z rows are not ours; other types are agent garbage (Brocade ICX
        # writes a large number there).
        return None
    size = _INET_SIZE[kind]
    quirks: tuple[str, ...] = ()
    zone: int | None = None
    if len(rest) == size + 1 and rest[0] == size:
        raw = _octets(rest[1:])
    elif len(rest) == size:
        # No length octet: the InetAddress is encoded as if it were IMPLIED.
        raw = _octets(rest)
        quirks = ("index without length octet",)
    elif kind == 4 and len(rest) == 17:
        # ZTE: ipv6z without the length octet and the zone as one sub-identifier.
        raw = _octets(rest[:16])
        if raw is None:
            return None
        return (ipaddress.IPv6Address(raw), rest[16],
                ("index without length octet", "zone as one sub-identifier"))
    else:
        # The address written as text (Brocade: 2.39."0000:0000:...:0001").
        body = _octets(rest[1:] if rest[0] == len(rest) - 1 else rest)
        addr = _from_text(body) if body is not None else None
        return (addr, None, ("address as text in the index",)) if addr is not None else None
    if raw is None:
        return None
    if kind == 4:
        zone = int.from_bytes(raw[16:20], "big")
        raw = raw[:16]
    return ipaddress.IPv6Address(raw), zone, quirks


def prefix_length_from_pointer(value: object) -> int | None:
    """ipAddressPrefix is a RowPointer into ipAddressPrefixTable whose index ends in the
    prefix length; ``zeroDotZero`` (``0.0``) or an empty value points nowhere."""
    if not isinstance(value, str) or not value.startswith(IP_ADDRESS_PREFIX_TABLE + "."):
        return None
    last = value.rsplit(".", 1)[-1]
    if not last.isdigit() or int(last) > 128:
        return None
    return int(last)


def _prefix_rows(rows: Mapping[str, object]) -> list[tuple[int, ipaddress.IPv6Network]]:
    """ipAddressPrefixTable indexes (ifIndex.type.len.prefix.pfxLen) -> (ifIndex, network)."""
    out: list[tuple[int, ipaddress.IPv6Network]] = []
    for index in rows:
        parts = index.split(".")
        if len(parts) < 4 or not parts[0].isdigit() or not parts[-1].isdigit():
            continue
        parsed = parse_inet_index(".".join(parts[1:-1]))
        length = int(parts[-1])
        if parsed is None or length > 128:
            continue
        try:
            net = ipaddress.IPv6Network(f"{parsed[0]}/{length}", strict=False)
        except ValueError:
            continue
        out.append((int(parts[0]), net))
    return out


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def addresses_from_ip_mib(columns: Mapping[str, Mapping[str, object]],
                          prefixes: Mapping[str, object],
                          legacy_lengths: Mapping[str, int]) -> list[Ipv6Address]:
    """The IPv6 rows of ipAddressTable, with each prefix length found where it can be."""
    indexes: set[str] = set()
    for rows in columns.values():
        indexes.update(rows)
    known_prefixes = _prefix_rows(prefixes)
    found: list[Ipv6Address] = []
    for index in sorted(indexes):
        parsed = parse_inet_index(index)
        if parsed is None:
            continue
        address, zone, quirks = parsed

        def col(name: str, index: str = index) -> object:
            return columns.get(name, {}).get(index)

        if_index = _int(col("ipAddressIfIndex"))
        length = prefix_length_from_pointer(col("ipAddressPrefix"))
        if length is None:
            pointer = col("ipAddressPrefix")
            what = ("zeroDotZero" if pointer == "0.0" else "empty" if pointer in ("", b"")
                    else "absent" if pointer is None else "unusable")
            quirks = (*quirks, f"ipAddressPrefix {what}")
            matches = [net.prefixlen for i, net in known_prefixes
                       if address in net and (if_index is None or i == if_index)]
            if matches:
                length = max(matches)
            elif str(address) in legacy_lengths:
                length = legacy_lengths[str(address)]
        found.append(Ipv6Address(
            address=address, if_index=if_index, prefix_length=length, scope=classify(address),
            type=ADDRESS_TYPE.get(_int(col("ipAddressType")) or 0, ""),
            origin=ADDRESS_ORIGIN.get(_int(col("ipAddressOrigin")) or 0, ""),
            status=ADDRESS_STATUS.get(_int(col("ipAddressStatus")) or 0, ""),
            zone=zone, source="IP-MIB", quirks=quirks,
        ))
    return found


def addresses_from_ipv6_mib(columns: Mapping[str, Mapping[str, object]]) -> list[Ipv6Address]:
    """IPV6-MIB ipv6AddrTable rows: index ipv6IfIndex.<16 octets> (fixed size, no length)."""
    indexes: set[str] = set()
    for rows in columns.values():
        indexes.update(rows)
    found: list[Ipv6Address] = []
    for index in sorted(indexes):
        parts = [int(p) for p in index.split(".") if p.isdigit()]
        if len(parts) == 18 and parts[1] == 16:
            parts = [parts[0], *parts[2:]]  # a length octet the MIB does not have
        if len(parts) != 17:
            continue
        raw = _octets(parts[1:])
        if raw is None:
            continue
        address = ipaddress.IPv6Address(raw)

        def col(name: str, index: str = index) -> object:
            return columns.get(name, {}).get(index)

        length = _int(col("ipv6AddrPfxLength"))
        anycast = _int(col("ipv6AddrAnycastFlag")) == 1
        found.append(Ipv6Address(
            address=address, if_index=parts[0],
            prefix_length=length if length is not None and 0 < length <= 128 else None,
            scope=classify(address), type="anycast" if anycast else "unicast",
            origin=LEGACY_TYPE.get(_int(col("ipv6AddrType")) or 0, ""),
            status=LEGACY_STATUS.get(_int(col("ipv6AddrStatus")) or 0, ""),
            source="IPV6-MIB",
        ))
    return found


# ------------------------------------------------------------------ traffic


@dataclass(frozen=True, slots=True)
class Traffic:
    """Counters of one IP version, as read (None where the agent lacks them)."""

    in_octets: int | None
    out_octets: int | None
    in_packets: int | None
    out_packets: int | None
    bits: int
    discontinuity: int | None


def _traffic(row: Mapping[str, object]) -> Traffic | None:
    def pick(hc: str, small: str) -> tuple[int | None, bool]:
        value = _int(row.get(hc))
        if value is not None:
            return value, True
        return _int(row.get(small)), False

    in_o, hc_in = pick("HCInOctets", "InOctets")
    out_o, hc_out = pick("HCOutOctets", "OutOctets")
    in_p, _ = pick("HCInReceives", "InReceives")
    out_p, _ = pick("HCOutTransmits", "OutTransmits")
    if all(v is None for v in (in_o, out_o, in_p, out_p)):
        return None
    return Traffic(in_o, out_o, in_p, out_p, 64 if hc_in and hc_out else 32,
                   _int(row.get("DiscontinuityTime")))


def _stats_rows(columns: Mapping[str, Mapping[str, object]], table: str
                ) -> dict[str, dict[str, object]]:
    """{index: {column name: value}} for a walked ipSystemStats/ipIfStats table."""
    rows: dict[str, dict[str, object]] = {}
    for name, number in STATS_COL.items():
        for index, value in columns.get(f"{table}.{number}", {}).items():
            rows.setdefault(index, {})[name] = value
    return rows


def _sum_traffic(items: Sequence[Traffic]) -> Traffic | None:
    if not items:
        return None

    def total(attr: str) -> int | None:
        values = [getattr(t, attr) for t in items if getattr(t, attr) is not None]
        return sum(values) if values else None

    return Traffic(total("in_octets"), total("out_octets"), total("in_packets"),
                   total("out_packets"), min(t.bits for t in items), None)


@dataclass(frozen=True, slots=True)
class TrafficReading:
    ts: float
    uptime_cs: int | None
    v4: Traffic | None
    v6: Traffic | None


def _basis(v4: Traffic | None, v6: Traffic | None) -> str:
    """Octets where the agent counts them (many count packets only and leave octets 0)."""
    octets = [t.in_octets or 0 for t in (v4, v6) if t] + [t.out_octets or 0 for t in (v4, v6) if t]
    return "octets" if any(octets) else "packets"


def _reading(t: Traffic, ts: float, uptime: int | None, basis: str) -> Reading | None:
    a, b = ((t.in_octets, t.out_octets) if basis == "octets" else (t.in_packets, t.out_packets))
    if a is None and b is None:
        return None
    return Reading(ts=ts, uptime_cs=uptime, discontinuity=t.discontinuity, bits=t.bits,
                   in_octets=a or 0, out_octets=b or 0, small=())


@dataclass(slots=True)
class TrafficResult:
    in_bps: float | None = None
    out_bps: float | None = None
    in_pps: float | None = None
    out_pps: float | None = None
    share_pct: float | None = None
    share_basis: str = ""  # "interval" | "since counters started"
    unit: str = ""         # "octets" | "packets"
    counter_bits: int | None = None
    problem: str | None = None


def traffic_result(previous: TrafficReading | None, current: TrafficReading) -> TrafficResult:
    """IPv6 rates and share between two readings, under the interface collector's rules."""
    out = TrafficResult()
    if current.v6 is None:
        out.problem = "the agent has no IPv6 rows in ipSystemStatsTable or ipIfStatsTable"
        return out
    unit = _basis(current.v4, current.v6)
    out.unit = unit
    out.counter_bits = current.v6.bits
    cur6 = _reading(current.v6, current.ts, current.uptime_cs, unit)
    cur4 = _reading(current.v4, current.ts, current.uptime_cs, unit) if current.v4 else None
    if cur6 is None:
        out.problem = "no IPv6 traffic counters"
        return out
    prev6 = prev4 = None
    if previous is not None and previous.v6 is not None \
            and _basis(previous.v4, previous.v6) == unit:
        prev6 = _reading(previous.v6, previous.ts, previous.uptime_cs, unit)
        prev4 = (_reading(previous.v4, previous.ts, previous.uptime_cs, unit)
                 if previous.v4 else None)
    if prev6 is not None:
        r6 = assess(prev6, cur6, None)
        r4 = assess(prev4, cur4, None) if prev4 is not None and cur4 is not None else None
        if isinstance(r6, str):
            out.problem = f"no IPv6 rate this time: {r6}"
        elif isinstance(r4, str):
            out.problem = f"no IPv4 rate this time: {r4}"
        else:
            if unit == "octets":
                out.in_bps, out.out_bps = r6.in_bps, r6.out_bps
            else:  # assess counts "octets" x 8; these are packets
                out.in_pps, out.out_pps = r6.in_bps / 8, r6.out_bps / 8
            v6 = r6.in_bps + r6.out_bps
            v4 = (r4.in_bps + r4.out_bps) if isinstance(r4, Rates) else 0.0
            if v4 + v6 > 0:
                out.share_pct = 100.0 * v6 / (v4 + v6)
                out.share_basis = "interval"
                return out
    # First reading, no usable rate, or no traffic at all in the interval (an idle
    # device must not drop a level for it): the share of everything counted so far.
    v6_total = cur6.in_octets + cur6.out_octets
    v4_total = (cur4.in_octets + cur4.out_octets) if cur4 is not None else 0
    if v4_total + v6_total > 0:
        out.share_pct = 100.0 * v6_total / (v4_total + v6_total)
        out.share_basis = "since counters started"
    return out


# ------------------------------------------------------------------ one device


@dataclass(slots=True)
class Ipv6Device:
    """Everything one run learnt about a device's IPv6, and the verdict."""

    addresses: list[Ipv6Address] = field(default_factory=list)
    address_source: str = ""
    forwarding: bool | None = None
    forwarding_source: str = ""
    default_routes: int | None = None
    traffic: TrafficResult = field(default_factory=TrafficResult)
    links: list[tuple[Link, int | None, str]] = field(default_factory=list)  # link, ifIndex, name
    link_issues: list[str] = field(default_factory=list)
    link_traffic: dict[int, TrafficResult] = field(default_factory=dict)
    mgmt_ipv6: bool | None = None
    mgmt_detail: str = ""
    level: int = 0
    reasons: list[str] = field(default_factory=list)
    quirks: list[str] = field(default_factory=list)


def assess_level(dev: Ipv6Device, floor_pct: float) -> tuple[int, list[str]]:
    """The readiness level (each level needs every one below) and what is missing above it.

    The reasons list every unmet condition of every level above the one reached,
    so a planner sees all that is left to do, not just the next step.
    """
    usable = [a for a in dev.addresses if a.usable]
    interface_addrs = [a for a in usable if a.scope not in ("loopback", "unspecified",
                                                            "multicast")]
    routable = [a for a in interface_addrs if a.scope in ("global", "ula")]
    unmet: list[tuple[int, str]] = []
    if not interface_addrs:
        unmet.append((1, "no IPv6 address on any interface" +
                      (" (only loopback ::1)" if usable else "")))
    # Level 2: a global or ULA address on each configured uplink or plane link.
    uplinks = [(link, idx, name) for link, idx, name in dev.links if link.role in UPLINK_ROLES]
    if uplinks:
        for link, idx, name in uplinks:
            role = UPLINK_ROLES[link.role]
            label = link.name or name or link.selector
            if idx is None:
                unmet.append((2, f"{role} {label} matches no interface"))
            elif not any(a.if_index == idx for a in routable):
                unmet.append((2, f"no global IPv6 address on {role} {label}"))
    elif not routable:
        unmet.append((2, "no global or ULA IPv6 address on any interface"))
    # Level 3: forwarding and a default route.
    if dev.forwarding is None:
        unmet.append((3, "IPv6 forwarding state unknown (no ipv6IpForwarding)"))
    elif not dev.forwarding:
        unmet.append((3, "IPv6 forwarding is off"))
    if not dev.default_routes:
        unmet.append((3, "no ::/0 route"))
    # Level 4: IPv6 carries traffic, and the device is managed over IPv6.
    t = dev.traffic
    if t.share_pct is None:
        unmet.append((4, "IPv6 traffic unknown: " + (t.problem or "no IP traffic counted")))
    elif t.share_pct < floor_pct:
        unmet.append((4, f"IPv6 traffic {t.share_pct:.3g}% of IP traffic, below the "
                         f"{floor_pct:g}% floor"))
    if dev.mgmt_ipv6 is None:
        unmet.append((4, "management over IPv6 not checked: " + dev.mgmt_detail))
    elif not dev.mgmt_ipv6:
        unmet.append((4, dev.mgmt_detail))
    level = min([lvl for lvl, _ in unmet], default=5) - 1
    return max(level, 0), [text for _, text in unmet]


def _is_ipv6_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


class Ipv6Collector:
    """Reads a device's IPv6 state and scores it; checks the target's services over IPv6."""

    name: ClassVar[str] = "ipv6"

    def __init__(self, options: Ipv6Options | None = None) -> None:
        self.options = options or Ipv6Options()
        self.interval_s = self.options.interval_s
        self._traffic: dict[str, TrafficReading] = {}
        self._link_traffic: dict[tuple[str, int], TrafficReading] = {}
        self._checker: ServiceChecker | None = None

    def forget(self, target: str) -> None:
        self._traffic.pop(target, None)
        for key in [k for k in self._link_traffic if k[0] == target]:
            del self._link_traffic[key]

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        ts = datetime.now(UTC)
        tags = device_tags(target)
        samples: list[Sample] = []
        try:
            dev = await self.read_device(session, target)
        except SnmpError as exc:
            # The device part failed; the services are still checked (they do not
            # depend on SNMP), and the readiness sample carries the error, no level.
            samples.append(Sample(target.name, IPV6_READINESS, tags, {"error": str(exc)}, ts))
        else:
            samples.append(readiness_sample(target, dev, ts))
            samples.extend(link_samples(target, dev, ts))
            samples.extend(Sample(target.name, POLL_ISSUE, device_tags(target),
                                  {"message": f"ipv6: {text}"}, ts) for text in dev.link_issues)
        if target.services:
            if self._checker is None:
                self._checker = ServiceChecker(self.options)
            samples.extend(await check_services(target, self.options, self._checker))
        return samples

    async def read_device(self, session: SnmpSession, target: Target) -> Ipv6Device:
        dev = Ipv6Device()
        uplinks = [link for link in target.links if link.role in UPLINK_ROLES]
        name_cols = ["ifName", "ifDescr", "ifAlias"] if uplinks else []
        columns = [*ADDR_COL.values(), IP_ADDRESS_PREFIX_ORIGIN, *LEGACY_COL.values(),
                   *CIDR_DEFAULT.values(), *LEGACY_ROUTE_DEFAULT.values(),
                   *(f"{SYSTEM_STATS}.{n}" for n in STATS_COL.values()),
                   *(f"{IF_STATS}.{n}" for n in STATS_COL.values()),
                   *(IF_COL[n] for n in name_cols)]
        table = await session.walk(
            columns, scalars=[SYS_UPTIME, IPV6_IP_FORWARDING, IPV6_FORWARDING_LEGACY])
        by_name = {**{v: k for k, v in ADDR_COL.items()}, **{v: k for k, v in LEGACY_COL.items()},
                   **{IF_COL[n]: n for n in name_cols}}
        cols = {by_name[c]: rows for c, rows in table.columns.items() if c in by_name}

        legacy = addresses_from_ipv6_mib({k: cols.get(k, {}) for k in LEGACY_COL})
        legacy_lengths = {str(a.address): a.prefix_length for a in legacy
                          if a.prefix_length is not None}
        addrs = addresses_from_ip_mib({k: cols.get(k, {}) for k in ADDR_COL},
                                      table.columns.get(IP_ADDRESS_PREFIX_ORIGIN, {}),
                                      legacy_lengths)
        if any(a.status not in ("invalid", "duplicate") for a in addrs):
            dev.addresses, dev.address_source = addrs, "IP-MIB"
        elif legacy:
            dev.addresses, dev.address_source = legacy, "IPV6-MIB"
        else:
            dev.addresses, dev.address_source = addrs, "IP-MIB" if addrs else ""
        dev.quirks = sorted({q for a in dev.addresses for q in a.quirks})

        fwd = table.scalars.get(IPV6_IP_FORWARDING)
        fwd_legacy = table.scalars.get(IPV6_FORWARDING_LEGACY)
        for value, source in ((fwd, "ipv6IpForwarding"), (fwd_legacy, "ipv6Forwarding")):
            if _int(value) in (1, 2):
                dev.forwarding, dev.forwarding_source = value == 1, source
                break

        routes = 0
        for if_col, type_col in (CIDR_DEFAULT.values(), LEGACY_ROUTE_DEFAULT.values()):
            found = set(table.columns.get(if_col, {})) | set(table.columns.get(type_col, {}))
            types = table.columns.get(type_col, {})
            routes += sum(1 for i in found if _int(types.get(i)) not in ROUTE_UNUSABLE)
        dev.default_routes = routes

        uptime = _int(table.scalars.get(SYS_UPTIME))
        sys_rows = _stats_rows(table.columns, SYSTEM_STATS)
        if_rows = _stats_rows(table.columns, IF_STATS)
        by_version: dict[int, list[Traffic]] = {}
        per_if6: dict[int, Traffic] = {}
        for index, row in if_rows.items():
            version, _, if_index = index.partition(".")
            t = _traffic(row)
            if t is None or not version.isdigit() or not if_index.isdigit():
                continue
            by_version.setdefault(int(version), []).append(t)
            if version == "2":
                per_if6[int(if_index)] = t
        v4 = _traffic(sys_rows.get("1", {})) or _sum_traffic(by_version.get(1, []))
        v6 = _traffic(sys_rows.get("2", {})) or _sum_traffic(by_version.get(2, []))
        reading = TrafficReading(table.ts, uptime, v4, v6)
        dev.traffic = traffic_result(self._traffic.get(target.name), reading)
        self._traffic[target.name] = reading

        if target.links:
            interfaces = discover_interfaces(
                {n: cols.get(n, {}) for n in name_cols}) if name_cols else {}
            matched, issues = match_links(uplinks, interfaces) if interfaces else ([], [])
            by_link = {id(link): iface for link, iface in matched}
            for link in target.links:
                if link.role not in UPLINK_ROLES:
                    continue
                iface = by_link.get(id(link))
                if iface is None and link.if_index is not None:
                    dev.links.append((link, link.if_index, f"ifIndex {link.if_index}"))
                elif iface is not None:
                    idx = int(iface.index) if iface.index.isdigit() else None
                    dev.links.append((link, idx, iface.name))
                else:
                    dev.links.append((link, None, ""))
            dev.link_issues = [i for i in issues if "matches no interface" not in i]
            for _, idx, _ in dev.links:
                if idx is not None and idx in per_if6:
                    key = (target.name, idx)
                    cur = TrafficReading(table.ts, uptime, None, per_if6[idx])
                    dev.link_traffic[idx] = traffic_result(self._link_traffic.get(key), cur)
                    self._link_traffic[key] = cur

        await self._check_management(session, target, dev)
        dev.level, dev.reasons = assess_level(dev, self.options.traffic_floor_pct)
        return dev

    async def _check_management(self, session: SnmpSession, target: Target,
                                dev: Ipv6Device) -> None:
        if _is_ipv6_literal(target.address) and target.address6 in (None, target.address):
            # The device was just read over IPv6: management over IPv6 works.
            dev.mgmt_ipv6, dev.mgmt_detail = True, f"polled over IPv6 at {target.address}"
            return
        if target.address6 is None:
            dev.mgmt_detail = "no address6 configured"
            return
        where = f"[{target.address6}]:{target.port}"
        probe = session.at(target.address6)
        started = time.monotonic()
        try:
            response = await probe.get([SYS_UPTIME])
        except SnmpError as exc:
            dev.mgmt_ipv6 = False
            dev.mgmt_detail = f"SNMP over IPv6 at {where} does not answer ({exc.reason})"
            return
        dev.mgmt_ipv6 = True
        answered = not isinstance(response.values.get(SYS_UPTIME), NoSuch)
        dev.mgmt_detail = (f"SNMP over IPv6 at {where} answers in "
                           f"{(time.monotonic() - started) * 1000:.0f} ms"
                           + ("" if answered else " (no sysUpTime)"))


def device_tags(target: Target) -> dict[str, str]:
    tags = {"device": target.name, "site": target.site, "tier": target.tier}
    if target.province:
        tags["province"] = target.province
    agencies = {s.agency for s in target.services if s.agency}
    if len(agencies) == 1:
        tags["agency"] = agencies.pop()
    return tags


def readiness_sample(target: Target, dev: Ipv6Device, ts: datetime) -> Sample:
    scopes = [a.scope for a in dev.addresses if a.usable]
    fields: dict[str, float | int | str | bool] = {
        "level": dev.level,
        "level_name": LEVEL_NAMES[dev.level],
        "reasons": "; ".join(dev.reasons),
        "addresses": len(dev.addresses),
        "global_addresses": scopes.count("global"),
        "ula_addresses": scopes.count("ula"),
        "link_local_addresses": scopes.count("link-local"),
        "default_routes": dev.default_routes or 0,
    }
    if dev.address_source:
        fields["address_source"] = dev.address_source
    if dev.forwarding is not None:
        fields["forwarding"] = dev.forwarding
    if dev.mgmt_ipv6 is not None:
        fields["mgmt_ipv6"] = dev.mgmt_ipv6
    t = dev.traffic
    for name in ("in_bps", "out_bps", "in_pps", "out_pps", "share_pct"):
        value = getattr(t, name)
        if value is not None:
            fields[f"ipv6_{name}"] = value
    if t.counter_bits is not None:
        fields["counter_bits"] = t.counter_bits
    return Sample(target.name, IPV6_READINESS, device_tags(target), fields, ts)


def link_samples(target: Target, dev: Ipv6Device, ts: datetime) -> list[Sample]:
    """IPv6 rates on each configured uplink/plane link, from ipIfStatsTable (when the
    agent has it and a previous reading exists), tagged as the link's interface samples."""
    out: list[Sample] = []
    for link, idx, name in dev.links:
        t = dev.link_traffic.get(idx) if idx is not None else None
        if t is None:
            continue
        fields: dict[str, float | int | str | bool] = {
            f"ipv6_{k}": v for k in ("in_bps", "out_bps", "in_pps", "out_pps")
            if (v := getattr(t, k)) is not None}
        if not fields:
            continue
        if t.counter_bits is not None:
            fields["counter_bits"] = t.counter_bits
        tags = {**device_tags(target), "ifName": name, "role": link.role,
                "link": link.name or name}
        tags.pop("agency", None)
        if link.role in ("plane-a", "plane-b"):
            tags["plane"] = link.role[-1].upper()
        out.append(Sample(target.name, IPV6_LINK, tags, fields, ts))
    return out


register_section("ipv6", Ipv6Options)
register_collector("ipv6", Ipv6Collector, section="ipv6")
