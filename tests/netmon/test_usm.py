"""netmon.usm (the SNMPv3 fast path) differential against pysnmp as the oracle.

pysnmp runs in-process as a command responder on loopback with one USM user per
auth/priv combination netmon.usm supports: what the fast path sends must pass
pysnmp's own checks (or it answers with a Report), and what pysnmp sends back
must pass netmon.usm's checks. A loopback relay between the two records the
datagrams (to replay pysnmp-built messages into netmon.usm, changed) and can
change a request in flight (to see pysnmp refuse it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agents import free_udp_port
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto.api import v2c
from pysnmp.proto.secmod.eso.priv import aes192, aes256
from pysnmp.proto.secmod.rfc3414 import localkey

from netmon import ber, usm
from netmon.credentials import SnmpV3
from netmon.snmp import SnmpAuthError, SnmpClient

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_ENGINE = "1.3.6.1.6.3.10.2.1"  # snmpEngineID, Boots, Time, MaxMessageSize
ENGINE_ID = bytes.fromhex("8000e0f10301020304050607")
AUTH_KEY = "oracle-auth-pass"
PRIV_KEY = "oracle-priv-pass"

PYSNMP_AUTH = {
    None: config.USM_AUTH_NONE,
    "SHA": config.USM_AUTH_HMAC96_SHA,
    "SHA-224": config.USM_AUTH_HMAC128_SHA224,
    "SHA-256": config.USM_AUTH_HMAC192_SHA256,
    "SHA-384": config.USM_AUTH_HMAC256_SHA384,
    "SHA-512": config.USM_AUTH_HMAC384_SHA512,
}
# The "Reeder" AES-192/256 (pysnmp's usmAesCfb192/256Protocol): what netmon.snmp
# configured when all v3 went through pysnmp.
PYSNMP_PRIV = {
    None: config.USM_PRIV_NONE,
    "AES-128": config.USM_PRIV_CFB128_AES,
    "AES-192": config.USM_PRIV_CFB192_AES,
    "AES-256": config.USM_PRIV_CFB256_AES,
}
COMBOS = [(None, None)] + [(a, p) for a in usm.AUTH_PROTOCOLS for p in PYSNMP_PRIV]


def level(auth: str | None, priv: str | None) -> str:
    return "authPriv" if priv else "authNoPriv" if auth else "noAuthNoPriv"


def combo_id(combo: tuple[str | None, str | None]) -> str:
    return f"{combo[0] or 'noAuth'}-{combo[1] or 'noPriv'}"


def credentials(auth: str | None, priv: str | None, *, user: str = "oracle",
                auth_key: str = AUTH_KEY, priv_key: str = PRIV_KEY) -> SnmpV3:
    return SnmpV3(version="3", username=user, security_level=level(auth, priv),  # type: ignore[arg-type]
                  auth_protocol=auth, auth_key=SecretStr(auth_key) if auth else None,  # type: ignore[arg-type]
                  priv_protocol=priv, priv_key=SecretStr(priv_key) if priv else None)  # type: ignore[arg-type]


def usm_user(auth: str | None, priv: str | None, *, auth_key: str = AUTH_KEY,
             priv_key: str = PRIV_KEY) -> usm.UsmUser:
    return usm.UsmUser(b"oracle", auth, auth_key.encode() if auth else b"", priv,
                       priv_key.encode() if priv else b"")


class PysnmpAgent:
    """pysnmp 7 as a command responder on 127.0.0.1 with one user ("oracle")."""

    def __init__(self, auth: str | None, priv: str | None) -> None:
        self.port = free_udp_port()
        self.engine = engine.SnmpEngine(snmpEngineID=v2c.OctetString(ENGINE_ID))
        config.add_transport(self.engine, udp.DOMAIN_NAME,
                             udp.UdpTransport().open_server_mode(("127.0.0.1", self.port)))
        config.add_v3_user(self.engine, "oracle", PYSNMP_AUTH[auth], AUTH_KEY if auth else None,
                           PYSNMP_PRIV[priv], PRIV_KEY if priv else None)
        config.add_vacm_user(self.engine, 3, "oracle", level(auth, priv), (1, 3, 6), (1, 3, 6))
        snmp_context = context.SnmpContext(self.engine)
        cmdrsp.GetCommandResponder(self.engine, snmp_context)
        cmdrsp.BulkCommandResponder(self.engine, snmp_context)

    def close(self) -> None:
        self.engine.close_dispatcher()


class Relay(asyncio.DatagramProtocol):
    """Loopback UDP relay client <-> agent recording both directions; ``on_request``
    may change (or drop, by returning None) a request on its way to the agent."""

    def __init__(self, agent_port: int) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.requests: list[bytes] = []
        self.responses: list[bytes] = []
        self.on_request: Callable[[bytes], bytes | None] = lambda data: data
        self.client: tuple[Any, ...] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def start(self) -> Relay:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        assert self.transport is not None
        if addr[:2] == self.agent:
            self.responses.append(data)
            if self.client is not None:
                self.transport.sendto(data, self.client)
            return
        self.client = addr
        self.requests.append(data)
        changed = self.on_request(data)
        if changed is not None:
            self.transport.sendto(changed, self.agent)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@contextlib.asynccontextmanager
async def oracle(auth: str | None, priv: str | None) -> AsyncIterator[tuple[PysnmpAgent, Relay]]:
    agent = PysnmpAgent(auth, priv)
    relay = await Relay(agent.port).start()
    try:
        yield agent, relay
    finally:
        relay.close()
        agent.close()


# ---------------------------------------------------------------- keys


def test_password_to_key_rfc3414_vectors() -> None:
    # RFC 3414 A.3.2: "maplesyrup", engine ID 00..02, SHA-1.
    engine_id = bytes.fromhex("000000000000000000000002")
    ku = usm.password_to_key(b"maplesyrup", "sha1")
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert usm.localize_key(ku, engine_id, "sha1").hex() == \
        "6695febc9288e36282235fc7151f128497b38f3f"


@pytest.mark.parametrize("auth", list(usm.AUTH_PROTOCOLS))
def test_keys_match_pysnmp(auth: str) -> None:
    hash_name = usm.AUTH_PROTOCOLS[auth][0]
    engine_id = v2c.OctetString(ENGINE_ID)
    expected_auth = localkey.password_to_key(b"auth-passphrase", engine_id,
                                             getattr(hashlib, hash_name))
    assert usm.localize_key(usm.password_to_key(b"auth-passphrase", hash_name), ENGINE_ID,
                            hash_name) == bytes(expected_auth)
    for cls, size in ((aes192.Aes192, 24), (aes256.Aes256, 32)):
        # The Reeder extension runs when the digest is shorter than the AES key.
        service = cls()
        master = service.hash_passphrase(PYSNMP_AUTH[auth], b"priv-passphrase")
        expected = bytes(service.localize_key(PYSNMP_AUTH[auth], master, engine_id))
        assert usm.priv_key(b"priv-passphrase", ENGINE_ID, hash_name, size) == expected


def test_local_keys_are_cached_per_engine_id() -> None:
    user = usm_user("SHA-512", "AES-256")
    usm.local_keys.cache_clear()
    first = usm.local_keys(user, ENGINE_ID)
    assert usm.local_keys(user, ENGINE_ID) is first
    other = usm.local_keys(user, ENGINE_ID[:-1] + b"\x08")
    assert other.auth_key != first.auth_key and other.priv_key != first.priv_key
    assert usm.local_keys.cache_info().misses == 2
    assert "oracle-priv-pass" not in repr(user) and repr(first.priv_key) not in repr(first)


# ---------------------------------------------------------------- every combination, both ways


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
async def test_fast_path_and_pysnmp_agree(combo: tuple[str | None, str | None]) -> None:
    auth, priv = combo
    user = usm_user(auth, priv)
    async with oracle(auth, priv) as (_, relay), SnmpClient() as client:
        s = client.session(device="oracle", host="127.0.0.1", port=relay.port,
                           credentials=credentials(auth, priv), timeout_s=1.0, retries=0)
        r = await s.get([SYS_DESCR, SYS_UPTIME])
        table = await s.walk([SNMP_ENGINE])
        assert client._v3 is None  # pysnmp never served the manager side
    # pysnmp decoded and verified our requests: it answered with its own data.
    assert r.require(SYS_DESCR).startswith(b"PySNMP engine")  # type: ignore[union-attr]
    assert isinstance(r.require(SYS_UPTIME), int)
    assert table.columns[SNMP_ENGINE]["1.0"] == ENGINE_ID
    assert table.columns[SNMP_ENGINE]["4.0"] == 65507
    boots, now = table.columns[SNMP_ENGINE]["2.0"], table.columns[SNMP_ENGINE]["3.0"]
    assert isinstance(boots, int) and isinstance(now, int)
    # The requests after discovery went at the profile's level.
    assert len(relay.requests) >= 3
    for data in relay.requests[1:]:
        sent = usm.decode_message(data, user, usm.EngineState(ENGINE_ID, boots, now))
        assert sent.flags == user.flags and sent.pdu.pdu_type in (ber.GET_REQUEST,
                                                                   ber.GET_BULK_REQUEST)
    # And netmon.usm verified and decrypted what pysnmp built.
    assert len(relay.responses) == len(relay.requests)
    for data in relay.responses[1:]:
        incoming = usm.decode_message(data, user, usm.EngineState(ENGINE_ID, boots, now))
        assert incoming.pdu.pdu_type == ber.RESPONSE
        assert incoming.authenticated is (auth is not None)
        assert bool(incoming.flags & usm.FLAG_PRIV) is (priv is not None)
        if priv:
            assert b"PySNMP" not in data


@pytest.mark.parametrize("combo", [c for c in COMBOS if c[0]], ids=combo_id)
async def test_pysnmp_built_answers_changed_are_rejected(
        combo: tuple[str | None, str | None]) -> None:
    """A pysnmp-built Response read with a wrong key, with any one byte changed, or
    against a clock that has moved past it, is refused."""
    auth, priv = combo
    user = usm_user(auth, priv)
    async with oracle(auth, priv) as (_, relay), SnmpClient() as client:
        s = client.session(device="oracle", host="127.0.0.1", port=relay.port,
                           credentials=credentials(auth, priv), timeout_s=1.0, retries=0)
        await s.get([SYS_DESCR])
    data = relay.responses[-1]
    good = usm.decode_message(data, user, usm.EngineState(ENGINE_ID, 0, 0))
    assert good.pdu.varbinds[0][1].startswith(b"PySNMP")  # type: ignore[union-attr]
    boots, now = good.boots, good.engine_time

    def fresh() -> usm.EngineState:
        return usm.EngineState(ENGINE_ID, boots, now)

    with pytest.raises(usm.UsmError) as wrong_auth:
        usm.decode_message(data, usm_user(auth, priv, auth_key="not-the-auth-key"), fresh())
    assert wrong_auth.value.kind == usm.WRONG_DIGEST
    if priv:
        with pytest.raises(usm.UsmError) as wrong_priv:
            usm.decode_message(data, usm_user(auth, priv, priv_key="not-the-priv-key"), fresh())
        assert wrong_priv.value.kind == usm.DECRYPTION_ERROR
    # Every byte is covered by the MAC (or the structure around it).
    for i in range(len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises((usm.UsmError, ber.BerError)):
            usm.decode_message(bytes(tampered), user, fresh())
    # Stale: the agent has rebooted since, or its clock is 151 s past the answer.
    for state in (usm.EngineState(ENGINE_ID, boots + 1, 0),
                  usm.EngineState(ENGINE_ID, boots, now + usm.TIME_WINDOW_S + 1)):
        with pytest.raises(usm.UsmError) as stale:
            usm.decode_message(data, user, state)
        assert stale.value.kind == usm.NOT_IN_TIME_WINDOW
    # Within the window it still passes (the check is not over-strict).
    usm.decode_message(data, user, usm.EngineState(ENGINE_ID, boots, now + usm.TIME_WINDOW_S - 1))


@pytest.mark.parametrize("auth", list(usm.AUTH_PROTOCOLS))
async def test_pysnmp_refuses_our_requests_changed_or_keyed_wrong(auth: str) -> None:
    """pysnmp answers a changed request or a wrong auth key with a wrongDigest
    Report, and a wrong privacy key with a decryptionError one (or silence)."""
    priv = "AES-128"
    async with oracle(auth, priv) as (_, relay), SnmpClient() as client:
        def session(**keys: str) -> Any:
            return client.session(device="oracle", host="127.0.0.1", port=relay.port,
                                  credentials=credentials(auth, priv, **keys), timeout_s=0.5,
                                  retries=0)

        assert (await session().get([SYS_DESCR])).values[SYS_DESCR]
        with pytest.raises(SnmpAuthError, match=r"^oracle: SNMPv3 user 'oracle' rejected: "
                                                r"wrong digest"):
            await session(auth_key="not-the-auth-key").get([SYS_DESCR])
        with pytest.raises(SnmpAuthError, match=r"^oracle: .*(decryption error|wrong privacy)"):
            await session(priv_key="not-the-priv-key").get([SYS_DESCR])

        def flip_last_byte(data: bytes) -> bytes:
            return data[:-1] + bytes((data[-1] ^ 0x80,))

        relay.on_request = flip_last_byte
        with pytest.raises(SnmpAuthError, match=r"^oracle: .*wrong digest"):
            await session().get([SYS_DESCR])


async def test_stale_clock_resynchronises_once_with_pysnmp() -> None:
    async with oracle("SHA-256", "AES-128") as (_, relay), SnmpClient() as client:
        s = client.session(device="oracle", host="127.0.0.1", port=relay.port,
                           credentials=credentials("SHA-256", "AES-128"), timeout_s=1.0,
                           retries=0)
        await s.get([SYS_DESCR])
        state = client._usm.engines[("127.0.0.1", relay.port)]  # type: ignore[union-attr]
        # Our notion of the agent's clock runs 1,000 s ahead, then three reboots
        # ahead: the agent refuses both and one Report resynchronises each.
        for boots, engine_time in ((state.boots, state.now() + 1000),
                                   (state.boots + 3, 0)):
            real = (state.boots, state.now())
            state.set(boots, engine_time)
            sent = len(relay.requests)
            assert (await s.get([SYS_DESCR])).values[SYS_DESCR]
            assert len(relay.requests) - sent == 2  # the stale try, then one resent
            assert (state.boots, abs(state.now() - real[1]) <= 2) == (real[0], True)


# ---------------------------------------------------------------- malformed input

_USER = usm_user("SHA-256", "AES-128")
_STATE_TIME = 1_000
_PDU = ber.encode_tlv(ber.RESPONSE, ber.encode_integer(77) + b"\x02\x01\x00\x02\x01\x00"
                      + ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(
                          ber.SEQUENCE, ber.encode_oid(SYS_DESCR)
                          + ber.encode_tlv(ber.OCTET_STRING, b"x" * 60))))
GOOD_V3 = usm.encode_message(
    usm.FLAG_AUTH | usm.FLAG_PRIV, 77, ENGINE_ID, 5, _STATE_TIME, b"oracle",
    usm.local_keys(_USER, ENGINE_ID),
    ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OCTET_STRING, ENGINE_ID) + b"\x04\x00" + _PDU))


def test_good_v3_message_decodes() -> None:
    incoming = usm.decode_message(GOOD_V3, _USER, usm.EngineState(ENGINE_ID, 5, _STATE_TIME))
    assert incoming.pdu.varbinds == [(ber.encode_oid_content(SYS_DESCR), b"x" * 60)]
    assert usm.peek_msg_id(GOOD_V3) == 77


@pytest.mark.parametrize("cut", range(0, len(GOOD_V3), 9))
def test_truncated_v3_message_is_rejected(cut: int) -> None:
    with pytest.raises((ber.BerError, usm.UsmError)):
        usm.decode_message(GOOD_V3[:cut], _USER, usm.EngineState(ENGINE_ID, 5, _STATE_TIME))


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_ber_or_usm_errors(data: bytes) -> None:
    for user, state in ((None, None), (_USER, usm.EngineState(ENGINE_ID, 5, _STATE_TIME))):
        with contextlib.suppress(ber.BerError, usm.UsmError):
            usm.decode_message(data, user, state)
    with contextlib.suppress(ber.BerError):
        usm.peek_msg_id(data)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(GOOD_V3) - 1), st.integers(0, 255)), min_size=1,
                max_size=4))
def test_corrupted_v3_messages_raise_only_ber_or_usm_errors(
        flips: list[tuple[int, int]]) -> None:
    data = bytearray(GOOD_V3)
    for pos, byte in flips:
        data[pos] = byte
    try:
        usm.decode_message(bytes(data), _USER, usm.EngineState(ENGINE_ID, 5, _STATE_TIME))
    except (ber.BerError, usm.UsmError):
        return
    assert bytes(data) == GOOD_V3  # a change that passes must be no change


def header_fields(header: usm.Header) -> tuple[object, ...]:
    return tuple(getattr(header, name) for name in usm.Header.__slots__)


def read_both_ways(data: bytes) -> tuple[object, object]:
    """The header as the common-layout reader and as the general reader see it."""
    out: list[object] = []
    for common in (True, False):
        header = usm.Header.__new__(usm.Header)
        try:
            if common:
                if not header._read_common(data, len(data)):
                    out.append("not common")
                    continue
            else:
                header._read(data, len(data))
            out.append(header_fields(header))
        except (ber.BerError, IndexError) as e:
            out.append(type(e))
    return out[0], out[1]


def test_header_readers_agree_on_a_good_message() -> None:
    common, general = read_both_ways(GOOD_V3)
    assert common == general != "not common"


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), min_size=1, max_size=3))
def test_header_readers_agree_on_corrupted_headers(flips: list[tuple[int, int]]) -> None:
    # The common-layout reader may decline a message (the general one then reads
    # it), but what it accepts it must read exactly as the general reader does.
    data = bytearray(GOOD_V3)
    for pos, byte in flips:
        data[pos] = byte
    common, general = read_both_ways(bytes(data))
    assert common is IndexError or common == "not common" or common == general
