"""SNMPv3 message processing and the User-based Security Model (RFC 3412, RFC 3414).

Step: collectors -> **SNMP transport** (the v3 wire format under netmon.snmp).

The v3 fast path: SNMPv3 messages built and read over netmon.ber, with the
security primitives from well-kept libraries (``hashlib`` / ``hmac`` for the
password-to-key algorithm and the MACs, ``cryptography`` for AES). No pysnmp,
no pyasn1: pysnmp's USM costs ~250 µs of CPU per varbind, nearly all of it
pyasn1. This module does no I/O; netmon.snmp sends and receives.

What it covers (:func:`supports` says whether a profile fits):

* authentication HMAC-SHA-96 (RFC 3414) and HMAC-SHA-2 (RFC 7860: SHA-224,
  SHA-256, SHA-384, SHA-512 with MACs truncated to 16, 24, 32, 48 bytes);
* privacy AES-128 CFB (RFC 3826) and AES-192/256 CFB with the "Reeder" key
  extension (draft-reeder-snmpv3-usm-3desede-00 as Cisco and most vendors use
  it; pysnmp's ``usmAesCfb192Protocol`` / ``usmAesCfb256Protocol``, which the
  pysnmp path configured before, so a profile means the same on both paths);
* noAuthNoPriv, authNoPriv and authPriv.

Keys are localised once per (user, engine ID) and cached: the password-to-key
step hashes 1 MiB of passphrase (RFC 3414 A.2), ~1-2 ms each.

Every malformed input raises ``ber.BerError``; every security failure raises
:class:`UsmError` whose ``kind`` is one of the usmStats names.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 47 keeps CFB among the "decrepit" modes; RFC 3826 needs it.
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from netmon import ber

__all__ = [
    "AUTH_PROTOCOLS",
    "PRIV_PROTOCOLS",
    "EngineState",
    "Header",
    "Incoming",
    "LocalKeys",
    "UsmError",
    "UsmUser",
    "decode_message",
    "encode_discovery",
    "encode_pdu",
    "encode_request",
    "local_keys",
    "localize_key",
    "open_message",
    "password_to_key",
    "peek_msg_id",
    "priv_key",
    "report_kind",
]

VERSION_3 = 3
USM_SECURITY_MODEL = 3
FLAG_AUTH = 0x01
FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04
MAX_MESSAGE_SIZE = 65507
"""msgMaxSize we announce: the largest UDP payload over IPv4."""
TIME_WINDOW_S = 150
"""RFC 3414 2.2.3: an authentic message more than 150 s older than the agent clock is stale."""
MAX_BOOTS = 2**31 - 1

# Auth protocol -> (hashlib name, MAC length). RFC 3414 6 / RFC 7860 4.
AUTH_PROTOCOLS: dict[str, tuple[str, int]] = {
    "SHA": ("sha1", 12),
    "SHA-224": ("sha224", 16),
    "SHA-256": ("sha256", 24),
    "SHA-384": ("sha384", 32),
    "SHA-512": ("sha512", 48),
}
# Priv protocol -> AES key length.
PRIV_PROTOCOLS: dict[str, int] = {"AES-128": 16, "AES-192": 24, "AES-256": 32}

# usmStats counters a Report names (RFC 3414 5): kinds of UsmError.
UNSUPPORTED_SEC_LEVEL = "unsupported security level"
NOT_IN_TIME_WINDOW = "not in time window"
UNKNOWN_USER_NAME = "unknown user name"
UNKNOWN_ENGINE_ID = "unknown engine ID"
WRONG_DIGEST = "wrong digest"
DECRYPTION_ERROR = "decryption error"
_USM_STATS = {
    "1.3.6.1.6.3.15.1.1.1.0": UNSUPPORTED_SEC_LEVEL,
    "1.3.6.1.6.3.15.1.1.2.0": NOT_IN_TIME_WINDOW,
    "1.3.6.1.6.3.15.1.1.3.0": UNKNOWN_USER_NAME,
    "1.3.6.1.6.3.15.1.1.4.0": UNKNOWN_ENGINE_ID,
    "1.3.6.1.6.3.15.1.1.5.0": WRONG_DIGEST,
    "1.3.6.1.6.3.15.1.1.6.0": DECRYPTION_ERROR,
}
# Other Reports an agent may send (RFC 3412 / RFC 3413 counters).
_OTHER_REPORTS = {
    "1.3.6.1.6.3.11.2.1.1.0": "unknown security model",
    "1.3.6.1.6.3.11.2.1.2.0": "invalid message",
    "1.3.6.1.6.3.11.2.1.3.0": "unknown PDU handler",
    "1.3.6.1.6.3.12.1.4.0": "unavailable context",
    "1.3.6.1.6.3.12.1.5.0": "unknown context",
}


class UsmError(Exception):
    """A message failed a USM check; ``kind`` is one of the usmStats names above."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


