"""SNMP GET and table walks for collectors, over v2c and v3.

Step: collectors -> **SNMP transport**. The only module that imports pysnmp.
Collectors call :class:`SnmpSession` ``get`` / ``walk`` and see plain Python
values and typed exceptions; no pysnmp object or error tuple leaves here.

Two paths, chosen by what they cost:

* **v2c** goes through netmon.ber, a minimal BER codec, on one raw asyncio UDP
  socket per address family. Measured on one snmpsim agent on loopback, stock
  pysnmp 7 hlapi (v3arch and v1arch alike) costs ~290 µs CPU per varbind,
  nearly all of it pyasn1 decoding; the budget is <= 400 µs CPU per interface
  poll (~9 varbinds), so <= ~40 µs per varbind including asyncio (Go's
  snmp_exporter does ~20 µs). ``python3 bench/snmp_codec.py`` (AMD EPYC,
  Python 3.11, snmpsim on loopback) measured, in CPU µs per varbind:
  GET of 9 OIDs 18 (160 per interface poll), GETBULK walk of 6 columns 8,
  the BER codec alone 2.7; pysnmp 7 hlapi GET of the same 9 OIDs 212 (v3arch)
  and 331 (v1arch).
* **v3** (USM) goes through netmon.usm over netmon.ber on its own asyncio UDP
  sockets for every profile netmon.usm supports (SHA-1 / SHA-2 auth, AES-128 /
  192 / 256 priv): engine discovery per agent address, a notInTimeWindow Report
  resynchronises once (an agent restart raises engineBoots), a changed engine ID
  is rediscovered once, Reports become SnmpAuthError / SnmpError. Anything else
  (or ``SnmpClient(v3_fast_path=False)``) goes through pysnmp 7's asyncio hlapi
  (``get_cmd`` / ``bulk_cmd``, numeric OIDs, ``lookupMib=False``) with one
  ``SnmpEngine`` per event loop, created lazily.

SNMP quirks handled here (each commented where it bites):

* v2c agents stay silent on a wrong community: that is a timeout whose reason
  says so, never an auth error.
* error-index is 1-based; 0 means "no particular varbind".
* GETBULK non-repeaters go only in the first request of a walk.
* A walk stops per column on leaving the column's subtree, on endOfMibView,
  and when an agent returns an OID that does not increase (a loop guard).
* Counter64 values with the high bit set carry a leading 0x00 byte (netmon.ber).
* Replies must come from the address the request went to (a multi-homed
  router answering from another interface looks like a timeout), and carry
  version 2c and our community: anything else is not ours, ignored and
  counted (``SnmpClient.ignored_answers``).

Hostile answers (every datagram is untrusted input): an answer to one of our
requests that does not decode fails that request at once as
``SnmpMalformed``, and a value outside its type's range (an INTEGER of 2^63,
a Counter32 of 2^32: netmon.ber) as ``SnmpBadValue``, naming the device and
the reason; nothing else leaves ``get`` / ``walk``. A walk gives up after
``MAX_WALK_ROWS`` rows (an agent that never leaves the subtree), and logs
at most ``LOG_OID_CHARS`` of an OID.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netmon import ber, usm
from netmon.ber import END_OF_MIB_VIEW, NO_SUCH_INSTANCE, NO_SUCH_OBJECT, NoSuch
from netmon.credentials import SnmpV2c, SnmpV3

__all__ = [
    "END_OF_MIB_VIEW",
    "NO_SUCH_INSTANCE",
    "NO_SUCH_OBJECT",
    "NoSuch",
    "Response",
    "SnmpAuthError",
    "SnmpBadValue",
    "SnmpClient",
    "SnmpError",
    "SnmpErrorStatus",
    "SnmpMalformed",
    "SnmpNoSuchObject",
    "SnmpSession",
    "SnmpTimeout",
    "SnmpTooBig",
    "Table",
    "Value",
]

log = logging.getLogger(__name__)

Value = int | bytes | str | None

MAX_OIDS_PER_GET = 32
MAX_WALK_ROWS = 200_000
"""Rows one walk may return before it is refused as SnmpMalformed: the largest
real interface tables (broadband gateways with subscriber interfaces) are
~100,000 rows, and an agent whose OIDs keep increasing inside the subtree
would otherwise grow memory until the device deadline."""
LOG_OID_CHARS = 120
_MAX_REQUEST_ID = 2**31 - 1

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
"""SO_RCVBUF asked for the shared v2c socket (Linux caps it at net.core.rmem_max).

All answers arrive on one socket: with the default ~208 KiB, 1,000 devices
polled at once (walk answers of ~6 KiB each) overflow it and the kernel drops
answers, which look like timeouts (``python3 bench/daemon_scale.py``)."""


# ---------------------------------------------------------------- errors


class SnmpError(Exception):
    """An SNMP request failed; ``str(e)`` is ``"<device>: <reason>"``."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(device, reason)
        self.device = device
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.device}: {self.reason}"


class SnmpTimeout(SnmpError):
    """No answer after timeout * (retries + 1), or the device deadline passed."""


class SnmpAuthError(SnmpError):
    """SNMPv3 rejected our user or keys (unknown user, wrong digest, decryption error...)."""


class SnmpNoSuchObject(SnmpError):
    """:meth:`Response.require` found noSuchObject / noSuchInstance / endOfMibView."""


class SnmpTooBig(SnmpError):
    """tooBig even with one OID per GET or max-repetitions 1."""


class SnmpMalformed(SnmpError):
    """The device answered with bytes that are not a valid response to our request."""


class SnmpBadValue(SnmpMalformed):
    """A value outside its SNMP type's range (INTEGER beyond Integer32, Counter32 of 2^32,
    ...): no sink could store it, so the device's answer is refused as a whole."""


