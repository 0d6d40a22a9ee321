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
    return LocalKeys(hash_name, mac_len, auth, priv)


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


def _aes(key: bytes, boots: int, engine_time: int, salt: bytes) -> Cipher:  # type: ignore[type-arg]
    # RFC 3826 3.1.2.1: IV = engineBoots (4) || engineTime (4) || salt (8), all of
    # the authoritative engine, i.e. of the agent for requests and answers alike.
    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
    return Cipher(algorithms.AES(key), CFB(iv))


def encode_message(flags: int, msg_id: int, engine_id: bytes, boots: int, engine_time: int,
                   user_name: bytes, keys: LocalKeys, scoped_pdu: bytes) -> bytes:
    """An SNMPv3 message, encrypted when FLAG_PRIV and authenticated when FLAG_AUTH."""
    priv_params = b""
    if flags & FLAG_PRIV:
        priv_params = (next(_SALT) & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
        enc = _aes(keys.priv_key, boots, engine_time, priv_params).encryptor()
        msg_data = _tlv(ber.OCTET_STRING, enc.update(scoped_pdu) + enc.finalize())
    else:
        msg_data = scoped_pdu
    mac_len = keys.mac_len if flags & FLAG_AUTH else 0
    head = (_tlv(ber.OCTET_STRING, engine_id) + _small_int(boots) + _int(engine_time)
            + _tlv(ber.OCTET_STRING, user_name))
    sec_content = (head + _tlv(ber.OCTET_STRING, bytes(mac_len))
                   + _tlv(ber.OCTET_STRING, priv_params))
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
    mac = hmac.digest(keys.auth_key, message, keys.hash_name)[:mac_len]
    return message[:mac_at] + mac + message[mac_at + mac_len:]


def encode_request(user: UsmUser, keys: LocalKeys, engine: EngineState, msg_id: int,
                   pdu: bytes) -> bytes:
    """A request from ``user`` to ``engine`` carrying ``pdu`` (see :func:`encode_pdu`)."""
    scoped = _tlv(ber.SEQUENCE, _tlv(ber.OCTET_STRING, engine.engine_id)
                  + _tlv(ber.OCTET_STRING, user.context_name) + pdu)
    return encode_message(user.flags, msg_id, engine.engine_id, engine.boots, engine.now(),
                          user.name, keys, scoped)


def encode_discovery(msg_id: int) -> bytes:
    """RFC 3414 4: a noAuthNoPriv reportable GET with no varbinds, no engine ID and no
    user, which any v3 agent answers with a usmStatsUnknownEngineIDs Report carrying
    its engine ID, boots and time."""
    scoped = _tlv(ber.SEQUENCE, b"\x04\x00\x04\x00" + encode_pdu(ber.GET_REQUEST, msg_id, []))
    return encode_message(FLAG_REPORTABLE, msg_id, b"", 0, 0, b"", LocalKeys(), scoped)


# ---------------------------------------------------------------- decoding


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    t, start, stop = ber.read_tlv(data, pos, end)
    if t != tag:
        raise ber.BerError(f"expected {what} (tag 0x{tag:02x}), got tag 0x{t:02x} at offset {pos}")
    return start, stop


def _read_uint(data: bytes, pos: int, end: int, what: str, top: int) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, ber.INTEGER, what)
    if start == stop:
        raise ber.BerError(f"empty INTEGER for {what}")
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if not 0 <= value <= top:
        raise ber.BerError(f"{what} {value} out of range 0..{top}")
    return value, stop


def peek_msg_id(data: bytes) -> int:
    """msgID of a v3 message, read before any security check (to find the request)."""
    end = len(data)
    try:
        start, stop = _expect(data, 0, end, ber.SEQUENCE, "message SEQUENCE")
        version, pos = _read_uint(data, start, stop, "msgVersion", MAX_BOOTS)
        if version != VERSION_3:
            raise ber.BerError(f"msgVersion {version}, not 3")
        gstart, _ = _expect(data, pos, stop, ber.SEQUENCE, "msgGlobalData")
        msg_id, _ = _read_uint(data, gstart, stop, "msgID", MAX_BOOTS)
    except IndexError:
        raise ber.BerError("truncated message") from None
    return msg_id


