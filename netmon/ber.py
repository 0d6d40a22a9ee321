"""Minimal BER codec for SNMP v1/v2c messages.

Step: collectors -> **SNMP transport** (the wire format under netmon.snmp).

Only what a manager needs: encode GetRequest / GetNextRequest / GetBulkRequest
messages and decode Response (and Report) messages. Pure Python, no pysnmp or
pyasn1: decoding with pyasn1 costs ~290 µs per varbind, this costs a few µs.

Decoded values are plain Python objects:

* INTEGER, Counter32, Gauge32 (= Unsigned32), TimeTicks, Counter64 -> ``int``;
* OCTET STRING, Opaque and unknown application types -> ``bytes``;
* OBJECT IDENTIFIER and IpAddress -> dotted ``str``;
* NULL -> ``None``;
* the v2c exceptions noSuchObject / noSuchInstance / endOfMibView -> the
  ``NoSuch`` singletons below (re-exported by netmon.snmp).

Every malformed input raises :class:`BerError` (a ``ValueError``); netmon.snmp
turns it into ``SnmpMalformed``. Values outside their SNMP type's range raise
:class:`BerValueError` (a ``BerError``), which netmon.snmp turns into
``SnmpBadValue``: a hostile or broken agent must not hand the sinks a number
no database can store (SQLite and InfluxDB stop at 2^63 - 1).

Bounds (RFC 2578 / RFC 3416), checked on every decoded message:

* INTEGER (Integer32): -2^31 .. 2^31-1. RFC 2578 7.1.1 allows no more, and
  pysnmp (the v3 path) rejects larger values too, so v2c and v3 agree. An
  agent that sends an unsigned 32-bit value as INTEGER is refused, not
  silently wrapped.
* Counter32, Gauge32 (Unsigned32), TimeTicks: 0 .. 2^32-1; Counter64:
  0 .. 2^64-1. The encoding may carry one leading 0x00 (the correct form) or
  none (sloppy agents): both read as unsigned.
* request-id, error-status, error-index and version: Integer32.
* OBJECT IDENTIFIER: at most 128 sub-identifiers, each 0 .. 2^32-1 (RFC 2578
  3.5). Varbind names are checked when the message is decoded, so what
  netmon.snmp receives always prints without Python's int-to-text limit.
"""

from __future__ import annotations

from collections.abc import Sequence

# Universal tags.
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
# Application tags (RFC 2578).
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42  # also Unsigned32
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
# Context tags in varbind values (RFC 3416).
NO_SUCH_OBJECT_TAG = 0x80
NO_SUCH_INSTANCE_TAG = 0x81
END_OF_MIB_VIEW_TAG = 0x82
# PDU tags.
GET_REQUEST = 0xA0
GET_NEXT_REQUEST = 0xA1
RESPONSE = 0xA2
SET_REQUEST = 0xA3
GET_BULK_REQUEST = 0xA5
REPORT = 0xA8

VERSION_1 = 0
VERSION_2C = 1

UNSIGNED_TAGS = frozenset({COUNTER32, GAUGE32, TIMETICKS, COUNTER64})
_UNSIGNED_MAX = {COUNTER32: 2**32 - 1, GAUGE32: 2**32 - 1, TIMETICKS: 2**32 - 1,
                 COUNTER64: 2**64 - 1}
# Content octets an in-range value can take: the value plus one leading 0x00.
_UNSIGNED_OCTETS = {COUNTER32: 5, GAUGE32: 5, TIMETICKS: 5, COUNTER64: 9}
_TYPE_NAMES = {INTEGER: "INTEGER", COUNTER32: "Counter32", GAUGE32: "Gauge32",
               TIMETICKS: "TimeTicks", COUNTER64: "Counter64"}
# Content lengths at which an unsigned value is always in range.
_FAST_UNSIGNED = {COUNTER32: 4, GAUGE32: 4, TIMETICKS: 4, COUNTER64: 8}
INTEGER32_MIN = -(2**31)
INTEGER32_MAX = 2**31 - 1
MAX_SUBID = 2**32 - 1
MAX_OID_ARCS = 128

ERROR_STATUS_NAMES = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
    "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
    "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
    "authorizationError", "notWritable", "inconsistentName",
)
TOO_BIG = 1


class BerError(ValueError):
    """The bytes are not a well-formed SNMP message (truncated TLV, bad tag, ...).

    ``header`` is ``(version, community, request_id)`` when the message got as
    far as its request-id before the problem, so the transport can tell which
    request the bad answer belongs to (``None`` otherwise).
    """

    header: tuple[int, bytes, int] | None = None