class SnmpErrorStatus(SnmpError):
    """A non-zero error-status other than tooBig (genErr, noAccess, ...)."""


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Response:
    """Result of :meth:`SnmpSession.get`."""

    values: dict[str, Value | NoSuch]
    ts: float
    device: str = ""

    def require(self, oid: str) -> Value:
        """The value of ``oid``; raises SnmpNoSuchObject if the agent has none."""
        value = self.values[oid]
        if isinstance(value, NoSuch):
            raise SnmpNoSuchObject(self.device, f"{oid}: {value.name}")
        return value


@dataclass(frozen=True, slots=True)
class Table:
    """Result of :meth:`SnmpSession.walk`.

    ``columns``: column OID -> {index suffix -> value}; a column the agent lacks
    maps to {} (recordings and devices are often partial: not an error).
    """

    columns: dict[str, dict[str, Value]]
    scalars: dict[str, Value | NoSuch]
    ts: float


def _tries(retries: int) -> str:
    return "1 try" if retries == 0 else f"{retries + 1} tries"


def _short(text: str, limit: int = LOG_OID_CHARS) -> str:
    """A hostile OID can be kilobytes long: logs and errors get its head."""
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


# ---------------------------------------------------------------- UDP sockets (v2c and v3)


class _Sockets:
    """One UDP socket per address family, opened on first use, for one kind of
    protocol (the v2c demux or the v3 fast path's); ``pending`` maps the
    request-ids in flight to their requests."""

    def __init__(self, client: SnmpClient,
                 protocol: Callable[[], asyncio.DatagramProtocol]) -> None:
        self.client = client
        self.protocol = protocol
        self.pending: dict[int, Any] = {}
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._lock = asyncio.Lock()

    async def transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is not None:
            return transport
        if self.client._closed:
            raise RuntimeError("SnmpClient is closed")
        async with self._lock:
            transport = self._transports.get(family)
            if transport is None:
                loop = asyncio.get_running_loop()
                local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
                transport, _ = await loop.create_datagram_endpoint(
                    self.protocol, local_addr=local, family=family)
                sock = transport.get_extra_info("socket")
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
                self._transports[family] = transport
        return transport

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for p in self.pending.values():
            if not p.fut.done():
                p.fut.cancel()
        self.pending.clear()


def _mark_malformed(pending: dict[int, Any], source: tuple[str, int], reason: str) -> None:
    """Garbage from ``source``: each request waiting on it names it if no valid answer comes."""
    for p in pending.values():
        if p.addr == source and not p.fut.done():
            p.malformed = reason


async def _send_until_answered(sockets: _Sockets, family: int, sockaddr: tuple[Any, ...],
                               pending: Any, build: Callable[[int], bytes], timeout_s: float,
                               retries: int, no_answer: Callable[[], SnmpError], device: str,
                               host: str) -> Any:
    """Send ``build(request-id)`` every ``timeout_s``, ``retries + 1`` times at most,
    until ``pending.fut`` resolves (the protocol sets it); ``no_answer()`` fails it
    after the last try. The answer is returned."""
    transport = await sockets.transport(family)
    loop = asyncio.get_running_loop()
    fut = pending.fut
    ids: list[int] = []
    tries = retries + 1
    timer: asyncio.TimerHandle | None = None

    def send() -> None:
        nonlocal timer, tries
        if fut.done():
            return
        if tries == 0:
            fut.set_exception(no_answer())
            return
        tries -= 1
        # A NEW request-id (v3: msgID, and a new salt) per try; earlier ids stay
        # registered so a late answer to an earlier try still completes the request.
        rid = sockets.client._request_id()
        ids.append(rid)
        sockets.pending[rid] = pending
        packet = build(rid)
        try:
            transport.sendto(packet, sockaddr)
        except OSError as e:
            fut.set_exception(SnmpError(device, f"cannot send to {host}: {e}"))
            return
        timer = loop.call_later(timeout_s, send)

    send()
    try:
        return await fut
    finally:
        if timer is not None:
            timer.cancel()
        for rid in ids:
            sockets.pending.pop(rid, None)


# ---------------------------------------------------------------- v2c transport


class _Pending:
    """One logical request: all its request-ids (one per try) resolve the same future."""

    __slots__ = ("addr", "community", "device", "fut", "malformed", "ts")

    def __init__(self, fut: asyncio.Future[ber.Message], addr: tuple[str, int],
                 community: bytes = b"", device: str = "") -> None:
        self.fut = fut
        self.addr = addr
        self.community = community
        self.device = device
        self.malformed: str | None = None
        self.ts = 0.0