class Incoming:
    """A received v3 message once authenticated (when it says so) and decrypted."""

    __slots__ = ("authenticated", "boots", "context_engine_id", "engine_id", "engine_time",
                 "flags", "msg_id", "pdu", "user_name")

    def __init__(self, msg_id: int, flags: int, engine_id: bytes, boots: int, engine_time: int,
                 user_name: bytes, context_engine_id: bytes, pdu: ber.Message) -> None:
        self.msg_id = msg_id
        self.flags = flags
        self.authenticated = bool(flags & FLAG_AUTH)
        self.engine_id = engine_id
        self.boots = boots
        self.engine_time = engine_time
        self.user_name = user_name
        self.context_engine_id = context_engine_id
        self.pdu = pdu


# A PDU is decoded by netmon.ber's v2c decoder, wrapped in a v2c header: the same
# checks apply to v2c and v3 answers.
_V2C_HEAD = ber.encode_integer(ber.VERSION_2C) + ber.encode_tlv(ber.OCTET_STRING, b"")


def _scoped_pdu(data: bytes, pos: int, end: int) -> tuple[bytes, ber.Message]:
    """(contextEngineID, PDU) of the ScopedPDU at ``pos``."""
    try:
        sstart, sstop = _expect(data, pos, end, ber.SEQUENCE, "ScopedPDU")
        cestart, cestop = _expect(data, sstart, sstop, ber.OCTET_STRING, "contextEngineID")
        _, p = _expect(data, cestop, sstop, ber.OCTET_STRING, "contextName")
        pdu_type, _, pdu_stop = ber.read_tlv(data, p, sstop)
    except IndexError:
        raise ber.BerError("truncated ScopedPDU") from None
    if pdu_stop != sstop:
        raise ber.BerError("trailing bytes after the PDU")
    if pdu_type & 0xE0 != 0xA0:
        raise ber.BerError(f"expected a PDU, got tag 0x{pdu_type:02x}")
    return data[cestart:cestop], ber.decode_message(_tlv(ber.SEQUENCE, _V2C_HEAD + data[p:sstop]))