class BerValueError(BerError):
    """A well-formed value outside its SNMP type's range (INTEGER of 2^63, Counter32 of 2^32)."""


class NoSuch:
    """A v2c exception value in a varbind: noSuchObject, noSuchInstance or endOfMibView."""

    __slots__ = ("_global", "name", "tag")

    def __init__(self, name: str, tag: int, global_name: str) -> None:
        self.name = name
        self.tag = tag
        self._global = global_name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        # Pickling / copying keeps the singletons singletons.
        return self._global


NO_SUCH_OBJECT = NoSuch("noSuchObject", NO_SUCH_OBJECT_TAG, "NO_SUCH_OBJECT")
NO_SUCH_INSTANCE = NoSuch("noSuchInstance", NO_SUCH_INSTANCE_TAG, "NO_SUCH_INSTANCE")
END_OF_MIB_VIEW = NoSuch("endOfMibView", END_OF_MIB_VIEW_TAG, "END_OF_MIB_VIEW")
_NOSUCH_BY_TAG = {NO_SUCH_OBJECT_TAG: NO_SUCH_OBJECT, NO_SUCH_INSTANCE_TAG: NO_SUCH_INSTANCE,
                  END_OF_MIB_VIEW_TAG: END_OF_MIB_VIEW}

Value = int | bytes | str | None


# ---------------------------------------------------------------- encoding


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def encode_tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + encode_length(n) + content


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """Two's-complement, minimal length. Unsigned types get a leading 0x00 when the
    high bit is set (Counter64 near 2^64 is 9 content bytes: 00 ff ff ...)."""
    if tag in UNSIGNED_TAGS and not 0 <= value <= _UNSIGNED_MAX[tag]:
        raise ValueError(f"{value} out of range for tag 0x{tag:02x}")
    n = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return encode_tlv(tag, value.to_bytes(n, "big", signed=True))


def encode_oid_arcs(arcs: Sequence[int]) -> bytes:
    """OID content octets (no tag/length) for a sequence of arcs."""
    if len(arcs) < 2:
        raise ValueError(f"an OID needs at least two arcs: {arcs!r}")
    first, second = arcs[0], arcs[1]
    if first not in (0, 1, 2) or second < 0 or (first < 2 and second >= 40):
        raise ValueError(f"invalid first arcs {first}.{second}")
    out = bytearray()
    for arc in (first * 40 + second, *arcs[2:]):
        if arc < 0x80:
            if arc < 0:
                raise ValueError(f"negative OID arc {arc}")
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def encode_oid_content(oid: str) -> bytes:
    """``'1.3.6.1.2.1.1.3.0'`` (a leading dot is allowed) -> OID content octets."""
    try:
        arcs = [int(a) for a in oid.strip().lstrip(".").split(".")]
    except ValueError:
        raise ValueError(f"not a numeric OID: {oid!r}") from None
    return encode_oid_arcs(arcs)


def encode_oid(oid: str) -> bytes:
    return encode_tlv(OBJECT_IDENTIFIER, encode_oid_content(oid))


def encode_value(tag: int, value: Value) -> bytes:
    """Encode one varbind value (used by tests and fake agents; managers send NULLs)."""
    if tag == INTEGER or tag in UNSIGNED_TAGS:
        if not isinstance(value, int):
            raise TypeError(f"tag 0x{tag:02x} needs an int")
        return encode_integer(value, tag)
    if tag in (OCTET_STRING, OPAQUE):
        if not isinstance(value, bytes | bytearray):
            raise TypeError("OCTET STRING needs bytes")
        return encode_tlv(tag, bytes(value))
    if tag == OBJECT_IDENTIFIER:
        return encode_oid(str(value))
    if tag == IP_ADDRESS:
        return encode_tlv(tag, bytes(int(p) for p in str(value).split(".")))
    if tag in (NULL, NO_SUCH_OBJECT_TAG, NO_SUCH_INSTANCE_TAG, END_OF_MIB_VIEW_TAG):
        return bytes((tag, 0))
    raise ValueError(f"cannot encode tag 0x{tag:02x}")


_NULL_TLV = b"\x05\x00"


