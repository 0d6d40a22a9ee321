"""A hostile SNMP v2c agent on loopback UDP, and the mutations it applies.

Step: test peer in front of the poll path (netmon.poll.poll_target ->
collectors -> netmon.snmp -> netmon.ber). Used by tests/netmon/test_fuzz_snmp.py
and bench/fuzz_snmp.py.

The agent serves a small honest IF-MIB (sysUpTime, ifTable, ifXTable of
``n_if`` interfaces, counters growing with time) and, per *case*, damages
its answers: truncation, bit flips, wrong and oversized BER lengths, deep
nesting, wrong value types, out-of-range values, hostile OIDs, out-of-range
error-status / error-index, duplicate / reordered / missing varbinds, walks
that never leave the subtree, oversized datagrams, several replies per
request, wrong version or community, wrong PDU types, silence and garbage.

One agent serves many cases at once: the request's community names the case
(``fz<case id>``), so hundreds of polls can run in parallel against one
socket. A case damages one request (``at``, counted per case) or every one
from ``at`` on (``every``), so the walk and the GET paths both get hit.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from collectors.interfaces import InterfaceCollector
from netmon import ber
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.poll import open_session, poll_target
from netmon.rates import RateEngine
from netmon.snmp import SnmpClient, SnmpError

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"

# column -> (tag, value(index, seconds since start))
_COLUMNS: dict[str, tuple[int, Callable[[int, float], object]]] = {
    f"{IF_TABLE}.1": (ber.INTEGER, lambda i, t: i),  # ifIndex
    f"{IF_TABLE}.2": (ber.OCTET_STRING, lambda i, t: f"eth{i}".encode()),  # ifDescr
    f"{IF_TABLE}.3": (ber.INTEGER, lambda i, t: 6),  # ifType
    f"{IF_TABLE}.5": (ber.GAUGE32, lambda i, t: 1_000_000_000),  # ifSpeed
    f"{IF_TABLE}.7": (ber.INTEGER, lambda i, t: 1),  # ifAdminStatus
    f"{IF_TABLE}.8": (ber.INTEGER, lambda i, t: 1),  # ifOperStatus
    f"{IF_TABLE}.10": (ber.COUNTER32, lambda i, t: int(1e6 * i * t) % 2**32),
    f"{IF_TABLE}.13": (ber.COUNTER32, lambda i, t: 0),
    f"{IF_TABLE}.14": (ber.COUNTER32, lambda i, t: 0),
    f"{IF_TABLE}.16": (ber.COUNTER32, lambda i, t: int(2e6 * i * t) % 2**32),
    f"{IF_TABLE}.19": (ber.COUNTER32, lambda i, t: 0),
    f"{IF_TABLE}.20": (ber.COUNTER32, lambda i, t: 0),
    f"{IF_X_TABLE}.1": (ber.OCTET_STRING, lambda i, t: f"eth{i}".encode()),  # ifName
    f"{IF_X_TABLE}.6": (ber.COUNTER64, lambda i, t: 10**12 + int(1e6 * i * t)),
    f"{IF_X_TABLE}.10": (ber.COUNTER64, lambda i, t: 10**12 + int(2e6 * i * t)),
    f"{IF_X_TABLE}.15": (ber.GAUGE32, lambda i, t: 1000),  # ifHighSpeed
    f"{IF_X_TABLE}.18": (ber.OCTET_STRING, lambda i, t: f"link {i}".encode()),
}
IF_OPER_STATUS = f"{IF_TABLE}.8"

Varbind = tuple[bytes, bytes]  # (OID content octets, value TLV)


def _arcs(oid: str) -> tuple[int, ...]:
    return tuple(int(a) for a in oid.split("."))


class MibView:
    """The honest agent: sorted records, values computed at answer time."""

    def __init__(self, n_if: int = 2) -> None:
        self.started = time.monotonic()
        recs: list[tuple[tuple[int, ...], bytes, int, Callable[[int, float], object], int]] = []
        recs.append((_arcs(SYS_UPTIME), ber.encode_oid_content(SYS_UPTIME), ber.TIMETICKS,
                     lambda i, t: 360_000 + int(t * 100), 0))
        for col, (tag, fn) in _COLUMNS.items():
            for i in range(1, n_if + 1):
                oid = f"{col}.{i}"
                recs.append((_arcs(oid), ber.encode_oid_content(oid), tag, fn, i))
        recs.sort()
        self.records = recs
        self.keys = [r[0] for r in recs]
        self.by_content = {r[1]: k for k, r in enumerate(recs)}
        self.next_index: dict[bytes, int] = {r[1]: k + 1 for k, r in enumerate(recs)}

    def _value(self, k: int) -> bytes:
        _, _, tag, fn, i = self.records[k]
        return ber.encode_value(tag, fn(i, time.monotonic() - self.started))  # type: ignore[arg-type]

    def get(self, content: bytes) -> Varbind:
        k = self.by_content.get(content)
        if k is None:
            return content, b"\x81\x00"  # noSuchInstance
        return content, self._value(k)

    def next(self, content: bytes) -> Varbind:
        k = self.next_index.get(content)
        if k is None:
            try:
                key = ber.oid_arcs(content)
            except ber.BerError:
                key = ()
            k = bisect.bisect_right(self.keys, key)
            if len(self.next_index) < 100_000:
                self.next_index[content] = k
        if k >= len(self.records):
            return content, b"\x82\x00"  # endOfMibView
        return self.records[k][1], self._value(k)

    def answer(self, msg: ber.Message) -> list[Varbind]:
        names = [c for c, _ in msg.varbinds]
        if msg.pdu_type == ber.GET_REQUEST:
            return [self.get(c) for c in names]
        if msg.pdu_type == ber.GET_NEXT_REQUEST:
            return [self.next(c) for c in names]
        nr = max(0, min(msg.error_status, len(names)))
        reps = max(0, msg.error_index)
        out = [self.next(c) for c in names[:nr]]
        last = names[nr:]
        for _ in range(reps):
            if not last:
                break
            row = [self.next(c) for c in last]
            out.extend(row)
            last = [c for c, _ in row]
        return out


def encode_message(version: int, community: bytes, pdu_type: int, request_id: int,
                   error_status: int, error_index: int, varbinds: list[Varbind]) -> bytes:
    vbl = b"".join(ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OBJECT_IDENTIFIER, c) + v)
                   for c, v in varbinds)
    pdu = (ber.encode_integer(request_id) + ber.encode_integer(error_status)
           + ber.encode_integer(error_index) + ber.encode_tlv(ber.SEQUENCE, vbl))
    return ber.encode_tlv(ber.SEQUENCE, ber.encode_integer(version)
                          + ber.encode_tlv(ber.OCTET_STRING, community)
                          + ber.encode_tlv(pdu_type, pdu))


# ---------------------------------------------------------------- hostile pieces


def big_int_tlv(tag: int, n_octets: int) -> bytes:
    return bytes((tag,)) + ber.encode_length(n_octets) + b"\x01" + bytes(n_octets - 1)


REPRODUCER_VALUE = bytes.fromhex("0209010000000000000000")
OUT_OF_RANGE = [
    ber.encode_tlv(ber.INTEGER, (2**31).to_bytes(5, "big", signed=True)),
    ber.encode_tlv(ber.INTEGER, (-(2**31) - 1).to_bytes(5, "big", signed=True)),
    ber.encode_tlv(ber.INTEGER, (2**63).to_bytes(9, "big", signed=True)),
    bytes.fromhex("0209010000000000000000"),  # the 9-byte INTEGER 2^64
    big_int_tlv(ber.INTEGER, 139),
    bytes.fromhex("41050100000000"),  # Counter32 2^32, as in the issue
    big_int_tlv(ber.GAUGE32, 12),  # a huge ifHighSpeed
    big_int_tlv(ber.TIMETICKS, 139),  # a 139-byte sysUpTime
    bytes.fromhex("4609010000000000000000"),  # Counter64 2^64
    big_int_tlv(ber.COUNTER64, 40),
    b"\x02\x00", b"\x41\x00", b"\x46\x00",  # empty integers
]


def hostile_oid_contents(rng: random.Random) -> bytes:
    choice = rng.randrange(8)
    if choice == 0:
        return b""  # empty name
    if choice == 1:  # an arc of ~4,300+ decimal digits
        return b"\x2b" + b"\xff" * rng.choice([2050, 2100, 4000]) + b"\x7f"
    if choice == 2:  # 4 KB of small arcs (far beyond 128)
        return b"\x2b" + bytes(rng.randrange(1, 128) for _ in range(4096))
    if choice == 3:
        return b"\x2b\x06\x01\x86"  # unfinished sub-identifier
    if choice == 4:
        return b"\x2b" + b"\x90\x80\x80\x80\x00"  # 2^32
    if choice == 5:  # 129 arcs of 2^32-1: each arc legal, too many of them
        return b"\x2b" + b"\x8f\xff\xff\xff\x7f" * 128
    if choice == 6:
        return b"\x80" * rng.randrange(1, 20) + b"\x01"  # padded sub-identifiers
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))


def wrong_type_value(rng: random.Random) -> bytes:
    return rng.choice([
        ber.encode_tlv(ber.OCTET_STRING, b"x" * rng.randrange(0, 50)),
        ber.encode_oid("1.3.6.1.4.1.9"),
        ber.encode_tlv(ber.OBJECT_IDENTIFIER, hostile_oid_contents(rng)),
        ber.encode_tlv(ber.IP_ADDRESS, bytes(rng.randrange(0, 9))),
        b"\x05\x00", b"\x05\x03abc",
        ber.encode_tlv(ber.OPAQUE, b"\x9f\x78\x04\x00\x00\x00\x00"),
        ber.encode_tlv(ber.SEQUENCE, b"\x02\x01\x01"),
        ber.encode_tlv(ber.RESPONSE, b""),
        b"\x80\x02ab", b"\x81\x00", b"\x82\x00",
        b"\x9f\x1f\x00", b"\x1f\x81\x00\x00", b"\x47\x01\x00", b"\x01\x01\xff",
        b"\x09\x03\x80\x00\x01", b"\x43\x05\x00\xff\xff\xff\xff",
        ber.encode_tlv(ber.COUNTER64, b"\xff" * 8),
        ber.encode_integer(rng.randrange(-(2**31), 2**31)),
    ])


def nested(depth: int, inner: bytes = b"\x05\x00") -> bytes:
    out = inner
    for _ in range(depth):
        out = ber.encode_tlv(ber.SEQUENCE, out)
    return out


def _tlv_length_offsets(data: bytes) -> list[int]:
    """Offsets of every length octet in the honest message (it parses)."""
    out: list[int] = []

    def walk(pos: int, end: int) -> None:
        while pos + 2 <= end:
            tag = data[pos]
            out.append(pos + 1)
            try:
                _, start, stop = ber.read_tlv(data, pos, end)
            except ber.BerError:
                return
            if tag & 0x20:
                walk(start, stop)
            pos = stop

    walk(0, len(data))
    return out


FAMILIES = (
    "honest", "truncate", "bitflip", "bytes", "splice", "length", "nesting", "value_type",
    "value_range", "status", "varbinds", "endless_walk", "long_oid_walk", "oversized",
    "replies", "oid_names", "foreign", "pdu", "silence", "garbage", "request_id",
)


_ALL_FAMILIES = (*FAMILIES, "reproducer")
_FAMILY_INDEX = {f: i for i, f in enumerate(_ALL_FAMILIES)}


@dataclass(slots=True)
class Case:
    """One hostile device: which family, which request to damage, its random seed."""

    id: int
    family: str
    seed: int
    at: int = 0  # the first request (counted per case) that is damaged
    every: bool = False  # damage every request from ``at`` on
    requests: int = 0  # requests seen so far
    sent: int = 0  # datagrams sent

    @property
    def community(self) -> bytes:
        """Names the case, and carries it: an agent in another process can decode it."""
        return (f"fz{self.id}-{_FAMILY_INDEX.get(self.family, 0)}-{self.seed}-{self.at}-"
                f"{int(self.every)}").encode()

    @classmethod
    def from_community(cls, community: bytes) -> Case | None:
        try:
            ident, family, seed, at, every = community.decode().removeprefix("fz").split("-")
            return cls(int(ident), _ALL_FAMILIES[int(family)], int(seed), int(at),
                       every == "1")
        except (ValueError, IndexError, UnicodeDecodeError):
            return None


def _mutate(case: Case, rng: random.Random, msg: ber.Message, view: MibView) -> list[bytes]:
    """The datagrams to send for one request of ``case``."""
    family = case.family
    vbs = view.answer(msg)
    header = (ber.VERSION_2C, msg.community, ber.RESPONSE, msg.request_id, 0, 0)

    def good(varbinds: list[Varbind] = vbs, **change: int) -> bytes:
        h = dict(zip(("version", "community", "pdu_type", "request_id", "error_status",
                      "error_index"), header, strict=True))
        h.update(change)
        return encode_message(h["version"], h["community"], h["pdu_type"],  # type: ignore[arg-type]
                              h["request_id"], h["error_status"], h["error_index"],  # type: ignore[arg-type]
                              varbinds)

    honest = good()
    if family == "honest":
        return [honest]
    if family == "reproducer":  # the issue's: every ifOperStatus a 9-byte INTEGER 2^64
        prefix = ber.encode_oid_content(IF_OPER_STATUS)
        return [good([(c, REPRODUCER_VALUE if c.startswith(prefix) and len(c) > len(prefix)
                       else v) for c, v in vbs])]
    if family == "truncate":
        return [honest[: rng.randrange(len(honest))]]
    if family == "bitflip":
        data = bytearray(honest)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return [bytes(data)]
    if family == "bytes":
        data = bytearray(honest)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return [bytes(data)]
    if family == "splice":
        data = bytearray(honest)
        pos = rng.randrange(len(data))
        if rng.random() < 0.5:
            del data[pos: pos + rng.randint(1, 8)]
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        return [bytes(data)]
    if family == "length":
        data = bytearray(honest)
        pos = rng.choice(_tlv_length_offsets(honest))
        n = data[pos]
        replacement = rng.choice([
            bytes(((n + 1) & 0x7F,)), bytes(((n - 1) & 0x7F,)), b"\x00", b"\x7f", b"\x80",
            b"\x84\xff\xff\xff\xff", b"\x84\x7f\xff\xff\xff", b"\x81\xff", b"\x82\xff\xff",
            b"\x85\x00\x00\x00\x00\x01", b"\x88" + b"\xff" * 8, b"\xff",
        ])
        if n & 0x80:  # long form: replace the whole length field
            k = n & 0x7F
            data[pos: pos + 1 + k] = replacement
        else:
            data[pos: pos + 1] = replacement
        return [bytes(data)]
    if family == "nesting":
        depth = rng.choice([2, 10, 100, 1000, 5000])
        if rng.random() < 0.5 and vbs:
            k = rng.randrange(len(vbs))
            vbs = list(vbs)
            vbs[k] = (vbs[k][0], nested(depth))
            return [good(vbs)]
        return [ber.encode_tlv(ber.SEQUENCE, nested(depth, honest))]
    if family == "value_type" and vbs:
        vbs = list(vbs)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(vbs))
            vbs[k] = (vbs[k][0], wrong_type_value(rng))
        return [good(vbs)]
    if family == "value_range" and vbs:
        vbs = list(vbs)
        k = rng.randrange(len(vbs))
        vbs[k] = (vbs[k][0], rng.choice(OUT_OF_RANGE))
        return [good(vbs)]
    if family == "status":
        status = rng.choice([-1, 1, 2, 5, 18, 19, 255, 2**31 - 1, -(2**31), 7])
        index = rng.choice([-1, 0, 1, len(vbs), len(vbs) + 1, 2**31 - 1, -(2**31)])
        data = good(error_status=status, error_index=index)
        if rng.random() < 0.2:  # an error-status beyond Integer32
            data = honest.replace(b"\x02\x01\x00\x02\x01\x00", b"\x02\x09" + b"\x01" * 9
                                  + b"\x02\x01\x00", 1)
        return [data]
    if family == "varbinds":
        vbs = list(vbs)
        how = rng.randrange(6)
        if how == 0 and vbs:
            vbs = vbs + vbs[: rng.randint(1, len(vbs))]  # duplicates
        elif how == 1:
            rng.shuffle(vbs)
        elif how == 2 and vbs:
            del vbs[rng.randrange(len(vbs))]
        elif how == 3:
            vbs = []
        elif how == 4:
            vbs = vbs[::-1]
        else:
            vbs = vbs + [view.next(vbs[-1][0] if vbs else b"\x2b")] * rng.randint(1, 30)
        return [good(vbs)]
    if family in ("endless_walk", "long_oid_walk"):
        if msg.pdu_type != ber.GET_BULK_REQUEST:
            return [honest]
        names = [c for c, _ in msg.varbinds]
        nr = max(0, min(msg.error_status, len(names)))
        out = [view.next(c) for c in names[:nr]]
        reps = max(1, msg.error_index)
        last = names[nr:]
        for _ in range(reps):
            row = []
            for c in last:
                if family == "long_oid_walk":
                    # Grow towards the RFC's 128 arcs of up to 2^32-1: ~640 octets.
                    arcs = ber.oid_arcs(c)
                    if len(arcs) < 120:  # the case's own subtree: new OIDs for every case
                        nxt = (*arcs, case.seed & 0xFFFFFFFF) + (4294967295,) * (119 - len(arcs))
                    else:
                        nxt = (*arcs[:-1], arcs[-1] + 1) if arcs[-1] < 2**32 - 1 else (*arcs, 0)
                    content = ber.encode_oid_arcs(nxt[:128])
                else:
                    arcs = ber.oid_arcs(c)
                    content = ber.encode_oid_arcs((*arcs, 1)) if len(arcs) < 20 else \
                        ber.encode_oid_arcs((*arcs[:-1], arcs[-1] + 1))
                row.append((content, ber.encode_value(ber.COUNTER32, 1)))
            out.extend(row)
            last = [c for c, _ in row]
            if sum(len(c) for c, _ in out) > 50_000:
                break  # a UDP datagram holds 65,507 bytes: agents truncate the last row
        return [good(out)]
    if family == "oversized":
        size = rng.choice([1000, 8000, 30000, 65000])
        vbs = list(vbs) or [(ber.encode_oid_content(SYS_UPTIME), b"")]
        k = rng.randrange(len(vbs))
        vbs[k] = (vbs[k][0], ber.encode_tlv(ber.OCTET_STRING, b"A" * size))
        data = good(vbs)
        return [data[:65507]]
    if family == "replies":
        how = rng.randrange(6)
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        if how == 0:
            return [honest] * rng.randint(2, 5)
        if how == 1:
            return [garbage] * rng.randint(1, 10) + [honest]
        if how == 2:
            return [good(error_status=5), honest]
        if how == 3:
            return [honest[: len(honest) // 2], honest]
        if how == 4:
            return [good(request_id=msg.request_id + 1), honest, good(request_id=0)]
        return [good(community=b"other"), good(version=0), honest]
    if family == "oid_names":
        vbs = list(vbs) or [(b"", b"\x05\x00")]
        k = rng.randrange(len(vbs))
        if rng.random() < 0.5:
            vbs[k] = (hostile_oid_contents(rng), vbs[k][1])
        else:
            vbs[k] = (vbs[k][0], ber.encode_tlv(ber.OBJECT_IDENTIFIER,
                                                hostile_oid_contents(rng)))
        return [good(vbs)[:65507]]
    if family == "foreign":
        return [rng.choice([good(version=0), good(version=3), good(version=2**31 - 1),
                            good(community=b"public"), good(community=msg.community + b"x"),
                            good(community=b"")])]
    if family == "pdu":
        return [good(pdu_type=rng.choice([ber.GET_REQUEST, ber.GET_NEXT_REQUEST, ber.REPORT,
                                           0xA7, 0xA4, ber.SET_REQUEST]))]
    if family == "silence":
        return []
    if family == "garbage":
        return [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1500)))]
    if family == "request_id":
        return [good(request_id=rng.choice([0, -1, msg.request_id ^ 0x40000000,
                                            2**31 - 1]))]
    return [honest]


class HostileAgent(asyncio.DatagramProtocol):
    """Answers each request as its case says; the community names the case."""

    def __init__(self, n_if: int = 2, *, stateless: bool = False) -> None:
        self.view = MibView(n_if)
        self.stateless = stateless  # cases come from the community alone
        self.cases: dict[bytes, Case] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0
        self.errors: list[str] = []  # the agent's own failures (a test bug, not netmon's)

    def add(self, case: Case) -> Case:
        self.cases[case.community] = case
        return case

    def remove(self, case: Case) -> None:
        self.cases.pop(case.community, None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        try:
            msg = ber.decode_message(data)
        except ber.BerError as e:
            self.errors.append(f"netmon sent an undecodable request: {e}")
            return
        case = self.cases.get(msg.community)
        if case is None and self.stateless:
            case = Case.from_community(msg.community)
            if case is not None:
                if len(self.cases) > 20_000:  # forget the oldest cases
                    for key in list(self.cases)[:10_000]:
                        del self.cases[key]
                self.cases[msg.community] = case
        if case is None:
            return  # a case that ended: stay silent
        n = case.requests
        case.requests += 1
        damaged = n == case.at or (case.every and n > case.at)
        rng = random.Random(case.seed * 1_000_003 + n)
        try:
            packets = (_mutate(case, rng, msg, self.view) if damaged
                       else _mutate(Case(case.id, "honest", 0), rng, msg, self.view))
        except Exception as e:
            self.errors.append(f"case {case.id} {case.family}: {type(e).__name__}: {e}")
            return
        assert self.transport is not None
        for packet in packets:
            self.transport.sendto(packet, addr)
            case.sent += 1

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP from a client port that closed: not interesting


async def start_agent(host: str = "127.0.0.1", n_if: int = 2, *, stateless: bool = False
                      ) -> tuple[HostileAgent, int]:
    loop = asyncio.get_running_loop()
    transport, agent = await loop.create_datagram_endpoint(
        lambda: HostileAgent(n_if, stateless=stateless), local_addr=(host, 0))
    with contextlib.suppress(OSError):  # hundreds of polls at once: room for their requests
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                                      4 * 1024 * 1024)
    return agent, transport.get_extra_info("sockname")[1]


@dataclass(slots=True)
class AgentThread:
    """The hostile agent on its own event loop in a thread (for a daemon in a subprocess);
    add cases with ``.agent.add(case)`` before the daemon polls."""

    port: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    agent: HostileAgent | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> AgentThread:
        def run() -> None:
            self.loop = asyncio.new_event_loop()

            async def main() -> None:
                self.agent, self.port = await start_agent()
                self._ready.set()
                await asyncio.Event().wait()

            with contextlib.suppress(RuntimeError):  # stopped
                self.loop.run_until_complete(main())

        self._thread = threading.Thread(target=run, name="hostile-agent", daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "the hostile agent did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self._thread is not None
        if self.agent is not None and self.agent.transport is not None:
            self.loop.call_soon_threadsafe(self.agent.transport.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def make_cases(n: int, seed: int, families: tuple[str, ...] = FAMILIES,
               start_id: int = 0) -> list[Case]:
    """``n`` cases spread over ``families``, deterministic for a seed."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        family = families[k % len(families)]
        out.append(Case(start_id + k, family, rng.randrange(2**32),
                        at=rng.choice([0, 0, 1, 2, 3, 5]), every=rng.random() < 0.3))
    return out


