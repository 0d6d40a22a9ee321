"""Generated SNMP recordings of IPv6 devices, one per readiness level and per agent quirk.

Step: test peers for collectors/ipv6.py (served by snmpsim via tests/agents.py).
Each builder returns snmprec records ``(oid, tag, value)``; the OIDs and
encodings are the MIBs' (RFC 4293 IP-MIB, RFC 2465 IPV6-MIB, RFC 4292
IP-FORWARD-MIB), the quirky ones as the real agents named in collectors/ipv6.py
write them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Record = tuple[str, str, str]

UPLINK = "ge-0/0/1"
ACCESS = "ge-0/0/2"
IP_ADDRESS = "1.3.6.1.2.1.4.34.1"
PREFIX_TABLE = "1.3.6.1.2.1.4.32.1"
IPV6_ADDR = "1.3.6.1.2.1.55.1.8.1"


def octets(address: str) -> list[int]:
    return list(ipaddress.ip_address(address).packed)


def dotted(values: Iterable[int]) -> str:
    return ".".join(str(v) for v in values)


@dataclass(frozen=True)
class Addr:
    """One ipAddressTable row; ``index`` overrides the encoded index (quirks)."""

    address: str
    if_index: int
    prefix: int | None = 64
    zone: int | None = None
    index: str | None = None
    pointer: tuple[str, str] | None = None  # (tag, value) of ipAddressPrefix, overriding
    status: int = 1
    origin: int = 2

    def encoded(self) -> str:
        if self.index is not None:
            return self.index
        raw = octets(self.address)
        if self.zone is not None:
            return dotted([4, 20, *raw, *self.zone.to_bytes(4, "big")])
        return dotted([2, 16, *raw])

    def records(self) -> list[Record]:
        idx = self.encoded()
        if self.pointer is not None:
            pointer = self.pointer
        elif self.prefix is None:
            pointer = ("6", "0.0")
        else:
            net = ipaddress.ip_network(f"{self.address}/{self.prefix}", strict=False)
            pointer = ("6", f"{PREFIX_TABLE}.5.{self.if_index}.2.16."
                            f"{dotted(net.network_address.packed)}.{self.prefix}")
        return [
            (f"{IP_ADDRESS}.3.{idx}", "2", str(self.if_index)),
            (f"{IP_ADDRESS}.4.{idx}", "2", "1"),
            (f"{IP_ADDRESS}.5.{idx}", *pointer),
            (f"{IP_ADDRESS}.6.{idx}", "2", str(self.origin)),
            (f"{IP_ADDRESS}.7.{idx}", "2", str(self.status)),
        ]


def base(uptime: int = 123456, names: Sequence[str] = (UPLINK, ACCESS)) -> list[Record]:
    out: list[Record] = [
        ("1.3.6.1.2.1.1.1.0", "4", "generated IPv6 test device"),
        ("1.3.6.1.2.1.1.3.0", "67", str(uptime)),
    ]
    for i, name in enumerate(names, start=1):
        out += [
            (f"1.3.6.1.2.1.2.2.1.2.{i}", "4", name),
            (f"1.3.6.1.2.1.31.1.1.1.1.{i}", "4", name),
            (f"1.3.6.1.2.1.31.1.1.1.18.{i}", "4", f"link {i}"),
        ]
    return out


def forwarding(on: bool) -> list[Record]:
    return [("1.3.6.1.2.1.4.25.0", "2", "1" if on else "2")]


def default_route(if_index: int = 1, next_hop: str = "fe80::1") -> list[Record]:
    # inetCidrRouteTable index: destType.len.dest.pfxLen.policy(len 2: 0.0).nhType.len.nh
    idx = dotted([2, 16, *[0] * 16, 0, 2, 0, 0, 2, 16, *octets(next_hop)])
    return [
        (f"1.3.6.1.2.1.4.24.7.1.7.{idx}", "2", str(if_index)),
        (f"1.3.6.1.2.1.4.24.7.1.8.{idx}", "2", "4"),  # remote
    ]


def system_stats(v4: tuple[int, int], v6: tuple[int, int]) -> list[Record]:
    """ipSystemStatsHCInOctets / HCOutOctets per IP version."""
    out: list[Record] = []
    for version, (i, o) in ((1, v4), (2, v6)):
        out += [
            (f"1.3.6.1.2.1.4.31.1.1.6.{version}", "70", str(i)),
            (f"1.3.6.1.2.1.4.31.1.1.33.{version}", "70", str(o)),
            (f"1.3.6.1.2.1.4.31.1.1.4.{version}", "70", str(i // 1000)),
            (f"1.3.6.1.2.1.4.31.1.1.31.{version}", "70", str(o // 1000)),
        ]
    return out


def addresses(rows: Iterable[Addr]) -> list[Record]:
    return [r for row in rows for r in row.records()]


LINK_LOCAL = Addr("fe80::1", 1, prefix=None, zone=1)
GLOBAL_UPLINK = Addr("2001:db8:1::1", 1, prefix=64)
GLOBAL_ACCESS = Addr("2001:db8:2::1", 2, prefix=64)


def level(n: int) -> list[Record]:
    """A device meeting exactly readiness level ``n`` (the uplink is ge-0/0/1, ifIndex 1).

    Level 4 also needs the test to point ``address6`` at an agent that answers.
    """
    recs = base()
    if n >= 1:
        recs += addresses([LINK_LOCAL, Addr("fe80::2", 2, prefix=None, zone=2)])
    if n == 1:
        # A global address, but only on the access port: not addressed on the uplink.
        recs += addresses([GLOBAL_ACCESS])
    if n >= 2:
        recs += addresses([GLOBAL_UPLINK])
    recs += forwarding(n >= 3)
    if n >= 3:
        recs += default_route()
    v6 = (50_000_000, 40_000_000) if n >= 4 else (0, 0)
    recs += system_stats((1_000_000_000, 900_000_000), v6)
    return recs


def legacy_only() -> list[Record]:
    """An agent with only IPV6-MIB ipv6AddrTable (index ipv6IfIndex.<16 octets>)."""
    recs = base() + forwarding(True) + default_route()
    for if_index, addr, length in ((1, "fe80::1", 64), (1, "2001:db8:1::1", 64),
                                   (2, "fd00:1::1", 48)):
        idx = dotted([if_index, *octets(addr)])
        recs += [
            (f"{IPV6_ADDR}.2.{idx}", "2", str(length)),
            (f"{IPV6_ADDR}.3.{idx}", "2", "2"),
            (f"{IPV6_ADDR}.4.{idx}", "2", "2"),
            (f"{IPV6_ADDR}.5.{idx}", "2", "1"),
        ]
    return recs


def quirk(name: str) -> list[Record]:
    """A level-3 device whose uplink global address is written the way one real agent does."""
    recs = base() + forwarding(True) + default_route()
    g = octets("2001:db8:1::1")
    ll = octets("fe80::1")
    rows: list[Addr]
    if name == "no_length_octet":
        rows = [Addr("2001:db8:1::1", 1, index=dotted([2, *g]))]
    elif name == "ipv6z_zone":
        # Standard ipv6z (20 octets, zone in the last four) and ZTE's (no length, zone as one
        # sub-identifier), beside a global address.
        rows = [Addr("fe80::1", 1, prefix=None, zone=7),
                Addr("fe80::2", 2, prefix=None, index=dotted([4, *octets("fe80::2"), 9])),
                GLOBAL_UPLINK]
    elif name == "prefix_zero_dot_zero":
        # Juniper: zeroDotZero; the length is in ipAddressPrefixTable.
        rows = [Addr("2001:db8:1::1", 1, pointer=("6", "0.0"))]
        recs += [(f"{PREFIX_TABLE}.5.1.2.16.{dotted(octets('2001:db8:1::'))}.56", "2", "2")]
    elif name == "prefix_empty":
        # Palo Alto: an empty ipAddressPrefix; the length is in IPV6-MIB ipv6AddrPfxLength.
        rows = [Addr("2001:db8:1::1", 1, pointer=("4", ""))]
        recs += [(f"{IPV6_ADDR}.2.1.{dotted(g)}", "2", "48")]
    elif name == "prefix_unknown":
        rows = [Addr("2001:db8:1::1", 1, pointer=("6", "0.0"))]
    elif name == "hex_string":
        # Brocade: the address as text in the index, with its length (39 characters).
        text = "2001:0db8:0001:0000:0000:0000:0000:0001"
        rows = [Addr("2001:db8:1::1", 1, prefix=None,
                     index=dotted([2, len(text), *text.encode()])),
                Addr("fe80::1", 2, prefix=None,
                     index=dotted([2, 32, *bytes(ll).hex().encode()]))]
    else:
        raise ValueError(name)
    return recs + addresses(rows) + system_stats((10_000, 10_000), (0, 0))


def growing(v4_bytes_per_s: float, v6_bytes_per_s: float) -> list[Record]:
    """A level-4 device whose IP traffic grows (snmpsim ``numeric``): ipSystemStats HC
    octets per version, and IPv6 ipIfStats HC octets on the uplink (ifIndex 1)."""
    recs = [r for r in level(4) if not r[0].startswith("1.3.6.1.2.1.4.31.")]

    def counter(oid: str, rate: float) -> Record:
        return (oid, "70:numeric", f"rate={rate:g},initial=1000000,wrap=1,max={2**64}")

    for version, rate in ((1, v4_bytes_per_s), (2, v6_bytes_per_s)):
        recs += [counter(f"1.3.6.1.2.1.4.31.1.1.6.{version}", rate),
                 counter(f"1.3.6.1.2.1.4.31.1.1.33.{version}", rate)]
    recs += [counter("1.3.6.1.2.1.4.31.3.1.6.2.1", v6_bytes_per_s),
             counter("1.3.6.1.2.1.4.31.3.1.33.2.1", v6_bytes_per_s / 2)]
    return recs