def encode_request(
    community: bytes,
    pdu_type: int,
    request_id: int,
    oids: Sequence[bytes],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
    version: int = VERSION_2C,
) -> bytes:
    """A request message. ``oids`` are pre-encoded OID TLVs (see :func:`encode_oid`).

    For GetBulk the error-status / error-index fields carry non-repeaters and
    max-repetitions (RFC 3416 4.2.3); they are 0 for the other requests.
    """
    vbl = b"".join([encode_tlv(SEQUENCE, oid + _NULL_TLV) for oid in oids])
    pdu = b"".join((
        encode_integer(request_id),
        encode_integer(non_repeaters),
        encode_integer(max_repetitions),
        encode_tlv(SEQUENCE, vbl),
    ))
    return encode_tlv(SEQUENCE, b"".join((
        encode_integer(version),
        encode_tlv(OCTET_STRING, community),
        encode_tlv(pdu_type, pdu),
    )))


def encode_response(
    community: bytes,
    request_id: int,
    varbinds: Sequence[tuple[str, int, Value]],
    *,
    error_status: int = 0,
    error_index: int = 0,
    pdu_type: int = RESPONSE,
    version: int = VERSION_2C,
) -> bytes:
    """A Response message from (oid, tag, value) triples: for fake agents in tests."""
    vbl = b"".join(
        encode_tlv(SEQUENCE, encode_oid(oid) + encode_value(tag, value))
        for oid, tag, value in varbinds
    )
    pdu = b"".join((
        encode_integer(request_id),
        encode_integer(error_status),
        encode_integer(error_index),
        encode_tlv(SEQUENCE, vbl),
    ))
    return encode_tlv(SEQUENCE, b"".join((
        encode_integer(version),
        encode_tlv(OCTET_STRING, community),
        encode_tlv(pdu_type, pdu),
    )))