class _V2cProtocol(asyncio.DatagramProtocol):
    """Demultiplexes answers by request-id, checked against the expected source address."""

    def __init__(self, pending: dict[int, _Pending], counts: dict[str, int] | None = None
                 ) -> None:
        self.pending = pending
        self.counts = counts if counts is not None else {"ignored": 0}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        now = time.time()
        source = (addr[0], addr[1])
        try:
            msg = ber.decode_message(data)
        except ber.BerError as e:
            if e.header is not None:
                version, community, request_id = e.header
                p = self.pending.get(request_id)
                if (p is not None and not p.fut.done() and p.addr == source
                        and version == ber.VERSION_2C and community == p.community):
                    # Our request-id, our community, from the device: its answer
                    # is broken (a value out of range, a bad varbind name).
                    cls = SnmpBadValue if isinstance(e, ber.BerValueError) else SnmpMalformed
                    p.fut.set_exception(cls(p.device, f"answer refused: {e}"))
                    return
            # Garbage is not proof the device is broken (it may be stray or
            # spoofed): keep waiting for a valid answer, and if none comes,
            # report SnmpMalformed instead of a bare timeout.
            _mark_malformed(self.pending, source, f"undecodable answer ({e})")
            return
        p = self.pending.get(msg.request_id)
        if p is None or p.fut.done() or p.addr != source:
            return  # unknown / late / foreign request-id: ignore, not an error
        if msg.version != ber.VERSION_2C or msg.community != p.community:
            # Not an answer to us (another manager's, or forged): the right
            # request-id alone proves nothing.
            self.counts["ignored"] += 1
            log.debug("%s: ignored an answer with version %d / another community",
                      p.device, msg.version)
            return
        p.ts = now
        p.fut.set_result(msg)

    def error_received(self, exc: Exception) -> None:
        # Unconnected UDP sockets rarely see ICMP errors, and when they do they
        # cannot be attributed to a request: the request times out instead.
        log.debug("SNMP socket error: %s", exc)


class SnmpClient:
    """One per event loop.

    Owns the v2c UDP transports (one per address family, request-id demux,
    responses checked against the expected source address and request-id),
    the v3 fast path's own transports (msgID demux, engine states per agent
    address), and the pysnmp SnmpEngine for the v3 profiles the fast path does
    not serve (created lazily on first use).

    ``v3_fast_path``: serve the v3 profiles netmon.usm supports on netmon's own
    USM (the default); False sends all v3 through pysnmp (for comparisons).
    """

    def __init__(self, *, v3_fast_path: bool = True) -> None:
        self._counts = {"ignored": 0}
        self._v2c = _Sockets(self, lambda: _V2cProtocol(self._v2c.pending, self._counts))
        self._next_id = random.randrange(1, _MAX_REQUEST_ID)
        self._v3: _V3Engine | None = None
        self._v3_lock = asyncio.Lock()
        self._usm = _UsmTransports(self) if v3_fast_path else None
        self._closed = False

    def session(
        self,
        *,
        device: str,
        host: str,
        port: int,
        credentials: SnmpV2c | SnmpV3,
        timeout_s: float = 2.0,
        retries: int = 1,
        max_repetitions: int = 25,
        deadline_s: float | None = None,
    ) -> SnmpSession:
        return SnmpSession(self, device=device, host=host, port=port, credentials=credentials,
                           timeout_s=timeout_s, retries=retries,
                           max_repetitions=max_repetitions, deadline_s=deadline_s)

    @property
    def ignored_answers(self) -> int:
        """Answers with our request-id but another version or community, ignored."""
        return self._counts["ignored"]

    def _request_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < _MAX_REQUEST_ID else 1
        return rid

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        return await self._v2c.transport(family)

    async def _v3_engine(self) -> _V3Engine:
        if self._v3 is None:
            async with self._v3_lock:
                if self._v3 is None:
                    self._v3 = await _V3Engine.create()
        return self._v3

    async def aclose(self) -> None:
        self._closed = True
        self._v2c.close()
        if self._v3 is not None:
            self._v3.close()
            self._v3 = None
        if self._usm is not None:
            self._usm.close()

    async def __aenter__(self) -> SnmpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ---------------------------------------------------------------- sessions

# One PDU exchange: (error-status, error-index, varbinds as (OID content octets, value), ts).
_Exchange = tuple[int, int, list[tuple[bytes, Value | NoSuch]], float]