# ---------------------------------------------------------------- driving the real poll path


@dataclass(slots=True)
class FuzzStats:
    cases: int = 0
    polls: int = 0
    escapes: list[str] = field(default_factory=list)  # anything but a PollResult / SnmpError
    late: list[str] = field(default_factory=list)  # polls that outlived their deadline
    long_errors: list[str] = field(default_factory=list)  # error text over 1,000 chars
    max_poll_s: float = 0.0
    failed_polls: int = 0
    by_error: dict[str, int] = field(default_factory=dict)


def fuzz_target(case: Case, port: int, *, timeout_s: float, retries: int, deadline_s: float,
                discover: bool) -> Target:
    return Target.model_validate({
        "name": f"fz{case.id}",
        "site": "FUZ",
        "tier": "district",
        "address": "127.0.0.1",
        "port": port,
        "snmp": SnmpV2c(version="2c", community=SecretStr(case.community.decode())),
        "timeout": timeout_s,
        "retries": retries,
        "deadline": deadline_s,
        "discover": discover,
        "links": [] if discover else [{"ifName": "eth1"}, {"ifName": "eth2"}],
    })


def _error_kind(error: str) -> str:
    reason = error.split(": ", 1)[-1]
    for key in ("out of range", "deadline", "no response", "undecodable", "answer refused",
                "varbinds", "answer names", "tooBig", "PDU type", "rows without leaving",
                "error-status", "genErr", "noSuchName", "badValue", "readOnly", "noAccess"):
        if key in reason:
            return key
    return reason[:40]