# ---------------------------------------------------------------- decoding


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read the TLV header at ``pos``: returns (tag, content start, content end)."""
    if pos + 2 > end:
        raise BerError(f"truncated TLV header at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise BerError(f"multi-byte tag at offset {pos} is not used by SNMP")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError(f"indefinite length at offset {pos - 2} is not allowed in SNMP")
        if k > 4 or pos + k > end:
            raise BerError(f"bad long-form length at offset {pos - 2}")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError(f"truncated TLV at offset {pos}: {n} content bytes, {end - pos} left")
    return tag, pos, pos + n


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    t, start, stop = read_tlv(data, pos, end)
    if t != tag:
        raise BerError(f"expected {what} (tag 0x{tag:02x}), got tag 0x{t:02x} at offset {pos}")
    return start, stop


def _read_int(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, INTEGER, what)
    if start == stop:
        raise BerError(f"empty INTEGER for {what}")
    if stop - start > 4:
        value = int.from_bytes(data[start:stop], "big", signed=True) if stop - start < 9 else None
        if value is None or not INTEGER32_MIN <= value <= INTEGER32_MAX:
            raise BerError(f"{what} is a {stop - start}-byte INTEGER, beyond Integer32")
        return value, stop
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_oid_content(content: bytes) -> str:
    """OID content octets -> dotted string (first arc 2 allows a second arc >= 40)."""
    if not content:
        raise BerError("empty OBJECT IDENTIFIER")
    if content[-1] & 0x80:
        raise BerError("truncated OBJECT IDENTIFIER sub-identifier")
    arcs: list[int] = []
    acc = 0
    for b in content:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            if acc > MAX_SUBID:
                # RFC 2578 3.5; also keeps every arc printable (Python refuses
                # to turn an int of 4,300+ digits into text).
                raise BerError(f"OBJECT IDENTIFIER sub-identifier {len(arcs) + 1} "
                               "exceeds 2^32-1")
            arcs.append(acc)
            acc = 0
        elif acc > MAX_SUBID:
            raise BerError(f"OBJECT IDENTIFIER sub-identifier {len(arcs) + 1} exceeds 2^32-1")
    if len(arcs) >= MAX_OID_ARCS:  # the first sub-identifier holds two arcs
        raise BerError(f"OBJECT IDENTIFIER of {len(arcs) + 1} arcs (at most {MAX_OID_ARCS})")
    first = arcs[0]
    if first < 40:
        head = f"0.{first}"
    elif first < 80:
        head = f"1.{first - 40}"
    else:
        head = f"2.{first - 80}"
    if len(arcs) == 1:
        return head
    return head + "." + ".".join(map(str, arcs[1:]))


_OID_CACHE: dict[bytes, str] = {}
OID_CACHE_MAX_BYTES = 40 * 1024 * 1024
"""What the decoded-OID cache may hold, counted as key + text + ~150 bytes of
dict and object overhead per entry (close to what CPython spends). Bounded by
bytes, not entries: a hostile agent walking ever-new long OIDs must not grow
the daemon's memory. ~210,000 typical interface OIDs (12 octets, 30
characters) fit, as many as the former 200,000-entry bound; 640-octet OIDs
(128 arcs near 2^32) fit ~20,000 times. When full, the cache starts over."""
_OID_ENTRY_OVERHEAD = 150
_oid_cache_bytes = 0


def oid_str(content: bytes) -> str:
    """Cached :func:`decode_oid_content`: a poller sees the same OIDs every cycle."""
    global _oid_cache_bytes
    s = _OID_CACHE.get(content)
    if s is None:
        s = decode_oid_content(content)
        size = len(content) + len(s) + _OID_ENTRY_OVERHEAD
        if _oid_cache_bytes + size > OID_CACHE_MAX_BYTES:
            _OID_CACHE.clear()
            _oid_cache_bytes = 0
        _OID_CACHE[content] = s
        _oid_cache_bytes += size
    return s


def oid_cache_bytes() -> int:
    """Approximate bytes held by the decoded-OID cache (for tests and benchmarks)."""
    return _oid_cache_bytes


def oid_arcs(content: bytes) -> tuple[int, ...]:
    return tuple(int(a) for a in oid_str(content).split("."))


def oid_gt(a: bytes, b: bytes) -> bool:
    """Numeric OID order ``a > b`` on content octets.

    Bytewise order equals numeric order except when the first differing
    sub-identifiers are both multi-byte and of different lengths (0xff 0x7f =
    16383 sorts after 0x81 0x80 0x00 = 16384). That needs a byte >= 0x80 in
    both, so only then look at the sub-identifiers' lengths.
    """
    if max(a, default=0) < 0x80 or max(b, default=0) < 0x80:
        return a > b
    # Both have multi-byte sub-identifiers: find the first differing octet
    # (binary search on slices: C speed even for 640-octet hostile OIDs),
    # then compare the sub-identifiers it falls in by length, then by octet.
    n = min(len(a), len(b))
    lo, hi = 0, n  # a[:lo] == b[:lo]; the first difference is below hi
    if a[:n] == b[:n]:
        return len(a) > len(b)  # one is a prefix of the other
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    i = lo
    start = i
    while start and a[start - 1] & 0x80:
        start -= 1
    if a[start] == 0x80 or b[start] == 0x80:
        return oid_arcs(a) > oid_arcs(b)  # non-minimal encoding: decode to compare
    end_a = end_b = start
    while end_a < len(a) and a[end_a] & 0x80:
        end_a += 1
    while end_b < len(b) and b[end_b] & 0x80:
        end_b += 1
    if end_a != end_b:
        return end_a > end_b  # the longer sub-identifier is the larger number
    return a[i] > b[i]


def _out_of_range(tag: int, n_octets: int, value: int | None) -> BerValueError:
    name = _TYPE_NAMES[tag]
    bounds = ("-2^31..2^31-1" if tag == INTEGER
              else "0..2^64-1" if tag == COUNTER64 else "0..2^32-1")
    # A huge value is described by its size: printing it could itself fail.
    shown = f"{value}" if value is not None else f"a {n_octets}-byte value"
    return BerValueError(f"{name} {shown} out of range {bounds}")


def decode_value(tag: int, data: bytes, start: int, stop: int) -> Value | NoSuch:
    if tag == OCTET_STRING:
        return data[start:stop]
    if tag in UNSIGNED_TAGS:
        # Counter64 near 2^64 arrives as 9 bytes (leading 0x00) from correct
        # agents and as 8 bytes with the high bit set from sloppy ones: the
        # unsigned read accepts both.
        n = stop - start
        if n == 0:
            raise BerError(f"empty integer value (tag 0x{tag:02x})")
        if n > _UNSIGNED_OCTETS[tag]:
            raise _out_of_range(tag, n, None)
        value = int.from_bytes(data[start:stop], "big")
        if value > _UNSIGNED_MAX[tag]:
            raise _out_of_range(tag, n, value)
        return value
    if tag == INTEGER:
        n = stop - start
        if n == 0:
            raise BerError("empty INTEGER value")
        if n > 5:
            raise _out_of_range(tag, n, None)
        value = int.from_bytes(data[start:stop], "big", signed=True)
        if not INTEGER32_MIN <= value <= INTEGER32_MAX:
            raise _out_of_range(tag, n, value)
        return value
    if tag == OBJECT_IDENTIFIER:
        return oid_str(data[start:stop])
    if tag == IP_ADDRESS:
        if stop - start != 4:
            raise BerError(f"IpAddress of {stop - start} bytes")
        return ".".join(map(str, data[start:stop]))
    if tag == NULL:
        return None
    nosuch = _NOSUCH_BY_TAG.get(tag)
    if nosuch is not None:
        return nosuch
    if tag & 0xC0 == 0x40 and not tag & 0x20:
        return data[start:stop]  # Opaque, NsapAddress, ...: raw bytes
    raise BerError(f"unexpected value tag 0x{tag:02x}")


class Message:
    """A decoded v1/v2c message. ``varbinds`` hold (OID content octets, value)."""

    __slots__ = ("community", "error_index", "error_status", "pdu_type", "request_id",
                 "varbinds", "version")

    def __init__(self, version: int, community: bytes, pdu_type: int, request_id: int,
                 error_status: int, error_index: int,
                 varbinds: list[tuple[bytes, Value | NoSuch]]) -> None:
        self.version = version
        self.community = community
        self.pdu_type = pdu_type
        self.request_id = request_id
        self.error_status = error_status
        self.error_index = error_index
        self.varbinds = varbinds


def decode_message(data: bytes) -> Message:
    """Decode a whole v1/v2c message (any PDU type; the caller checks which)."""
    end = len(data)
    try:
        start, stop = _expect(data, 0, end, SEQUENCE, "message SEQUENCE")
        version, pos = _read_int(data, start, stop, "version")
        cstart, pos = _expect(data, pos, stop, OCTET_STRING, "community")
        community = data[cstart:pos]
        pdu_type, pstart, pstop = read_tlv(data, pos, stop)
        if pdu_type & 0xE0 != 0xA0:
            raise BerError(f"expected a PDU, got tag 0x{pdu_type:02x}")
        request_id, pos = _read_int(data, pstart, pstop, "request-id")
    except IndexError:
        raise BerError("truncated message") from None
    try:
        error_status, pos = _read_int(data, pos, pstop, "error-status")
        error_index, pos = _read_int(data, pos, pstop, "error-index")
        varbinds = _decode_varbinds(data, pos, pstop)
    except IndexError:
        e = BerError("truncated message")
        e.header = (version, community, request_id)
        raise e from None
    except BerError as e:
        e.header = (version, community, request_id)
        raise
    return Message(version, community, pdu_type, request_id, error_status, error_index,
                   varbinds)


def _decode_varbinds(data: bytes, pos: int, pstop: int) -> list[tuple[bytes, Value | NoSuch]]:
    vstart, vstop = _expect(data, pos, pstop, SEQUENCE, "varbind list")
    varbinds: list[tuple[bytes, Value | NoSuch]] = []
    append = varbinds.append
    pos = vstart
    n = 0
    while pos < vstop:
        n += 1
        if data[pos] != SEQUENCE:
            raise BerError(f"expected varbind SEQUENCE at offset {pos}")
        _, bstart, bstop = read_tlv(data, pos, vstop)
        if bstart >= bstop or data[bstart] != OBJECT_IDENTIFIER:
            raise BerError(f"expected varbind OID at offset {bstart}")
        _, ostart, ostop = read_tlv(data, bstart, bstop)
        tag, val_start, val_stop = read_tlv(data, ostop, bstop)
        if val_stop != bstop:
            raise BerError(f"trailing bytes in varbind at offset {val_stop}")
        oid = data[ostart:ostop]
        try:
            oid_str(oid)  # validates the name (cached: the same OIDs come every cycle)
        except BerError as e:
            raise BerError(f"varbind {n} name: {e}") from None
        # Hot paths: lengths that cannot be out of range need no check.
        if tag == OCTET_STRING:
            append((oid, data[val_start:val_stop]))
        elif 0 < val_stop - val_start <= _FAST_UNSIGNED.get(tag, 0):
            append((oid, int.from_bytes(data[val_start:val_stop], "big")))
        elif tag == INTEGER and 0 < val_stop - val_start <= 4:
            append((oid, int.from_bytes(data[val_start:val_stop], "big", signed=True)))
        else:
            try:
                append((oid, decode_value(tag, data, val_start, val_stop)))
            except BerValueError as e:
                raise BerValueError(f"{e} at {oid_str(oid)}") from None
        pos = bstop
    return varbinds