class SnmpSession:
    """One device's credentials, address and timing; cheap, keep one per target."""

    def __init__(
        self,
        client: SnmpClient,
        *,
        device: str,
        host: str,
        port: int,
        credentials: SnmpV2c | SnmpV3,
        timeout_s: float,
        retries: int,
        max_repetitions: int,
        deadline_s: float | None,
    ) -> None:
        if timeout_s <= 0 or retries < 0 or max_repetitions < 1:
            raise ValueError("timeout_s > 0, retries >= 0 and max_repetitions >= 1 are required")
        self.device = device
        self.host = host
        self.port = port
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_repetitions = max_repetitions
        self.deadline_s = deadline_s
        self._client = client
        self._sockaddr: tuple[Any, ...] | None = None
        self._family = socket.AF_INET
        self._oid_cache: dict[str, tuple[bytes, bytes]] = {}
        self._community = (credentials.community.get_secret_value().encode()
                           if isinstance(credentials, SnmpV2c) else b"")
        self._v3_auth: Any = None
        self._v3_target: Any = None
        self._usm_user = (_usm_user(credentials) if isinstance(credentials, SnmpV3)
                          and client._usm is not None else None)

    def __repr__(self) -> str:
        return f"SnmpSession({self.device!r}, {self.host}:{self.port})"

    def at(self, host: str, port: int | None = None) -> SnmpSession:
        """The same device, credentials and timing at another address (for example its
        management address over IPv6), on the same client."""
        return SnmpSession(self._client, device=self.device, host=host, port=port or self.port,
                           credentials=self.credentials, timeout_s=self.timeout_s,
                           retries=self.retries, max_repetitions=self.max_repetitions,
                           deadline_s=None)

    # -- helpers

    def _oid(self, oid: str) -> tuple[bytes, bytes]:
        """(OID TLV, OID content) for a dotted OID, encoded once per session."""
        enc = self._oid_cache.get(oid)
        if enc is None:
            try:
                content = ber.encode_oid_content(oid)
            except ValueError as e:
                raise ValueError(f"{self.device}: {e}") from None
            enc = (ber.encode_tlv(ber.OBJECT_IDENTIFIER, content), content)
            self._oid_cache[oid] = enc
        return enc

    async def _resolve(self) -> tuple[Any, ...]:
        if self._sockaddr is not None:
            return self._sockaddr
        try:
            ip = ipaddress.ip_address(self.host)
        except ValueError:
            ip = None
        if ip is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
            except (socket.gaierror, UnicodeError) as e:
                raise SnmpError(self.device, f"cannot resolve {self.host}: {e}") from None
            if not infos:
                raise SnmpError(self.device, f"cannot resolve {self.host}: no address")
            family, _, _, _, sockaddr = infos[0]
            self._family = family
            self._sockaddr = sockaddr
        elif ip.version == 6:
            self._family = socket.AF_INET6
            self._sockaddr = (str(ip), self.port, 0, 0)
        else:
            self._family = socket.AF_INET
            self._sockaddr = (str(ip), self.port)
        return self._sockaddr

    @contextlib.asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """``async with session.deadline():`` bounds everything done with this device."""
        if self.deadline_s is None:
            yield
            return
        cm = asyncio.timeout(self.deadline_s)
        try:
            async with cm:
                yield
        except TimeoutError:
            if cm.expired():
                raise SnmpTimeout(
                    self.device, f"device deadline of {self.deadline_s}s exceeded") from None
            raise

    # -- one exchange

    async def _exchange(self, pdu_type: int, oids: Sequence[str], non_repeaters: int = 0,
                        max_repetitions: int = 0, encoded: list[bytes] | None = None
                        ) -> _Exchange:
        """``encoded``: the OID TLVs of ``oids`` when the caller has them (walks)."""
        if isinstance(self.credentials, SnmpV3):
            return await self._exchange_v3(pdu_type, oids, non_repeaters, max_repetitions)
        if encoded is None:
            encoded = [self._oid(o)[0] for o in oids]
        return await self._exchange_v2c(encoded, non_repeaters, max_repetitions, pdu_type)

    async def _exchange_v2c(self, encoded: list[bytes], non_repeaters: int,
                            max_repetitions: int, pdu_type: int) -> _Exchange:
        sockaddr = await self._resolve()
        fut: asyncio.Future[ber.Message] = asyncio.get_running_loop().create_future()
        pending = _Pending(fut, (sockaddr[0], sockaddr[1]), self._community, self.device)

        def build(rid: int) -> bytes:
            return ber.encode_request(self._community, pdu_type, rid, encoded,
                                      non_repeaters=non_repeaters,
                                      max_repetitions=max_repetitions)

        msg: ber.Message = await _send_until_answered(
            self._client._v2c, self._family, sockaddr, pending, build, self.timeout_s,
            self.retries, lambda: self._no_answer(pending.malformed), self.device, self.host)
        if msg.pdu_type != ber.RESPONSE:
            raise SnmpMalformed(self.device, f"unexpected PDU type 0x{msg.pdu_type:02x}")
        return msg.error_status, msg.error_index, msg.varbinds, pending.ts

    def _no_answer(self, malformed: str | None) -> SnmpError:
        if malformed:
            return SnmpMalformed(self.device, malformed)
        waited = self.timeout_s * (self.retries + 1)
        return SnmpTimeout(
            self.device,
            f"no response (wrong community or unreachable) from {self.host}:{self.port} "
            f"after {waited:g}s ({_tries(self.retries)})")

    def _status_error(self, status: int, index: int, oids: Sequence[str]) -> SnmpError:
        name = (ber.ERROR_STATUS_NAMES[status] if 0 <= status < len(ber.ERROR_STATUS_NAMES)
                else f"error-status {status}")
        # error-index is 1-based: 1 is the first varbind of the request; 0 means
        # the error concerns no particular varbind.
        if 1 <= index <= len(oids):
            return SnmpErrorStatus(self.device, f"{name} at {oids[index - 1]}")
        return SnmpErrorStatus(self.device, name)

    # -- GET

    async def get(self, oids: Sequence[str]) -> Response:
        """GET ``oids`` (at most 32 per PDU; a tooBig answer splits the chunk further)."""
        try:
            return await self._get(oids)
        except ber.BerError as e:  # a check that should have been made in decoding
            raise SnmpMalformed(self.device, str(e)) from None

    async def _get(self, oids: Sequence[str]) -> Response:
        values: dict[str, Value | NoSuch] = {}
        first_ts = 0.0
        oids = list(dict.fromkeys(o.lstrip(".") for o in oids))
        for i in range(0, len(oids), MAX_OIDS_PER_GET):
            ts = await self._get_chunk(oids[i:i + MAX_OIDS_PER_GET], values)
            first_ts = first_ts or ts
        return Response(values, first_ts or time.time(), self.device)

    async def _get_chunk(self, chunk: list[str], values: dict[str, Value | NoSuch]) -> float:
        status, index, varbinds, ts = await self._exchange(ber.GET_REQUEST, chunk)
        if status == ber.TOO_BIG:
            if len(chunk) == 1:
                raise SnmpTooBig(self.device, f"tooBig for the single OID {chunk[0]}")
            half = len(chunk) // 2
            ts = await self._get_chunk(chunk[:half], values)
            await self._get_chunk(chunk[half:], values)
            return ts
        if status:
            raise self._status_error(status, index, chunk)
        if len(varbinds) != len(chunk):
            raise SnmpMalformed(
                self.device, f"{len(varbinds)} varbinds in answer to a GET of {len(chunk)}")
        for oid, (got, value) in zip(chunk, varbinds, strict=True):
            if got != self._oid(oid)[1]:
                raise SnmpMalformed(self.device, f"answer names {_short(ber.oid_str(got))} "
                                    f"where {oid} was asked")
            values[oid] = value
        return ts

    # -- WALK

    async def walk(self, columns: Sequence[str], *, scalars: Sequence[str] = ()) -> Table:
        """Walk table ``columns`` in parallel with GETBULK; ``scalars`` ride along.

        Scalars ending in ``.0`` are sent as non-repeaters of the first GETBULK
        (a non-repeater is a GETNEXT, so ``X.0`` is asked as ``X``); any other
        scalar is fetched with a GET.
        """
        try:
            return await self._walk(columns, scalars)
        except ber.BerError as e:  # a check that should have been made in decoding
            raise SnmpMalformed(self.device, str(e)) from None

    async def _walk(self, columns: Sequence[str], scalars: Sequence[str]) -> Table:
        cols = list(dict.fromkeys(c.lstrip(".") for c in columns))
        result: dict[str, dict[str, Value]] = {c: {} for c in cols}
        scalar_values: dict[str, Value | NoSuch] = {}
        nr_scalars = [s.lstrip(".") for s in scalars if s.endswith(".0")]
        other_scalars = [s.lstrip(".") for s in scalars if not s.endswith(".0")]
        first_ts = 0.0
        if other_scalars:
            got = await self.get(other_scalars)
            scalar_values.update(got.values)
            first_ts = got.ts
        # Column state: prefix content, last OID content read.
        prefix = {c: self._oid(c)[1] for c in cols}
        last = dict(prefix)
        last_str = {c: c for c in cols}
        active = list(cols)
        max_reps = self.max_repetitions
        pending_scalars = nr_scalars
        rows = 0
        while active or pending_scalars:
            # GETBULK non-repeaters go only in the first request: they are
            # fetched once, the repeaters continue from where each column ended.
            nr = len(pending_scalars)
            request = [s[: -len(".0")] for s in pending_scalars] + [last_str[c] for c in active]
            # Where each column ended is encoded from the answer's own bytes,
            # not through the session's OID cache: that would keep every row
            # a device ever returned.
            encoded = ([self._oid(s)[0] for s in request[:nr]]
                       + [ber.encode_tlv(ber.OBJECT_IDENTIFIER, last[c]) for c in active])
            status, index, varbinds, ts = await self._exchange(
                ber.GET_BULK_REQUEST, request, nr, max_reps if active else 0, encoded)
            if status == ber.TOO_BIG:
                if max_reps == 1:
                    raise SnmpTooBig(self.device, "tooBig even with max-repetitions 1")
                max_reps = max(1, max_reps // 2)
                continue
            if status:
                raise self._status_error(status, index, request)
            first_ts = first_ts or ts
            if len(varbinds) < nr:
                raise SnmpMalformed(
                    self.device, f"{len(varbinds)} varbinds for {nr} non-repeaters")
            for s, (oid, value) in zip(pending_scalars, varbinds, strict=False):
                if value is END_OF_MIB_VIEW or isinstance(value, NoSuch) or ber.oid_str(oid) != s:
                    value = NO_SUCH_OBJECT
                scalar_values[s] = value
            pending_scalars = []
            active = self._absorb(active, varbinds, nr, result, prefix, last, last_str)
            rows += len(varbinds) - nr
            if rows > MAX_WALK_ROWS and active:
                raise SnmpMalformed(
                    self.device, f"walk of {', '.join(active)} returned over {MAX_WALK_ROWS} "
                    "rows without leaving the table")
        for s in nr_scalars:
            scalar_values.setdefault(s, NO_SUCH_OBJECT)
        return Table(result, {s.lstrip("."): scalar_values[s.lstrip(".")] for s in scalars},
                     first_ts or time.time())

    def _absorb(self, active: list[str], varbinds: list[tuple[bytes, Value | NoSuch]], nr: int,
                result: dict[str, dict[str, Value]], prefix: dict[str, bytes],
                last: dict[str, bytes], last_str: dict[str, str]) -> list[str]:
        """Fold one GETBULK answer into the table; return the columns still active."""
        width = len(active)
        if not width:
            return []
        stopped: set[str] = set()
        progressed = False
        oid_str = ber.oid_str
        oid_gt = ber.oid_gt
        # The repetitions are laid out row by row: varbind nr + r*width + i
        # answers column i in repetition r. Agents may truncate the last row.
        for k in range(nr, len(varbinds)):
            col = active[(k - nr) % width]
            if col in stopped:
                continue
            oid, value = varbinds[k]
            if isinstance(value, NoSuch) or not oid.startswith(prefix[col]) \
                    or len(oid) == len(prefix[col]):
                # endOfMibView (or left the subtree): this column is done.
                stopped.add(col)
                continue
            if not oid_gt(oid, last[col]):
                # Agent bug: an OID that does not increase would loop forever.
                log.warning("%s: OID not increasing in walk of %s at %s; keeping %d rows",
                            self.device, col, _short(oid_str(oid)), len(result[col]))
                stopped.add(col)
                continue
            s = oid_str(oid)
            result[col][s[len(col) + 1:]] = value  # type: ignore[assignment]
            last[col] = oid
            last_str[col] = s
            progressed = True
        still = [c for c in active if c not in stopped]
        if not progressed and nr == 0 and len(varbinds) == 0:
            # An answer with no repetitions at all would repeat forever.
            log.warning("%s: empty GETBULK answer; stopping walk of %s", self.device, still)
            return []
        return still

    # -- v3

    async def _exchange_v3(self, pdu_type: int, oids: Sequence[str], non_repeaters: int,
                           max_repetitions: int) -> _Exchange:
        if self._usm_user is not None:
            return await self._exchange_usm(pdu_type, oids, non_repeaters, max_repetitions)
        engine = await self._client._v3_engine()
        if self._v3_target is None:
            sockaddr = await self._resolve()
            assert isinstance(self.credentials, SnmpV3)
            self._v3_auth = engine.user_data(self.credentials)
            self._v3_target = await engine.target(sockaddr[0], self.port, self._family,
                                                  self.timeout_s, self.retries)
        return await engine.exchange(self, pdu_type, oids, non_repeaters, max_repetitions)

    # -- v3 fast path (netmon.usm)

    async def _exchange_usm(self, pdu_type: int, oids: Sequence[str], non_repeaters: int,
                            max_repetitions: int) -> _Exchange:
        user = self._usm_user
        assert user is not None
        encoded = [self._oid(o)[0] for o in oids]
        engine = await self._usm_engine()
        resynced = rediscovered = False
        while True:
            keys = usm.local_keys(user, engine.engine_id)

            def build(rid: int, engine: usm.EngineState = engine,
                      keys: usm.LocalKeys = keys) -> bytes:
                pdu = usm.encode_pdu(pdu_type, rid, encoded, non_repeaters, max_repetitions)
                return usm.encode_request(user, keys, engine, rid, pdu)

            try:
                incoming, ts = await self._usm_roundtrip(build, user, engine,
                                                         self.timeout_s, self.retries)
            except SnmpTimeout:
                if user.flags & usm.FLAG_PRIV and await self._usm_agent_answers():
                    # Net-SNMP drops a request it cannot decrypt without a Report,
                    # so a wrong privacy key looks like an unreachable agent. An
                    # agent that answers a discovery probe is reachable: the
                    # silence is about our encryption.
                    raise SnmpAuthError(
                        self.device,
                        f"SNMPv3 user {user.name.decode(errors='replace')!r}: the agent "
                        "answers but ignores our encrypted requests (wrong privacy key or "
                        "privacy protocol)") from None
                raise
            pdu = incoming.pdu
            if pdu.pdu_type == ber.RESPONSE:
                return pdu.error_status, pdu.error_index, pdu.varbinds, ts
            if pdu.pdu_type != ber.REPORT:
                raise SnmpMalformed(self.device, f"unexpected PDU type 0x{pdu.pdu_type:02x}")
            kind, oid = usm.report_kind(pdu)
            if kind == usm.NOT_IN_TIME_WINDOW and incoming.authenticated and not resynced:
                # RFC 3414 4: the agent's authenticated Report carries its
                # engineBoots / engineTime (after a restart, boots went up):
                # take them and resend, once.
                engine.set(incoming.boots, incoming.engine_time)
                resynced = True
                continue
            if kind == usm.UNKNOWN_ENGINE_ID and not rediscovered:
                # The agent has a new engine ID (re-installed, or another agent
                # on the address): discover it again, once.
                engine = await self._usm_engine(rediscover=True)
                rediscovered = True
                continue
            raise self._usm_report_error(kind, oid)

    async def _usm_engine(self, *, rediscover: bool = False) -> usm.EngineState:
        """The agent's engine ID and clock, discovered (RFC 3414 4) on first use."""
        sockaddr = await self._resolve()
        assert self._client._usm is not None
        engines = self._client._usm.engines
        engine = engines.get((sockaddr[0], sockaddr[1]))
        if engine is None or rediscover:
            incoming, _ = await self._usm_roundtrip(usm.encode_discovery, None, None,
                                                    self.timeout_s, self.retries)
            if incoming.pdu.pdu_type != ber.REPORT or not incoming.engine_id:
                raise SnmpMalformed(self.device, "engine discovery: no Report with an engine ID")
            engine = usm.EngineState(incoming.engine_id, incoming.boots, incoming.engine_time)
            engines[(sockaddr[0], sockaddr[1])] = engine
        return engine

    async def _usm_agent_answers(self) -> bool:
        """One short discovery probe: any Report means the agent is up."""
        try:
            await self._usm_roundtrip(usm.encode_discovery, None, None,
                                      min(self.timeout_s, 1.0), 0)
        except SnmpError:
            return False
        return True

    def _usm_report_error(self, kind: str, oid: str) -> SnmpError:
        user = self._usm_user.name.decode(errors="replace") if self._usm_user else "?"
        hint = _USM_HINTS.get(kind)
        if hint is None:
            return SnmpError(self.device, f"SNMPv3 agent reports {kind} ({oid})")
        return SnmpAuthError(self.device, f"SNMPv3 user {user!r} rejected: {kind} ({hint})")

    async def _usm_roundtrip(self, build: Callable[[int], bytes], user: usm.UsmUser | None,
                             engine: usm.EngineState | None, timeout_s: float,
                             retries: int) -> tuple[usm.Incoming, float]:
        """Send ``build(msgID)`` until a message that passes the USM checks answers it."""
        sockaddr = await self._resolve()
        transports = self._client._usm
        assert transports is not None
        fut: asyncio.Future[usm.Incoming] = asyncio.get_running_loop().create_future()
        pending = _UsmPending(fut, (sockaddr[0], sockaddr[1]), user, engine)
        incoming: usm.Incoming = await _send_until_answered(
            transports.sockets, self._family, sockaddr, pending, build,
            timeout_s, retries, lambda: self._usm_no_answer(pending, timeout_s, retries),
            self.device, self.host)
        return incoming, pending.ts

    def _usm_no_answer(self, pending: _UsmPending, timeout_s: float, retries: int) -> SnmpError:
        if pending.rejected is not None:
            user = self._usm_user.name.decode(errors="replace") if self._usm_user else "?"
            return SnmpAuthError(self.device,
                                 f"SNMPv3 user {user!r} rejected: answer failed {pending.rejected}")
        if pending.malformed:
            return SnmpMalformed(self.device, pending.malformed)
        waited = timeout_s * (retries + 1)
        return SnmpTimeout(self.device, f"no response from {self.host}:{self.port} "
                           f"after {waited:g}s ({_tries(retries)})")


# ---------------------------------------------------------------- v3 fast path (netmon.usm)

_USM_HINTS = {
    usm.WRONG_DIGEST: "wrong auth key or auth protocol",
    usm.UNKNOWN_USER_NAME: "the agent has no such user",
    usm.DECRYPTION_ERROR: "wrong privacy key or privacy protocol",
    usm.NOT_IN_TIME_WINDOW: "the agent's clock stays outside the 150 s window after a resync",
    usm.UNSUPPORTED_SEC_LEVEL: "the user does not allow this security level",
    usm.UNKNOWN_ENGINE_ID: "the agent's engine ID changed again after a rediscovery",
}


def _usm_user(cred: SnmpV3) -> usm.UsmUser | None:
    """The fast path's user for a profile, or None when pysnmp must serve it."""
    auth = cred.auth_protocol if cred.security_level != "noAuthNoPriv" else None
    priv = cred.priv_protocol if cred.security_level == "authPriv" else None
    if not usm.supports(auth, priv):
        return None
    return usm.UsmUser(
        cred.username.encode(),
        auth,
        cred.auth_key.get_secret_value().encode() if auth and cred.auth_key else b"",
        priv,
        cred.priv_key.get_secret_value().encode() if priv and cred.priv_key else b"",
        cred.context_name.encode(),
    )


class _UsmPending:
    """One v3 request: every msgID of its tries resolves the same future."""

    __slots__ = ("addr", "engine", "fut", "malformed", "rejected", "ts", "user")

    def __init__(self, fut: asyncio.Future[usm.Incoming], addr: tuple[str, int],
                 user: usm.UsmUser | None, engine: usm.EngineState | None) -> None:
        self.fut = fut
        self.addr = addr
        self.user = user
        self.engine = engine
        self.malformed: str | None = None
        self.rejected: usm.UsmError | None = None
        self.ts = 0.0


class _UsmProtocol(asyncio.DatagramProtocol):
    """Demultiplexes v3 answers by msgID; only an answer passing the USM checks completes."""

    def __init__(self, pending: dict[int, _UsmPending]) -> None:
        self.pending = pending

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        now = time.time()
        source = (addr[0], addr[1])
        try:
            header = usm.Header(data)
        except ber.BerError as e:
            _mark_malformed(self.pending, source, f"undecodable answer ({e})")
            return
        msg_id = header.msg_id
        p = self.pending.get(msg_id)
        if p is None or p.fut.done() or p.addr != source:
            return  # unknown / late / foreign msgID: ignore
        # A message failing a check is not proof the agent is wrong (it may be
        # forged or replayed): keep waiting, and name the failure if nothing
        # valid comes.
        try:
            incoming = usm.open_message(data, header, p.user, p.engine)
        except ber.BerError as e:
            p.malformed = f"undecodable answer ({e})"
            return
        except usm.UsmError as e:
            p.rejected = e
            return
        if incoming.pdu.pdu_type == ber.RESPONSE and incoming.pdu.request_id != msg_id:
            p.malformed = (f"answer to msgID {msg_id} carries request-id "
                           f"{incoming.pdu.request_id}")
            return
        p.ts = now
        p.fut.set_result(incoming)

    def error_received(self, exc: Exception) -> None:
        log.debug("SNMPv3 socket error: %s", exc)


class _UsmTransports:
    """The fast path's UDP sockets (one per address family, apart from the v2c ones),
    the msgID demux, and what is known of each agent's engine."""

    def __init__(self, client: SnmpClient) -> None:
        self.sockets = _Sockets(client, lambda: _UsmProtocol(self.sockets.pending))
        self.engines: dict[tuple[str, int], usm.EngineState] = {}

    def close(self) -> None:
        self.sockets.close()


# ---------------------------------------------------------------- v3 through pysnmp

SYS_UPTIME_OID = "1.3.6.1.2.1.1.3.0"


class _V3Engine:
    """The pysnmp side: one SnmpEngine per event loop; pysnmp imported on first v3 use."""

    def __init__(self, engine: Any, hlapi: Any) -> None:
        self.engine = engine
        self.hlapi = hlapi
        from pyasn1.type import univ
        from pysnmp.proto import errind, rfc1902, rfc1905

        self.errind = errind
        self._converters: list[tuple[type, Callable[[Any], Value | NoSuch]]] = [
            (rfc1905.EndOfMibView, lambda v: END_OF_MIB_VIEW),
            (rfc1905.NoSuchObject, lambda v: NO_SUCH_OBJECT),
            (rfc1905.NoSuchInstance, lambda v: NO_SUCH_INSTANCE),
            (rfc1902.IpAddress, lambda v: ".".join(map(str, v.asOctets()))),
            (univ.OctetString, lambda v: v.asOctets()),
            (univ.Integer, int),
            (univ.ObjectIdentifier, str),
            (univ.Null, lambda v: None),
        ]
        self._auth_errors = tuple(getattr(errind, name) for name in (
            "WrongDigest", "UnknownUserName", "DecryptionError", "UnknownEngineID",
            "UnsupportedSecurityLevel", "NotInTimeWindow", "AuthenticationError",
            "AuthenticationFailure", "UnknownSecurityName", "UnsupportedAuthProtocol",
            "UnsupportedPrivProtocol", "NoAuthentication", "NoEncryption", "EncryptionError",
            "EngineIDMismatch"))
        self._malformed_errors = (errind.SerializationError, errind.DeserializationError,
                                  errind.UnsupportedPDUtype, errind.InvalidMsg)

    @classmethod
    async def create(cls) -> _V3Engine:
        import pysnmp.hlapi.v3arch.asyncio as hlapi

        # Building the engine takes ~80 ms of CPU: keep it off the event loop.
        engine = await asyncio.get_running_loop().run_in_executor(None, hlapi.SnmpEngine)
        return cls(engine, hlapi)

    def close(self) -> None:
        self.engine.close_dispatcher()

    def user_data(self, cred: SnmpV3) -> Any:
        h = self.hlapi
        auth = {
            "SHA": h.usmHMACSHAAuthProtocol,
            "SHA-224": h.usmHMAC128SHA224AuthProtocol,
            "SHA-256": h.usmHMAC192SHA256AuthProtocol,
            "SHA-384": h.usmHMAC256SHA384AuthProtocol,
            "SHA-512": h.usmHMAC384SHA512AuthProtocol,
        }
        # AES-192/256 here are the "Reeder" key extension (Cisco and most
        # vendors); Net-SNMP's default AES-192/256 is the Blumenthal variant.
        priv = {
            "AES-128": h.usmAesCfb128Protocol,
            "AES-192": h.usmAesCfb192Protocol,
            "AES-256": h.usmAesCfb256Protocol,
        }
        kwargs: dict[str, Any] = {}
        if cred.security_level in ("authNoPriv", "authPriv"):
            assert cred.auth_protocol is not None and cred.auth_key is not None
            kwargs["authProtocol"] = auth[cred.auth_protocol]
            kwargs["authKey"] = cred.auth_key.get_secret_value()
        if cred.security_level == "authPriv":
            assert cred.priv_protocol is not None and cred.priv_key is not None
            kwargs["privProtocol"] = priv[cred.priv_protocol]
            kwargs["privKey"] = cred.priv_key.get_secret_value()
        return h.UsmUserData(cred.username, **kwargs)

    async def target(self, host: str, port: int, family: int, timeout_s: float,
                     retries: int) -> Any:
        cls = (self.hlapi.Udp6TransportTarget if family == socket.AF_INET6
               else self.hlapi.UdpTransportTarget)
        return await cls.create((host, port), timeout=timeout_s, retries=retries)

    def value(self, v: Any) -> Value | NoSuch:
        for cls, conv in self._converters:
            if isinstance(v, cls):
                return conv(v)
        raise TypeError(f"unexpected SNMP value type {type(v).__name__}")

    async def exchange(self, session: SnmpSession, pdu_type: int, oids: Sequence[str],
                       non_repeaters: int, max_repetitions: int) -> _Exchange:
        h = self.hlapi
        assert isinstance(session.credentials, SnmpV3)
        context = h.ContextData(contextName=session.credentials.context_name)
        varbinds = [h.ObjectType(h.ObjectIdentity(o)) for o in oids]
        if pdu_type == ber.GET_REQUEST:
            call = h.get_cmd(self.engine, session._v3_auth, session._v3_target, context,
                             *varbinds, lookupMib=False)
        else:
            call = h.bulk_cmd(self.engine, session._v3_auth, session._v3_target, context,
                              non_repeaters, max_repetitions, *varbinds, lookupMib=False)
        indication, status, index, answer = await call
        ts = time.time()
        if indication:
            if (isinstance(indication, self.errind.RequestTimedOut)
                    and session.credentials.security_level == "authPriv"
                    and await self._agent_answers(session)):
                # Net-SNMP drops a request it cannot decrypt without a Report,
                # so a wrong privacy key looks like an unreachable agent. An
                # agent that answers an unauthenticated probe is reachable: the
                # silence is about our encryption.
                raise SnmpAuthError(
                    session.device,
                    f"SNMPv3 user {session.credentials.username!r}: the agent answers but "
                    "ignores our encrypted requests (wrong privacy key or privacy protocol)")
            raise self._indication_error(session, indication)
        out: list[tuple[bytes, Value | NoSuch]] = []
        try:
            for name, value in answer:
                out.append((ber.encode_oid_arcs(tuple(name)), self.value(value)))
        except (TypeError, ValueError) as e:
            raise SnmpMalformed(session.device, f"cannot convert answer: {e}") from None
        return int(status), int(index), out, ts

    async def _agent_answers(self, session: SnmpSession) -> bool:
        """One short noAuthNoPriv GET as an unknown user: any Report means the agent is up."""
        h = self.hlapi
        sockaddr = await session._resolve()
        target = await self.target(sockaddr[0], session.port, session._family,
                                   min(session.timeout_s, 1.0), 0)
        indication, *_ = await h.get_cmd(
            self.engine, h.UsmUserData("netmon-reachability-probe"), target, h.ContextData(),
            h.ObjectType(h.ObjectIdentity(SYS_UPTIME_OID)), lookupMib=False)
        return isinstance(indication, self._auth_errors)

    def _indication_error(self, session: SnmpSession, indication: Any) -> SnmpError:
        device = session.device
        if isinstance(indication, self.errind.RequestTimedOut):
            waited = session.timeout_s * (session.retries + 1)
            return SnmpTimeout(device, f"no response from {session.host}:{session.port} "
                               f"after {waited:g}s ({_tries(session.retries)})")
        if isinstance(indication, self._auth_errors):
            user = getattr(session.credentials, "username", "?")
            return SnmpAuthError(device, f"SNMPv3 user {user!r} rejected: {indication}")
        if isinstance(indication, self.errind.TooBig):
            return SnmpTooBig(device, str(indication))
        if isinstance(indication, self._malformed_errors):
            return SnmpMalformed(device, str(indication))
        return SnmpError(device, str(indication))