async def poll_case(client: SnmpClient, agent: HostileAgent | None, port: int, case: Case,
                    stats: FuzzStats, *, timeout_s: float = 0.05, retries: int = 1,
                    deadline_s: float = 0.4, slack_s: float = 0.5, polls: int = 1) -> None:
    """Poll ``case``'s device through poll_target (and, for some, get/walk directly)."""
    if agent is not None:
        agent.add(case)
    target = fuzz_target(case, port, timeout_s=timeout_s, retries=retries,
                         deadline_s=deadline_s, discover=bool(case.seed & 1))
    collector = InterfaceCollector()
    engine = RateEngine()
    session = open_session(client, target)
    stats.cases += 1
    try:
        for _ in range(polls):
            started = time.monotonic()
            try:
                result = await poll_target(session, target, [collector], engine)
            except Exception as e:  # what the acceptance forbids
                stats.escapes.append(f"case {case.id} ({case.family}, seed {case.seed}): "
                                     f"{type(e).__name__}: {str(e)[:200]}")
                continue
            finally:
                took = time.monotonic() - started
                stats.polls += 1
                stats.max_poll_s = max(stats.max_poll_s, took)
                if took > deadline_s + slack_s:
                    stats.late.append(f"case {case.id} ({case.family}): {took:.2f} s")
            if result.error is not None:
                stats.failed_polls += 1
                kind = _error_kind(result.error)
                stats.by_error[kind] = stats.by_error.get(kind, 0) + 1
                if len(result.error) > 1000:
                    stats.long_errors.append(f"case {case.id} ({case.family}): "
                                             f"{len(result.error)} chars")
        if case.seed % 5 == 0:
            # The seam itself: nothing but SnmpError out of get / walk.
            case.requests = 0
            try:
                async with session.deadline():
                    await session.walk([f"{IF_TABLE}.8", f"{IF_X_TABLE}.1"],
                                       scalars=[SYS_UPTIME])
                    await session.get([SYS_UPTIME, f"{IF_TABLE}.8.1"])
            except SnmpError:
                pass
            except Exception as e:
                stats.escapes.append(f"case {case.id} ({case.family}, seed {case.seed}) "
                                     f"get/walk: {type(e).__name__}: {str(e)[:200]}")
    finally:
        if agent is not None:
            agent.remove(case)


async def run_cases(client: SnmpClient, agent: HostileAgent | None, port: int,
                    cases: list[Case],
                    stats: FuzzStats, *, concurrency: int = 100, **kwargs: float) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> None:
        async with gate:
            await poll_case(client, agent, port, case, stats, **kwargs)  # type: ignore[arg-type]

    await asyncio.gather(*(one(c) for c in cases))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