def decode_message(data: bytes, user: UsmUser | None, engine: EngineState | None) -> Incoming:
    """Read a v3 message addressed to ``user`` from ``engine``'s agent.

    An authenticated message must come from ``engine`` and verify with the user's
    keys localised to it; an encrypted one is decrypted; an authentic Response
    must lie in the time window (its clock moves ``engine`` forward). Unauthenticated
    messages (discovery Reports, or errors the agent could not authenticate) are
    returned for the caller to judge: they prove nothing.

    Raises ``ber.BerError`` for malformed bytes, :class:`UsmError` for a failed check.
    """
    end = len(data)
    try:
        start, stop = _expect(data, 0, end, ber.SEQUENCE, "message SEQUENCE")
        if stop != end:
            raise ber.BerError(f"{end - stop} bytes after the message")
        version, pos = _read_uint(data, start, stop, "msgVersion", MAX_BOOTS)
        if version != VERSION_3:
            raise ber.BerError(f"msgVersion {version}, not 3")
        gstart, gstop = _expect(data, pos, stop, ber.SEQUENCE, "msgGlobalData")
        msg_id, p = _read_uint(data, gstart, gstop, "msgID", MAX_BOOTS)
        _, p = _read_uint(data, p, gstop, "msgMaxSize", MAX_BOOTS)
        fstart, p = _expect(data, p, gstop, ber.OCTET_STRING, "msgFlags")
        if p - fstart != 1:
            raise ber.BerError(f"msgFlags of {p - fstart} bytes")
        flags = data[fstart]
        model, p = _read_uint(data, p, gstop, "msgSecurityModel", MAX_BOOTS)
        if model != USM_SECURITY_MODEL:
            raise ber.BerError(f"security model {model}, not USM (3)")
        if flags & FLAG_PRIV and not flags & FLAG_AUTH:
            raise ber.BerError("msgFlags ask for privacy without authentication")
        sstart, pos = _expect(data, gstop, stop, ber.OCTET_STRING, "msgSecurityParameters")
        ustart, ustop = _expect(data, sstart, pos, ber.SEQUENCE, "UsmSecurityParameters")
        estart, p = _expect(data, ustart, ustop, ber.OCTET_STRING, "msgAuthoritativeEngineID")
        engine_id = data[estart:p]
        boots, p = _read_uint(data, p, ustop, "msgAuthoritativeEngineBoots", MAX_BOOTS)
        engine_time, p = _read_uint(data, p, ustop, "msgAuthoritativeEngineTime", MAX_BOOTS)
        nstart, p = _expect(data, p, ustop, ber.OCTET_STRING, "msgUserName")
        user_name = data[nstart:p]
        mac_start, mac_stop = _expect(data, p, ustop, ber.OCTET_STRING,
                                      "msgAuthenticationParameters")
        pstart, p = _expect(data, mac_stop, ustop, ber.OCTET_STRING, "msgPrivacyParameters")
        salt = data[pstart:p]
        if p != ustop:
            raise ber.BerError("trailing bytes in UsmSecurityParameters")

        if flags & FLAG_AUTH:
            if user is None or engine is None:
                raise UsmError(UNKNOWN_ENGINE_ID, "authenticated message before discovery")
            if engine_id != engine.engine_id:
                raise UsmError(UNKNOWN_ENGINE_ID,
                               f"answer from engine ID {engine_id.hex()}, expected "
                               f"{engine.engine_id.hex()}")
            if user_name != user.name:
                raise UsmError(UNKNOWN_USER_NAME, f"answer for user {user_name!r}")
            if user.auth_protocol is None:
                raise UsmError(UNSUPPORTED_SEC_LEVEL, "authenticated answer to a noAuth user")
            keys = local_keys(user, engine_id)
            if mac_stop - mac_start != keys.mac_len:
                raise UsmError(WRONG_DIGEST, f"MAC of {mac_stop - mac_start} bytes, "
                               f"{user.auth_protocol} has {keys.mac_len}")
            zeroed = data[:mac_start] + bytes(keys.mac_len) + data[mac_stop:]
            mac = hmac.digest(keys.auth_key, zeroed, keys.hash_name)[:keys.mac_len]
            if not hmac.compare_digest(mac, data[mac_start:mac_stop]):
                raise UsmError(WRONG_DIGEST, "the answer's MAC does not verify")

        if flags & FLAG_PRIV:
            if user is None or user.priv_protocol is None:
                raise UsmError(UNSUPPORTED_SEC_LEVEL, "encrypted answer to a noPriv user")
            cstart, cstop = _expect(data, pos, stop, ber.OCTET_STRING, "encryptedPDU")
            if len(salt) != 8:
                raise UsmError(DECRYPTION_ERROR, f"privacy parameters of {len(salt)} bytes")
            dec = _aes(local_keys(user, engine_id).priv_key, boots, engine_time, salt).decryptor()
            scoped = dec.update(data[cstart:cstop]) + dec.finalize()
            try:
                # CFB has no padding and no check of its own: a wrong key (or a
                # wrong variant of the AES-192/256 key extension) gives bytes
                # that are no ScopedPDU.
                context_engine_id, pdu = _scoped_pdu(scoped, 0, len(scoped))
            except ber.BerError as e:
                raise UsmError(DECRYPTION_ERROR, f"decrypted bytes are no ScopedPDU: {e}") \
                    from None
        else:
            _, cstop = _expect(data, pos, stop, ber.SEQUENCE, "ScopedPDU")
            context_engine_id, pdu = _scoped_pdu(data, pos, cstop)
        if cstop != stop:
            raise ber.BerError("trailing bytes after msgData")
    except IndexError:
        raise ber.BerError("truncated message") from None
    if pdu.pdu_type == ber.RESPONSE and user is not None \
            and user.flags & ~flags & (FLAG_AUTH | FLAG_PRIV):
        # RFC 3412 7.2 12: a Response comes at the request's security level; a
        # plaintext one to an authPriv request may be anybody's.
        raise UsmError(UNSUPPORTED_SEC_LEVEL, "answer below the request's security level")
    if flags & FLAG_AUTH and pdu.pdu_type == ber.RESPONSE:
        # Reports are the caller's: a notInTimeWindow Report is how the agent
        # tells us its clock (RFC 3414 4), it must not be refused for its clock.
        engine.check(boots, engine_time)  # type: ignore[union-attr]
    return Incoming(msg_id, flags, engine_id, boots, engine_time, user_name, context_engine_id,
                    pdu)


def report_kind(pdu: ber.Message) -> tuple[str, str]:
    """(kind, OID) of a Report PDU: a usmStats kind, another counter's name, or "report"."""
    if not pdu.varbinds:
        return "report without varbinds", ""
    oid = ber.oid_str(pdu.varbinds[0][0])
    return _USM_STATS.get(oid) or _OTHER_REPORTS.get(oid, "report"), oid