# ---------------------------------------------------------------- keys

_ONE_MIB = 1_048_576


@lru_cache(maxsize=512)
def password_to_key(passphrase: bytes, hash_name: str) -> bytes:
    """Ku: the digest of the passphrase repeated to 1 MiB (RFC 3414 A.2.1 / A.2.2)."""
    if not passphrase:
        raise ValueError("empty SNMPv3 passphrase")
    repeated = passphrase * (_ONE_MIB // len(passphrase) + 1)
    return hashlib.new(hash_name, memoryview(repeated)[:_ONE_MIB]).digest()


def localize_key(ku: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """Kul = H(Ku || snmpEngineID || Ku) (RFC 3414 2.6)."""
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def priv_key(passphrase: bytes, engine_id: bytes, hash_name: str, size: int) -> bytes:
    """The AES key: the localised key, extended the "Reeder" way when too short.

    AES-192/256 with SHA-1 (20 bytes) or AES-256 with SHA-224 (28) need more
    key than one digest. Reeder (as Cisco, and pysnmp's usmAesCfb192/256Protocol)
    appends Localize(P2K(key so far)); Blumenthal (Net-SNMP's default) appends
    H(key so far). Both agree whenever no extension is needed.
    """
    key = localize_key(password_to_key(passphrase, hash_name), engine_id, hash_name)
    while len(key) < size:
        key += localize_key(password_to_key(key, hash_name), engine_id, hash_name)
    return key[:size]


@dataclass(frozen=True, slots=True)
class UsmUser:
    """One USM user as configured (passphrases, not localised keys)."""

    name: bytes
    auth_protocol: str | None = None
    auth_passphrase: bytes = field(default=b"", repr=False)
    priv_protocol: str | None = None
    priv_passphrase: bytes = field(default=b"", repr=False)
    context_name: bytes = b""

    def __post_init__(self) -> None:
        if self.auth_protocol is not None and self.auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"auth protocol {self.auth_protocol!r} is not on the fast path")
        if self.priv_protocol is not None:
            if self.priv_protocol not in PRIV_PROTOCOLS:
                raise ValueError(f"priv protocol {self.priv_protocol!r} is not on the fast path")
            if self.auth_protocol is None:
                raise ValueError("privacy needs authentication (RFC 3414)")

    @property
    def flags(self) -> int:
        """msgFlags of a request: reportable, plus auth / priv as configured."""
        if self.auth_protocol is None:
            return FLAG_REPORTABLE
        if self.priv_protocol is None:
            return FLAG_REPORTABLE | FLAG_AUTH
        return FLAG_REPORTABLE | FLAG_AUTH | FLAG_PRIV


def supports(auth_protocol: str | None, priv_protocol: str | None) -> bool:
    """Whether the fast path can serve this combination (else pysnmp does)."""
    if auth_protocol is not None and auth_protocol not in AUTH_PROTOCOLS:
        return False
    return priv_protocol is None or (priv_protocol in PRIV_PROTOCOLS
                                     and auth_protocol is not None)


@dataclass(frozen=True, slots=True)
class LocalKeys:
    """A user's keys localised to one engine ID."""

    hash_name: str = ""
    mac_len: int = 0
    auth_key: bytes = field(default=b"", repr=False)
    priv_key: bytes = field(default=b"", repr=False)
    _keyed: hmac.HMAC | None = field(default=None, repr=False, compare=False)

    def hmac(self) -> hmac.HMAC:
        """A fresh HMAC with the auth key: a copy of one keyed once (OpenSSL 3 looks
        the algorithm up on every ``hmac.digest``; a copy skips that)."""
        assert self._keyed is not None
        return self._keyed.copy()


@lru_cache(maxsize=4096)
def local_keys(user: UsmUser, engine_id: bytes) -> LocalKeys:
    """The user's keys for ``engine_id``, computed once per (user, engine ID)."""
    if user.auth_protocol is None:
        return LocalKeys()
    hash_name, mac_len = AUTH_PROTOCOLS[user.auth_protocol]
    auth = localize_key(password_to_key(user.auth_passphrase, hash_name), engine_id, hash_name)
    priv = b""
    if user.priv_protocol is not None:
        priv = priv_key(user.priv_passphrase, engine_id, hash_name,
                        PRIV_PROTOCOLS[user.priv_protocol])
    return LocalKeys(hash_name, mac_len, auth, priv, hmac.new(auth, digestmod=hash_name))


# ---------------------------------------------------------------- engine clock


class EngineState:
    """What a manager knows of one authoritative engine (RFC 3414 2.3): its ID, boots, clock."""

    __slots__ = ("boots", "engine_id", "latest_time", "synced_at", "time")

    def __init__(self, engine_id: bytes, boots: int, engine_time: int) -> None:
        self.engine_id = engine_id
        self.set(boots, engine_time)

    def set(self, boots: int, engine_time: int) -> None:
        self.boots = boots
        self.time = engine_time
        self.latest_time = engine_time
        self.synced_at = time.monotonic()

    def now(self) -> int:
        """snmpEngineTime as the agent counts it now (our notion, advanced by our clock)."""
        return min(self.time + int(time.monotonic() - self.synced_at), MAX_BOOTS)

    def check(self, boots: int, engine_time: int) -> None:
        """RFC 3414 3.2 7b for a non-authoritative receiver: follow the agent's clock
        forward, reject an authentic message outside the 150 s window."""
        if boots > self.boots or (boots == self.boots and engine_time > self.latest_time):
            self.set(boots, engine_time)
        if (self.boots == MAX_BOOTS or boots < self.boots
                or (boots == self.boots and engine_time < self.now() - TIME_WINDOW_S)):
            raise UsmError(NOT_IN_TIME_WINDOW,
                           f"answer has engineBoots {boots} engineTime {engine_time}, the "
                           f"agent is at {self.boots} / {self.now()}")


# ---------------------------------------------------------------- encoding

_INT_CACHE: dict[int, bytes] = {}
_tlv = ber.encode_tlv
_int = ber.encode_integer
_SALT = itertools.count(int.from_bytes(os.urandom(8), "big"))
_HEADER_TAIL: dict[int, bytes] = {}  # flags -> msgMaxSize + msgFlags + msgSecurityModel


_OCTETS: dict[bytes, bytes] = {}


def _octets(value: bytes) -> bytes:
    """OCTET STRING TLV of an engine ID, user or context name (cached: a few per agent)."""
    enc = _OCTETS.get(value)
    if enc is None:
        enc = _tlv(ber.OCTET_STRING, value)
        if len(_OCTETS) < 4096:
            _OCTETS[value] = enc
    return enc


def _small_int(n: int) -> bytes:
    enc = _INT_CACHE.get(n)
    if enc is None:
        enc = _int(n)
        if len(_INT_CACHE) < 1024:
            _INT_CACHE[n] = enc
    return enc


def _global_data(msg_id: int, flags: int) -> bytes:
    tail = _HEADER_TAIL.get(flags)
    if tail is None:
        tail = _HEADER_TAIL[flags] = (_int(MAX_MESSAGE_SIZE)
                                      + _tlv(ber.OCTET_STRING, bytes((flags,)))
                                      + _int(USM_SECURITY_MODEL))
    return _tlv(ber.SEQUENCE, _int(msg_id) + tail)


_VERSION_3 = ber.encode_integer(VERSION_3)
_NULL_TLV = b"\x05\x00"


def encode_pdu(pdu_type: int, request_id: int, oids: list[bytes], non_repeaters: int = 0,
               max_repetitions: int = 0) -> bytes:
    """A request PDU (the same fields as netmon.ber.encode_request, without a community)."""
    vbl = b"".join([_tlv(ber.SEQUENCE, oid + _NULL_TLV) for oid in oids])
    return _tlv(pdu_type, b"".join((_int(request_id), _small_int(non_repeaters),
                                    _small_int(max_repetitions), _tlv(ber.SEQUENCE, vbl))))


_AES_KEYS: dict[bytes, algorithms.AES] = {}


def _aes(key: bytes, boots: int, engine_time: int, salt: bytes) -> Cipher:  # type: ignore[type-arg]
    # RFC 3826 3.1.2.1: IV = engineBoots (4) || engineTime (4) || salt (8), all of
    # the authoritative engine, i.e. of the agent for requests and answers alike.
    algorithm = _AES_KEYS.get(key)
    if algorithm is None:
        if len(_AES_KEYS) >= 4096:
            _AES_KEYS.clear()
        algorithm = _AES_KEYS[key] = algorithms.AES(key)
    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
    return Cipher(algorithm, CFB(iv))


def encode_message(flags: int, msg_id: int, engine_id: bytes, boots: int, engine_time: int,
                   user_name: bytes, keys: LocalKeys, scoped_pdu: bytes) -> bytes:
    """An SNMPv3 message, encrypted when FLAG_PRIV and authenticated when FLAG_AUTH."""
    if flags & FLAG_PRIV:
        salt = (next(_SALT) & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
        enc = _aes(keys.priv_key, boots, engine_time, salt).encryptor()
        msg_data = _tlv(ber.OCTET_STRING, enc.update(scoped_pdu) + enc.finalize())
        priv_params = b"\x04\x08" + salt
    else:
        msg_data = scoped_pdu
        priv_params = b"\x04\x00"
    mac_len = keys.mac_len if flags & FLAG_AUTH else 0
    head = _octets(engine_id) + _small_int(boots) + _int(engine_time) + _octets(user_name)
    sec_content = head + _octets(bytes(mac_len)) + priv_params
    sec_seq = _tlv(ber.SEQUENCE, sec_content)
    sec = _tlv(ber.OCTET_STRING, sec_seq)
    front = _VERSION_3 + _global_data(msg_id, flags)
    message = _tlv(ber.SEQUENCE, front + sec + msg_data)
    if not mac_len:
        return message
    # msgAuthenticationParameters sits at a known offset: compute the MAC over the
    # message with it zeroed (as built), then put it in place.
    # Everything before the UsmSecurityParameters content, then the fields before
    # the MAC, then the MAC's own tag and (short) length.
    mac_at = len(message) - len(msg_data) - len(sec_content) + len(head) + 2
    h = keys.hmac()
    h.update(message)
    return message[:mac_at] + h.digest()[:mac_len] + message[mac_at + mac_len:]


def encode_request(user: UsmUser, keys: LocalKeys, engine: EngineState, msg_id: int,
                   pdu: bytes) -> bytes:
    """A request from ``user`` to ``engine`` carrying ``pdu`` (see :func:`encode_pdu`)."""
    scoped = _tlv(ber.SEQUENCE, _octets(engine.engine_id) + _octets(user.context_name) + pdu)
    return encode_message(user.flags, msg_id, engine.engine_id, engine.boots, engine.now(),
                          user.name, keys, scoped)


def encode_discovery(msg_id: int) -> bytes:
    """RFC 3414 4: a noAuthNoPriv reportable GET with no varbinds, no engine ID and no
    user, which any v3 agent answers with a usmStatsUnknownEngineIDs Report carrying
    its engine ID, boots and time."""
    scoped = _tlv(ber.SEQUENCE, b"\x04\x00\x04\x00" + encode_pdu(ber.GET_REQUEST, msg_id, []))
    return encode_message(FLAG_REPORTABLE, msg_id, b"", 0, 0, b"", LocalKeys(), scoped)


# ---------------------------------------------------------------- decoding


def _fields(data: bytes, pos: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each TLV in ``data[pos:end]``, one pass."""
    out = []
    append = out.append
    while pos < end:
        tag = data[pos]
        n = data[pos + 1] if pos + 1 < end else 0x80
        if n < 0x80 and pos + 2 + n <= end and tag & 0x1F != 0x1F:
            append((tag, pos + 2, pos + 2 + n))
            pos += 2 + n
        else:  # long-form length, or an error netmon.ber names
            tag, start, pos = ber.read_tlv(data, pos, end)
            append((tag, start, pos))
    return out


def _uint(data: bytes, field: tuple[int, int, int], what: str) -> int:
    _, start, stop = field
    if start == stop:
        raise ber.BerError(f"empty INTEGER for {what}")
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if not 0 <= value <= MAX_BOOTS:
        raise ber.BerError(f"{what} {value} out of range 0..{MAX_BOOTS}")
    return value


_GLOBAL_TAGS = (ber.INTEGER, ber.INTEGER, ber.OCTET_STRING, ber.INTEGER)
_USM_TAGS = (ber.OCTET_STRING, ber.INTEGER, ber.INTEGER, ber.OCTET_STRING, ber.OCTET_STRING,
             ber.OCTET_STRING)


class Header:
    """The unprotected part of a v3 message: what is needed to find the request it
    answers and to check it (RFC 3412 6.1 / 7.2, RFC 3414 2.4)."""

    __slots__ = ("boots", "data_start", "engine_id", "engine_time", "flags", "mac_start",
                 "mac_stop", "msg_id", "salt", "user_name")

    def __init__(self, data: bytes) -> None:
        end = len(data)
        try:
            if self._read_common(data, end):
                return
        except IndexError:
            pass
        self._read(data, end)

    def _read_common(self, data: bytes, end: int) -> bool:
        """The layout every agent sends (short-form lengths inside the header), read
        straight through: ~3x cheaper than :meth:`_read`, which handles any BER and
        names what is wrong. False (or IndexError) when the message is not of it."""
        tag, p, stop = ber.read_tlv(data, 0, end)
        # msgVersion 3, then msgGlobalData with a short length.
        if tag != ber.SEQUENCE or stop != end or data[p:p + 4] != b"\x02\x01\x03\x30":
            return False
        gend = p + 5 + data[p + 4]
        p += 5
        n = data[p + 1]
        if data[p] != ber.INTEGER or not 0 < n < 5:
            return False
        msg_id = int.from_bytes(data[p + 2:p + 2 + n], "big", signed=True)
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.INTEGER or not 0 < n < 5 or data[p + 2] & 0x80:  # msgMaxSize
            return False
        p += 2 + n
        if data[p:p + 2] != b"\x04\x01" or data[p + 3:p + 6] != b"\x02\x01\x03" \
                or p + 6 != gend:
            return False
        flags = data[p + 2]
        p = gend
        # msgSecurityParameters: OCTET STRING { SEQUENCE { ... } }, both short.
        if data[p] != ber.OCTET_STRING or data[p + 2] != ber.SEQUENCE \
                or data[p + 1] > 0x7F or data[p + 3] != data[p + 1] - 2:
            return False
        send = p + 2 + data[p + 1]
        p += 4
        n = data[p + 1]
        if data[p] != ber.OCTET_STRING or n > 0x7F:
            return False
        engine_id = data[p + 2:p + 2 + n]
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.INTEGER or not 0 < n < 5:
            return False
        boots = int.from_bytes(data[p + 2:p + 2 + n], "big", signed=True)
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.INTEGER or not 0 < n < 5:
            return False
        engine_time = int.from_bytes(data[p + 2:p + 2 + n], "big", signed=True)
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.OCTET_STRING or n > 0x7F:
            return False
        user_name = data[p + 2:p + 2 + n]
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.OCTET_STRING or n > 0x7F:
            return False
        mac_start = p + 2
        p += 2 + n
        n = data[p + 1]
        if data[p] != ber.OCTET_STRING or n > 0x7F or p + 2 + n != send or send > end \
                or msg_id < 0 or boots < 0 or engine_time < 0 \
                or (flags & FLAG_PRIV and not flags & FLAG_AUTH):
            return False
        self.msg_id = msg_id
        self.flags = flags
        self.engine_id = engine_id
        self.boots = boots
        self.engine_time = engine_time
        self.user_name = user_name
        self.mac_start = mac_start
        self.mac_stop = mac_start + data[mac_start - 1]
        self.salt = data[p + 2:send]
        self.data_start = send
        return True

    def _read(self, data: bytes, end: int) -> None:
        try:
            version, global_data, security = _top_level(data, end)
            if _uint(data, version, "msgVersion") != VERSION_3:
                raise ber.BerError("msgVersion is not 3")
            g = _fields(data, global_data[1], global_data[2])
            if tuple(f[0] for f in g) != _GLOBAL_TAGS:
                raise ber.BerError("msgGlobalData is not msgID, msgMaxSize, msgFlags, "
                                   "msgSecurityModel")
            self.msg_id = _uint(data, g[0], "msgID")
            _uint(data, g[1], "msgMaxSize")
            if g[2][2] - g[2][1] != 1:
                raise ber.BerError(f"msgFlags of {g[2][2] - g[2][1]} bytes")
            self.flags = data[g[2][1]]
            if _uint(data, g[3], "msgSecurityModel") != USM_SECURITY_MODEL:
                raise ber.BerError("security model is not USM (3)")
            if self.flags & FLAG_PRIV and not self.flags & FLAG_AUTH:
                raise ber.BerError("msgFlags ask for privacy without authentication")
            sec = _fields(data, security[1], security[2])
            if len(sec) != 1 or sec[0][0] != ber.SEQUENCE:
                raise ber.BerError("msgSecurityParameters hold no UsmSecurityParameters")
            u = _fields(data, sec[0][1], sec[0][2])
            if tuple(f[0] for f in u) != _USM_TAGS:
                raise ber.BerError("malformed UsmSecurityParameters")
        except IndexError:
            raise ber.BerError("truncated v3 header") from None
        self.engine_id = data[u[0][1]:u[0][2]]
        self.boots = _uint(data, u[1], "msgAuthoritativeEngineBoots")
        self.engine_time = _uint(data, u[2], "msgAuthoritativeEngineTime")
        self.user_name = data[u[3][1]:u[3][2]]
        self.mac_start, self.mac_stop = u[4][1], u[4][2]
        self.salt = data[u[5][1]:u[5][2]]
        self.data_start = security[2]  # msgData's TLV follows msgSecurityParameters


def _top_level(data: bytes, end: int) -> tuple[tuple[int, int, int], ...]:
    """msgVersion, msgGlobalData and msgSecurityParameters of the message SEQUENCE
    (msgData, the fourth field, is read by :func:`open_message`)."""
    tag, start, stop = ber.read_tlv(data, 0, end)
    if tag != ber.SEQUENCE:
        raise ber.BerError(f"expected message SEQUENCE, got tag 0x{tag:02x}")
    if stop != end:
        raise ber.BerError(f"{end - stop} bytes after the message")
    f = _fields(data, start, stop)
    if len(f) != 4 or (f[0][0], f[1][0], f[2][0]) != (ber.INTEGER, ber.SEQUENCE,
                                                      ber.OCTET_STRING):
        raise ber.BerError("a v3 message is version, msgGlobalData, msgSecurityParameters, "
                           "msgData")
    return f[0], f[1], f[2]


def peek_msg_id(data: bytes) -> int:
    """msgID of a v3 message, read before any security check (to find the request)."""
    return Header(data).msg_id


class Incoming:
    """A received v3 message once authenticated (when it says so) and decrypted."""

    __slots__ = ("authenticated", "boots", "context_engine_id", "engine_id", "engine_time",
                 "flags", "msg_id", "pdu", "user_name")

    def __init__(self, header: Header, context_engine_id: bytes, pdu: ber.Message) -> None:
        self.msg_id = header.msg_id
        self.flags = header.flags
        self.authenticated = bool(header.flags & FLAG_AUTH)
        self.engine_id = header.engine_id
        self.boots = header.boots
        self.engine_time = header.engine_time
        self.user_name = header.user_name
        self.context_engine_id = context_engine_id
        self.pdu = pdu


# A PDU is decoded by netmon.ber's v2c decoder, wrapped in a v2c header: the same
# checks apply to v2c and v3 answers.
_V2C_HEAD = ber.encode_integer(ber.VERSION_2C) + ber.encode_tlv(ber.OCTET_STRING, b"")


def _scoped_pdu(data: bytes, pos: int, end: int) -> tuple[bytes, ber.Message]:
    """(contextEngineID, PDU) of the ScopedPDU at ``pos``."""
    tag, sstart, sstop = ber.read_tlv(data, pos, end)
    if tag != ber.SEQUENCE:
        raise ber.BerError(f"expected ScopedPDU SEQUENCE, got tag 0x{tag:02x}")
    cetag, cestart, cestop = ber.read_tlv(data, sstart, sstop)
    cntag, _, p = ber.read_tlv(data, cestop, sstop)
    if (cetag, cntag) != (ber.OCTET_STRING, ber.OCTET_STRING):
        raise ber.BerError("ScopedPDU does not start with contextEngineID, contextName")
    pdu_type, _, pdu_stop = ber.read_tlv(data, p, sstop)
    if pdu_stop != sstop:
        raise ber.BerError("trailing bytes after the PDU")
    if pdu_type & 0xE0 != 0xA0:
        raise ber.BerError(f"expected a PDU, got tag 0x{pdu_type:02x}")
    return data[cestart:cestop], ber.decode_message(_tlv(ber.SEQUENCE, _V2C_HEAD + data[p:sstop]))


def decode_message(data: bytes, user: UsmUser | None, engine: EngineState | None) -> Incoming:
    """Read a v3 message addressed to ``user`` from ``engine``'s agent (see open_message)."""
    return open_message(data, Header(data), user, engine)


def open_message(data: bytes, header: Header, user: UsmUser | None,
                 engine: EngineState | None) -> Incoming:
    """Check and open a v3 message whose :class:`Header` was read.

    An authenticated message must come from ``engine`` and verify with the user's
    keys localised to it; an encrypted one is decrypted; an authentic Response
    must lie in the time window (its clock moves ``engine`` forward). Unauthenticated
    messages (discovery Reports, or errors the agent could not authenticate) are
    returned for the caller to judge: they prove nothing.

    Raises ``ber.BerError`` for malformed bytes, :class:`UsmError` for a failed check.
    """
    flags = header.flags
    keys = None
    if flags & FLAG_AUTH:
        if user is None or engine is None:
            raise UsmError(UNKNOWN_ENGINE_ID, "authenticated message before discovery")
        if header.engine_id != engine.engine_id:
            raise UsmError(UNKNOWN_ENGINE_ID,
                           f"answer from engine ID {header.engine_id.hex()}, expected "
                           f"{engine.engine_id.hex()}")
        if header.user_name != user.name:
            raise UsmError(UNKNOWN_USER_NAME, f"answer for user {header.user_name!r}")
        if user.auth_protocol is None:
            raise UsmError(UNSUPPORTED_SEC_LEVEL, "authenticated answer to a noAuth user")
        keys = local_keys(user, header.engine_id)
        mac_start, mac_stop = header.mac_start, header.mac_stop
        if mac_stop - mac_start != keys.mac_len:
            raise UsmError(WRONG_DIGEST, f"MAC of {mac_stop - mac_start} bytes, "
                           f"{user.auth_protocol} has {keys.mac_len}")
        h = keys.hmac()
        h.update(data[:mac_start])
        h.update(bytes(keys.mac_len))
        h.update(data[mac_stop:])
        if not hmac.compare_digest(h.digest()[:keys.mac_len], data[mac_start:mac_stop]):
            raise UsmError(WRONG_DIGEST, "the answer's MAC does not verify")
    end = len(data)
    try:
        tag, cstart, cstop = ber.read_tlv(data, header.data_start, end)
    except IndexError:
        raise ber.BerError("truncated msgData") from None
    if cstop != end:
        raise ber.BerError("trailing bytes after msgData")
    if flags & FLAG_PRIV:
        if user is None or user.priv_protocol is None or keys is None:
            raise UsmError(UNSUPPORTED_SEC_LEVEL, "encrypted answer to a noPriv user")
        if tag != ber.OCTET_STRING:
            raise ber.BerError(f"expected encryptedPDU, got tag 0x{tag:02x}")
        if len(header.salt) != 8:
            raise UsmError(DECRYPTION_ERROR, f"privacy parameters of {len(header.salt)} bytes")
        dec = _aes(keys.priv_key, header.boots, header.engine_time, header.salt).decryptor()
        scoped = dec.update(data[cstart:cstop]) + dec.finalize()
        try:
            # CFB has no padding and no check of its own: a wrong key (or a
            # wrong variant of the AES-192/256 key extension) gives bytes
            # that are no ScopedPDU.
            context_engine_id, pdu = _scoped_pdu(scoped, 0, len(scoped))
        except ber.BerError as e:
            raise UsmError(DECRYPTION_ERROR, f"decrypted bytes are no ScopedPDU: {e}") from None
    else:
        context_engine_id, pdu = _scoped_pdu(data, header.data_start, end)
    if pdu.pdu_type == ber.RESPONSE and user is not None \
            and user.flags & ~flags & (FLAG_AUTH | FLAG_PRIV):
        # RFC 3412 7.2 12: a Response comes at the request's security level; a
        # plaintext one to an authPriv request may be anybody's.
        raise UsmError(UNSUPPORTED_SEC_LEVEL, "answer below the request's security level")
    if flags & FLAG_AUTH and pdu.pdu_type == ber.RESPONSE:
        # Reports are the caller's: a notInTimeWindow Report is how the agent
        # tells us its clock (RFC 3414 4), it must not be refused for its clock.
        engine.check(header.boots, header.engine_time)  # type: ignore[union-attr]
    return Incoming(header, context_engine_id, pdu)


def report_kind(pdu: ber.Message) -> tuple[str, str]:
    """(kind, OID) of a Report PDU: a usmStats kind, another counter's name, or "report"."""
    if not pdu.varbinds:
        return "report without varbinds", ""
    oid = ber.oid_str(pdu.varbinds[0][0])
    return _USM_STATS.get(oid) or _OTHER_REPORTS.get(oid, "report"), oid
