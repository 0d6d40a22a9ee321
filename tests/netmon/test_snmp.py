"""SNMP transport against real agents: snmpsim recordings, Net-SNMP snmpd (v3), and tiny
loopback UDP servers for the misbehaviours no real agent does on demand."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from agents import (
    SIM_V3_USERS,
    SimV3User,
    Snmpd,
    SnmpSim,
    free_udp_port,
    read_snmprec,
    snmprec_octets,
)
from pydantic import SecretStr

from netmon import ber, usm
from netmon.credentials import SnmpV2c, SnmpV3
from netmon.snmp import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    NoSuch,
    SnmpAuthError,
    SnmpClient,
    SnmpError,
    SnmpErrorStatus,
    SnmpMalformed,
    SnmpNoSuchObject,
    SnmpTimeout,
    SnmpTooBig,
)

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
CORPUS = ["vrp_ne", "iosxe_asr920", "akcp_serverprobe8", "abbups_abbups"]


def v2c(community: str) -> SnmpV2c:
    return SnmpV2c(version="2c", community=SecretStr(community))


def v3(agent: Snmpd, **changes: object) -> SnmpV3:
    cred = SnmpV3(version="3", username=agent.user, security_level="authPriv",
                  auth_protocol="SHA-256", auth_key=SecretStr(agent.auth_key),
                  priv_protocol="AES-128", priv_key=SecretStr(agent.priv_key))
    return cred.model_copy(update=changes)


def expected_column(path: Path, column: str) -> dict[str, bytes]:
    """What a recording says a string column holds: {index: bytes}."""
    out = {}
    for oid, (tag, value) in read_snmprec(path).items():
        if oid.startswith(column + "."):
            out[oid[len(column) + 1:]] = snmprec_octets(tag, value)
    return out


# ---------------------------------------------------------------- v2c, recordings


@pytest.mark.parametrize("name", CORPUS)
async def test_walk_corpus_interface_names(snmpsim_corpus: SnmpSim, corpus_dir: Path,
                                           name: str) -> None:
    async with SnmpClient() as client:
        s = client.session(device=name, host="127.0.0.1", port=snmpsim_corpus.port,
                           credentials=v2c(name), max_repetitions=10)
        before = time.time()
        table = await s.walk([IF_DESCR, IF_NAME], scalars=[SYS_UPTIME])
    path = corpus_dir / f"{name}.snmprec"
    assert table.columns[IF_DESCR] == expected_column(path, IF_DESCR)
    assert table.columns[IF_NAME] == expected_column(path, IF_NAME)
    assert before <= table.ts <= time.time()
    uptime = read_snmprec(path).get(SYS_UPTIME)
    if uptime is None:
        assert isinstance(table.scalars[SYS_UPTIME], NoSuch)
    else:
        assert table.scalars[SYS_UPTIME] == int(uptime[1])


@pytest.mark.parametrize("user", SIM_V3_USERS, ids=lambda u: u.name)
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_v3_walk_corpus_on_snmpsim(snmpsim_corpus: SnmpSim, corpus_dir: Path,
                                         user: SimV3User, host: str) -> None:
    # snmpsim (pysnmp as the agent) picks the recording by the v3 context name.
    creds = SnmpV3(version="3", username=user.name, auth_protocol=user.auth_protocol,  # type: ignore[arg-type]
                   auth_key=SecretStr(user.auth_key), priv_protocol=user.priv_protocol,  # type: ignore[arg-type]
                   priv_key=SecretStr(user.priv_key), context_name="vrp_ne")
    async with SnmpClient() as client:
        s = client.session(device="ne40", host=host, port=snmpsim_corpus.port,
                           credentials=creds, max_repetitions=10)
        table = await s.walk([IF_DESCR, IF_NAME], scalars=[SYS_UPTIME])
        assert client._v3 is None
    path = corpus_dir / "vrp_ne.snmprec"
    assert table.columns[IF_DESCR] == expected_column(path, IF_DESCR)
    assert table.columns[IF_NAME] == expected_column(path, IF_NAME)
    assert table.scalars[SYS_UPTIME] == int(read_snmprec(path)[SYS_UPTIME][1])


async def test_walk_column_the_agent_lacks_is_empty(snmpsim_corpus: SnmpSim) -> None:
    async with SnmpClient() as client:
        s = client.session(device="ups", host="127.0.0.1", port=snmpsim_corpus.port,
                           credentials=v2c("abbups_abbups"))
        table = await s.walk(["1.3.6.1.2.1.31.1.1.1.18", "1.3.6.1.4.1.99999.1"])
    assert table.columns == {"1.3.6.1.2.1.31.1.1.1.18": {}, "1.3.6.1.4.1.99999.1": {}}


async def test_get_scalars_with_nosuch_sentinels(snmpsim_corpus: SnmpSim,
                                                 corpus_dir: Path) -> None:
    rec = read_snmprec(corpus_dir / "vrp_ne.snmprec")
    async with SnmpClient() as client:
        s = client.session(device="ne40-hni", host="127.0.0.1", port=snmpsim_corpus.port,
                           credentials=v2c("vrp_ne"))
        r = await s.get([SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, "1.3.6.1.2.1.1.1.7",
                         "1.3.6.1.4.1.99999.1.0"])
    assert r.values[SYS_DESCR] == rec[SYS_DESCR][1].encode()
    assert r.values[SYS_OBJECT_ID] == rec[SYS_OBJECT_ID][1]
    assert r.require(SYS_UPTIME) == int(rec[SYS_UPTIME][1])
    missing = r.values["1.3.6.1.2.1.1.1.7"]
    assert missing in (NO_SUCH_INSTANCE, NO_SUCH_OBJECT)
    assert isinstance(r.values["1.3.6.1.4.1.99999.1.0"], NoSuch)
    with pytest.raises(SnmpNoSuchObject, match=r"^ne40-hni: 1\.3\.6\.1\.2\.1\.1\.1\.7: noSuch"):
        r.require("1.3.6.1.2.1.1.1.7")


async def test_get_more_than_one_pdu_of_oids(snmpsim_corpus: SnmpSim, corpus_dir: Path) -> None:
    expected = expected_column(corpus_dir / "vrp_ne.snmprec", IF_DESCR)
    oids = [f"{IF_DESCR}.{i}" for i in expected]
    assert len(oids) > 32
    async with SnmpClient() as client:
        s = client.session(device="ne", host="127.0.0.1", port=snmpsim_corpus.port,
                           credentials=v2c("vrp_ne"))
        r = await s.get(oids)
    assert {o.removeprefix(IF_DESCR + "."): v for o, v in r.values.items()} == expected


async def test_v2c_over_ipv6(snmpsim_corpus: SnmpSim, corpus_dir: Path) -> None:
    async with SnmpClient() as client:
        s = client.session(device="asr920", host="::1", port=snmpsim_corpus.port,
                           credentials=v2c("iosxe_asr920"))
        table = await s.walk([IF_NAME], scalars=[SYS_DESCR, f"{IF_DESCR}.1"])
        r = await s.get([SYS_DESCR])
    assert table.columns[IF_NAME] == expected_column(corpus_dir / "iosxe_asr920.snmprec",
                                                     IF_NAME)
    # A scalar not ending in .0 is fetched with a GET beside the GETBULK.
    assert table.scalars == {SYS_DESCR: r.values[SYS_DESCR],
                             f"{IF_DESCR}.1": b"GigabitEthernet0/0/0"}
    assert isinstance(r.values[SYS_DESCR], bytes)


async def test_hostname_is_resolved(snmpsim_corpus: SnmpSim) -> None:
    async with SnmpClient() as client:
        s = client.session(device="ne", host="localhost", port=snmpsim_corpus.port,
                           credentials=v2c("vrp_ne"))
        assert isinstance((await s.get([SYS_DESCR])).values[SYS_DESCR], bytes)


async def test_walk_against_agent_truncating_responses(snmpsim_factory: Callable[..., SnmpSim],
                                                       corpus_dir: Path) -> None:
    """An agent capping varbinds per answer returns partial rows: the walk still completes."""
    sim = snmpsim_factory({"ne": corpus_dir / "vrp_ne.snmprec"}, max_var_binds=5)
    async with SnmpClient() as client:
        s = client.session(device="ne", host="127.0.0.1", port=sim.port, credentials=v2c("ne"),
                           max_repetitions=25)
        table = await s.walk([IF_DESCR, IF_NAME, IF_HC_IN], scalars=[SYS_UPTIME])
    path = corpus_dir / "vrp_ne.snmprec"
    assert table.columns[IF_DESCR] == expected_column(path, IF_DESCR)
    assert table.columns[IF_NAME] == expected_column(path, IF_NAME)
    assert len(table.columns[IF_HC_IN]) == len(table.columns[IF_NAME])


# ---------------------------------------------------------------- value types


VALUES = [
    ("1.3.6.1.4.1.55555.1.1.0", "70", str(2**64 - 1), 2**64 - 1),
    ("1.3.6.1.4.1.55555.1.2.0", "70", str(2**63), 2**63),
    ("1.3.6.1.4.1.55555.1.3.0", "70", str(2**64 - 2), 2**64 - 2),
    ("1.3.6.1.4.1.55555.1.4.0", "65", str(2**32 - 1), 2**32 - 1),
    ("1.3.6.1.4.1.55555.1.5.0", "66", str(2**31), 2**31),
    ("1.3.6.1.4.1.55555.1.6.0", "67", "4294967295", 4294967295),
    ("1.3.6.1.4.1.55555.1.7.0", "2", "-2147483648", -2147483648),
    ("1.3.6.1.4.1.55555.1.8.0", "2", "-1", -1),
    ("1.3.6.1.4.1.55555.1.9.0", "4", "", b""),
    ("1.3.6.1.4.1.55555.1.10.0", "4x", "00ff80", b"\x00\xff\x80"),
    ("1.3.6.1.4.1.55555.1.11.0", "64", "10.20.30.255", "10.20.30.255"),
    ("1.3.6.1.4.1.55555.1.12.0", "6", "1.3.6.1.4.1.2011.2.62.30", "1.3.6.1.4.1.2011.2.62.30"),
    ("1.3.6.1.4.1.55555.1.13.0", "6", "2.999.16384.268435456", "2.999.16384.268435456"),
    ("1.3.6.1.4.1.55555.1.14.0", "4", "x" * 300, b"x" * 300),
]


async def test_value_types_round_trip(snmpsim_factory: Callable[..., SnmpSim]) -> None:
    sim = snmpsim_factory({"types": [(oid, tag, raw) for oid, tag, raw, _ in VALUES]})
    async with SnmpClient() as client:
        s = client.session(device="types", host="127.0.0.1", port=sim.port,
                           credentials=v2c("types"))
        r = await s.get([oid for oid, *_ in VALUES])
        table = await s.walk(["1.3.6.1.4.1.55555.1"])
    for oid, tag, _, expected in VALUES:
        assert r.values[oid] == expected, (oid, tag)
        assert table.columns["1.3.6.1.4.1.55555.1"][oid.removeprefix("1.3.6.1.4.1.55555.1.")] \
            == expected


async def test_counter64_variation_grows(snmpsim_factory: Callable[..., SnmpSim]) -> None:
    """numeric variation: the counter grows at ``rate`` per second from ``initial``."""
    oid = "1.3.6.1.2.1.31.1.1.1.6.1"
    sim = snmpsim_factory({"rate": [(oid, "70:numeric", "rate=1000000,initial=1000")]})
    async with SnmpClient() as client:
        s = client.session(device="rate", host="127.0.0.1", port=sim.port,
                           credentials=v2c("rate"))
        first = await s.get([oid])
        await asyncio.sleep(0.3)
        second = await s.get([oid])
    delta = second.require(oid) - first.require(oid)  # type: ignore[operator]
    assert 0.1 * 1e6 < delta / (second.ts - first.ts) < 10 * 1e6


# ---------------------------------------------------------------- failures


async def test_wrong_community_is_a_quick_timeout(snmpsim_corpus: SnmpSim) -> None:
    async with SnmpClient() as client:
        s = client.session(device="core-1", host="127.0.0.1", port=snmpsim_corpus.port,
                           credentials=v2c("not-the-community"), timeout_s=0.3, retries=0)
        start = time.monotonic()
        with pytest.raises(SnmpTimeout) as info:
            await s.get([SYS_DESCR])
    assert time.monotonic() - start < 1.0
    assert str(info.value).startswith("core-1: ")
    assert "wrong community" in info.value.reason
    assert info.value.device == "core-1"


async def test_nothing_listening_is_a_timeout() -> None:
    port = free_udp_port()
    async with SnmpClient() as client:
        s = client.session(device="gone", host="127.0.0.1", port=port,
                           credentials=v2c("public"), timeout_s=0.2, retries=1)
        with pytest.raises(SnmpTimeout, match=r"^gone: no response"):
            await s.get([SYS_DESCR])
        with pytest.raises(SnmpTimeout):
            await s.walk([IF_DESCR])


async def test_deadline_bounds_the_whole_device() -> None:
    port = free_udp_port()
    async with SnmpClient() as client:
        s = client.session(device="slow", host="127.0.0.1", port=port, credentials=v2c("x"),
                           timeout_s=5.0, retries=3, deadline_s=0.2)
        start = time.monotonic()
        with pytest.raises(SnmpTimeout, match=r"^slow: device deadline of 0\.2s exceeded"):
            async with s.deadline():
                await s.get([SYS_DESCR])
        assert time.monotonic() - start < 1.0
        # No deadline configured: the context manager does nothing.
        s2 = client.session(device="x", host="127.0.0.1", port=port, credentials=v2c("x"))
        async with s2.deadline():
            pass


# ---------------------------------------------------------------- misbehaving agents

Handler = Callable[[ber.Message], "bytes | list[bytes] | None"]


class FakeAgent(asyncio.DatagramProtocol):
    """A loopback UDP server whose answers a test scripts, for what real agents won't do."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[ber.Message] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = ber.decode_message(data)
        self.requests.append(msg)
        answer = self.handler(msg)
        assert self.transport is not None
        for packet in [answer] if isinstance(answer, bytes) else answer or []:
            self.transport.sendto(packet, addr)


async def fake_agent(handler: Handler) -> tuple[FakeAgent, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: FakeAgent(handler), local_addr=("127.0.0.1", 0))
    return proto, transport.get_extra_info("sockname")[1]


def table_rows(column: str, n: int) -> list[tuple[str, int, object]]:
    return [(f"{column}.{i}", ber.COUNTER32, i * 10) for i in range(1, n + 1)]


def bulk_answer(msg: ber.Message, rows: list[tuple[str, int, object]]) -> bytes:
    """GETBULK over one column held in ``rows`` (sorted), honouring max-repetitions."""
    start = ber.oid_str(msg.varbinds[0][0])
    key = lambda o: tuple(map(int, o.split(".")))  # noqa: E731
    after = [r for r in rows if key(r[0]) > key(start)][: msg.error_index]
    if not after:
        after = [(start, ber.END_OF_MIB_VIEW_TAG, None)]
    return ber.encode_response(msg.community, msg.request_id, after)


async def test_too_big_halves_max_repetitions() -> None:
    column = "1.3.6.1.2.1.2.2.1.10"
    rows = table_rows(column, 40)

    def handler(msg: ber.Message) -> bytes:
        if msg.error_index > 5:  # max-repetitions above 5 does not fit "our MTU"
            return ber.encode_response(msg.community, msg.request_id, [], error_status=1)
        return bulk_answer(msg, rows)

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="tb", host="127.0.0.1", port=port, credentials=v2c("c"),
                           max_repetitions=40, timeout_s=0.5)
        table = await s.walk([column])
    assert table.columns[column] == {str(i): i * 10 for i in range(1, 41)}
    assert [m.error_index for m in agent.requests[:4]] == [40, 20, 10, 5]
    agent.transport.close()  # type: ignore[union-attr]


async def test_too_big_at_one_repetition_and_one_oid() -> None:
    def handler(msg: ber.Message) -> bytes:
        return ber.encode_response(msg.community, msg.request_id, [], error_status=1)

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="tb1", host="127.0.0.1", port=port, credentials=v2c("c"),
                           max_repetitions=4, timeout_s=0.5)
        with pytest.raises(SnmpTooBig, match=r"^tb1: tooBig even with max-repetitions 1"):
            await s.walk([IF_DESCR])
        assert [m.error_index for m in agent.requests] == [4, 2, 1]
        agent.requests.clear()
        with pytest.raises(SnmpTooBig, match="single OID"):
            await s.get([SYS_DESCR, SYS_UPTIME, SYS_OBJECT_ID])
        # 3 OIDs -> 1 + 2 -> the single one fails first.
        assert [len(m.varbinds) for m in agent.requests][:2] == [3, 1]
    agent.transport.close()  # type: ignore[union-attr]


async def test_get_splits_on_too_big() -> None:
    def handler(msg: ber.Message) -> bytes:
        if len(msg.varbinds) > 2:
            return ber.encode_response(msg.community, msg.request_id, [], error_status=1)
        return ber.encode_response(msg.community, msg.request_id,
                                   [(ber.oid_str(o), ber.INTEGER, 7) for o, _ in msg.varbinds])

    agent, port = await fake_agent(handler)
    oids = [f"1.3.6.1.4.1.1.{i}.0" for i in range(7)]
    async with SnmpClient() as client:
        s = client.session(device="split", host="127.0.0.1", port=port, credentials=v2c("c"))
        r = await s.get(oids)
    assert r.values == dict.fromkeys(oids, 7)
    agent.transport.close()  # type: ignore[union-attr]


async def test_error_status_names_status_and_oid() -> None:
    def handler(msg: ber.Message) -> bytes:
        # error-index is 1-based: 2 points at the second varbind.
        vbs = [(ber.oid_str(o), ber.NULL, None) for o, _ in msg.varbinds]
        return ber.encode_response(msg.community, msg.request_id, vbs, error_status=6,
                                   error_index=2)

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="acl", host="127.0.0.1", port=port, credentials=v2c("c"))
        with pytest.raises(SnmpErrorStatus, match=f"^acl: noAccess at {SYS_UPTIME}$"):
            await s.get([SYS_DESCR, SYS_UPTIME])
    agent.transport.close()  # type: ignore[union-attr]


async def test_garbage_answer_is_malformed() -> None:
    """Choice: garbage does not fail the request at once (it may be stray); if no valid
    answer follows before the timeout, the error is SnmpMalformed, not a bare timeout."""
    agent, port = await fake_agent(lambda msg: b"\x30\x82\xff\xffgarbage")
    async with SnmpClient() as client:
        s = client.session(device="junk", host="127.0.0.1", port=port, credentials=v2c("c"),
                           timeout_s=0.2, retries=0)
        with pytest.raises(SnmpMalformed, match=r"^junk: undecodable answer"):
            await s.get([SYS_DESCR])
    agent.transport.close()  # type: ignore[union-attr]


async def test_garbage_then_valid_answer_succeeds() -> None:
    def handler(msg: ber.Message) -> list[bytes]:
        good = ber.encode_response(msg.community, msg.request_id, [(SYS_DESCR, ber.INTEGER, 1)])
        return [good[:-3], good]

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="ok", host="127.0.0.1", port=port, credentials=v2c("c"))
        assert (await s.get([SYS_DESCR])).values == {SYS_DESCR: 1}
    agent.transport.close()  # type: ignore[union-attr]


async def test_wrong_request_id_is_ignored_and_wrong_pdu_is_malformed() -> None:
    def wrong_id(msg: ber.Message) -> bytes:
        return ber.encode_response(msg.community, msg.request_id + 1000,
                                   [(SYS_DESCR, ber.INTEGER, 1)])

    def wrong_pdu(msg: ber.Message) -> bytes:
        return ber.encode_response(msg.community, msg.request_id, [(SYS_DESCR, ber.NULL, None)],
                                   pdu_type=ber.GET_REQUEST)

    a1, p1 = await fake_agent(wrong_id)
    a2, p2 = await fake_agent(wrong_pdu)
    async with SnmpClient() as client:
        s1 = client.session(device="id", host="127.0.0.1", port=p1, credentials=v2c("c"),
                            timeout_s=0.2, retries=0)
        with pytest.raises(SnmpTimeout):
            await s1.get([SYS_DESCR])
        s2 = client.session(device="pdu", host="127.0.0.1", port=p2, credentials=v2c("c"))
        with pytest.raises(SnmpMalformed, match=r"^pdu: unexpected PDU type 0xa0"):
            await s2.get([SYS_DESCR])
    a1.transport.close()  # type: ignore[union-attr]
    a2.transport.close()  # type: ignore[union-attr]


async def test_late_answer_to_an_earlier_try_is_accepted() -> None:
    """Each retry uses a new request-id, yet an answer to the first try still counts."""
    loop = asyncio.get_running_loop()
    holder: list[FakeAgent] = []

    def handler(msg: ber.Message) -> None:
        if len(holder[0].requests) == 1:  # answer only the first try, and late
            packet = ber.encode_response(msg.community, msg.request_id,
                                         [(SYS_DESCR, ber.INTEGER, 42)])
            addr = ("127.0.0.1", client_port[0])
            loop.call_later(0.3, holder[0].transport.sendto, packet, addr)  # type: ignore[union-attr]
        return None

    client_port: list[int] = []
    agent, port = await fake_agent(handler)
    holder.append(agent)
    async with SnmpClient() as client:
        s = client.session(device="late", host="127.0.0.1", port=port, credentials=v2c("c"),
                           timeout_s=0.2, retries=2)
        transport = await client._transport(socket.AF_INET)
        client_port.append(transport.get_extra_info("sockname")[1])
        r = await s.get([SYS_DESCR])
    assert r.values == {SYS_DESCR: 42}
    ids = [m.request_id for m in agent.requests]
    assert len(ids) == 2 and ids[0] != ids[1]
    agent.transport.close()  # type: ignore[union-attr]


async def test_walk_stops_a_column_whose_oids_do_not_increase() -> None:
    column = "1.3.6.1.2.1.2.2.1.2"

    def handler(msg: ber.Message) -> bytes:
        # Rows 1, 2, then the agent loops back to row 1.
        vbs = [(f"{column}.1", ber.OCTET_STRING, b"a"), (f"{column}.2", ber.OCTET_STRING, b"b"),
               (f"{column}.1", ber.OCTET_STRING, b"a")]
        return ber.encode_response(msg.community, msg.request_id, vbs)

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="loop", host="127.0.0.1", port=port, credentials=v2c("c"))
        table = await s.walk([column])
    assert table.columns[column] == {"1": b"a", "2": b"b"}
    assert len(agent.requests) == 1
    agent.transport.close()  # type: ignore[union-attr]


async def test_walk_end_of_mib_view_stops_column() -> None:
    column = "1.3.6.1.9.9"

    def handler(msg: ber.Message) -> bytes:
        vbs = [(f"{column}.5", ber.GAUGE32, 5), (f"{column}.5", ber.END_OF_MIB_VIEW_TAG, None)]
        return ber.encode_response(msg.community, msg.request_id, vbs)

    agent, port = await fake_agent(handler)
    async with SnmpClient() as client:
        s = client.session(device="end", host="127.0.0.1", port=port, credentials=v2c("c"))
        table = await s.walk([column])
    assert table.columns[column] == {"5": 5}
    assert END_OF_MIB_VIEW.name == "endOfMibView"
    agent.transport.close()  # type: ignore[union-attr]


# ---------------------------------------------------------------- SNMPv3 through Net-SNMP


async def test_v3_auth_priv_get_and_walk(snmpd_v3: Snmpd) -> None:
    async with SnmpClient() as client:
        s = client.session(device="snmpd-v3", host=snmpd_v3.host, port=snmpd_v3.port,
                           credentials=v3(snmpd_v3), timeout_s=1.0)
        r = await s.get([SYS_DESCR, SYS_UPTIME, "1.3.6.1.2.1.1.99.0"])
        table = await s.walk([IF_DESCR, "1.3.6.1.2.1.2.2.1.10"], scalars=[SYS_UPTIME])
    assert r.values[SYS_DESCR] == b"netmon test agent"
    assert isinstance(r.require(SYS_UPTIME), int)
    assert isinstance(r.values["1.3.6.1.2.1.1.99.0"], NoSuch)
    names = table.columns[IF_DESCR]
    assert b"lo" in names.values()
    assert set(table.columns["1.3.6.1.2.1.2.2.1.10"]) == set(names)
    assert isinstance(table.scalars[SYS_UPTIME], int)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "pysnmp"])
@pytest.mark.parametrize(
    ("change", "error", "reason"),
    [
        ({"auth_key": SecretStr("not-the-auth-key")}, SnmpAuthError, "rejected"),
        ({"auth_protocol": "SHA-512"}, SnmpAuthError, "rejected"),
        ({"username": "intruder"}, SnmpAuthError, "rejected"),
        # Net-SNMP silently drops what it cannot decrypt; the agent still answers
        # an unauthenticated probe, so the silence is named for what it is.
        ({"priv_key": SecretStr("not-the-priv-key")}, SnmpAuthError, "wrong privacy key"),
    ],
    ids=["wrong-auth-key", "wrong-auth-protocol", "unknown-user", "wrong-priv-key"],
)
async def test_v3_wrong_credentials(snmpd_v3: Snmpd, change: dict[str, object],
                                    error: type[SnmpError], reason: str,
                                    fast_path: bool) -> None:
    """The fast path names a wrong key as the pysnmp path does."""
    async with SnmpClient(v3_fast_path=fast_path) as client:
        s = client.session(device="snmpd-v3", host=snmpd_v3.host, port=snmpd_v3.port,
                           credentials=v3(snmpd_v3, **change), timeout_s=0.5, retries=0)
        with pytest.raises(error, match=f"^snmpd-v3: .*{reason}"):
            await s.get([SYS_DESCR])


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("user", ["netmon-sha1", "netmon", "netmon-sha512"],
                         ids=["SHA-AES-128", "SHA-256-AES-128", "SHA-512-AES-128"])
async def test_v3_fast_path_users_on_both_families(snmpd_v3: Snmpd, user: str,
                                                   host: str) -> None:
    if user == snmpd_v3.user:
        auth_protocol, auth_key = "SHA-256", snmpd_v3.auth_key
    else:
        (extra,) = [u for u in snmpd_v3.users if u.name == user]
        auth_protocol, auth_key = extra.auth_protocol, extra.auth_key
    creds = v3(snmpd_v3, username=user, auth_protocol=auth_protocol,
               auth_key=SecretStr(auth_key))
    async with SnmpClient() as client:
        s = client.session(device="snmpd-v3", host=host, port=snmpd_v3.port,
                           credentials=creds, timeout_s=1.0)
        r = await s.get([SYS_DESCR, SYS_UPTIME])
        table = await s.walk([IF_DESCR], scalars=[SYS_UPTIME])
        assert client._v3 is None  # no pysnmp engine was needed
    assert r.values[SYS_DESCR] == b"netmon test agent"
    assert b"lo" in table.columns[IF_DESCR].values()
    assert table.scalars[SYS_UPTIME] >= r.require(SYS_UPTIME)  # type: ignore[operator]


async def test_v3_agent_restart_is_followed_without_error() -> None:
    """snmpd restarts (same engine ID, engineBoots + 1, engineTime from 0): the next
    request is refused as notInTimeWindow, resynchronised once, and answered."""
    with Snmpd() as agent:
        async with SnmpClient() as client:
            s = client.session(device="snmpd-v3", host="127.0.0.1", port=agent.port,
                               credentials=v3(agent), timeout_s=1.0, retries=0)
            before = await s.get([SYS_UPTIME, "1.3.6.1.6.3.10.2.1.2.0"])
            engine = client._usm.engines[("127.0.0.1", agent.port)]  # type: ignore[union-attr]
            engine_id, boots = engine.engine_id, engine.boots
            agent.restart()
            after = await s.get([SYS_UPTIME, "1.3.6.1.6.3.10.2.1.2.0"])
            again = await s.walk([IF_DESCR])
    assert after.values["1.3.6.1.6.3.10.2.1.2.0"] == before.values["1.3.6.1.6.3.10.2.1.2.0"] + 1
    assert engine.engine_id == engine_id and engine.boots == boots + 1
    assert client._usm is not None and client._usm.engines[("127.0.0.1", agent.port)] is engine
    assert b"lo" in again.columns[IF_DESCR].values()


async def test_v3_agent_with_a_new_engine_id_is_rediscovered() -> None:
    """snmpd loses its persistent state (a new engine ID): the Report naming our old
    engine ID leads to one discovery, and the poll goes on."""
    with Snmpd() as agent:
        async with SnmpClient() as client:
            s = client.session(device="snmpd-v3", host="::1", port=agent.port,
                               credentials=v3(agent), timeout_s=1.0, retries=0)
            await s.get([SYS_UPTIME])
            old = client._usm.engines[("::1", agent.port)].engine_id  # type: ignore[union-attr]
            agent.stop()
            shutil.rmtree(agent.persistent_dir)
            agent.persistent_dir.mkdir()
            agent.start()
            r = await s.get([SYS_DESCR])
            new = client._usm.engines[("::1", agent.port)].engine_id  # type: ignore[union-attr]
    assert r.values[SYS_DESCR] == b"netmon test agent"
    assert new != old


async def test_v3_auth_priv_to_a_silent_port_is_a_timeout(snmpd_v3: Snmpd) -> None:
    # The reachability probe gets no answer either: this is not blamed on the keys.
    silent = free_udp_port(ipv6=True)
    async with SnmpClient() as client:
        s = client.session(device="nobody-home", host="::1", port=silent,
                           credentials=v3(snmpd_v3), timeout_s=0.3, retries=0)
        with pytest.raises(SnmpTimeout, match=r"^nobody-home: no response"):
            await s.get([SYS_DESCR])


# ---------------------------------------------------------------- misbehaving v3 agents


class FakeV3Agent(asyncio.DatagramProtocol):
    """A loopback v3 agent built on netmon.usm: answers discovery, then hands each
    authenticated request to ``handler(request, keys) -> bytes | None``."""

    ENGINE_ID = bytes.fromhex("80001f8803deadbeef")

    def __init__(self, user: usm.UsmUser, handler: Callable[..., bytes | None]) -> None:
        self.user = user
        self.handler = handler
        self.keys = usm.local_keys(user, self.ENGINE_ID)
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def report(self, msg_id: int, oid: str, flags: int, boots: int, engine_time: int) -> bytes:
        pdu = ber.encode_response(b"", 0, [(oid, ber.COUNTER32, 1)], pdu_type=ber.REPORT)
        pdu = pdu[pdu.index(bytes((ber.REPORT,))):]  # the PDU alone, without v2c header
        scoped = ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OCTET_STRING, self.ENGINE_ID)
                                + b"\x04\x00" + pdu)
        return usm.encode_message(flags, msg_id, self.ENGINE_ID, boots, engine_time,
                                  self.user.name if flags else b"", self.keys, scoped)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        msg_id = usm.peek_msg_id(data)
        try:  # discovery is the one plaintext request
            discovery = not usm.decode_message(data, None, None).engine_id
        except usm.UsmError:
            discovery = False
        if discovery:
            answer: bytes | None = self.report(msg_id, "1.3.6.1.6.3.15.1.1.4.0", 0, 7, 5000)
        else:
            self.requests += 1
            answer = self.handler(self, msg_id)
        if answer is not None:
            self.transport.sendto(answer, addr)


async def fake_v3_agent(handler: Callable[..., bytes | None]) -> tuple[FakeV3Agent, int]:
    user = usm.UsmUser(b"netmon", "SHA-256", b"netmon-auth-pass", "AES-128",
                       b"netmon-priv-pass")
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: FakeV3Agent(user, handler), local_addr=("127.0.0.1", 0))
    return proto, transport.get_extra_info("sockname")[1]


def fake_v3_creds() -> SnmpV3:
    return SnmpV3(version="3", username="netmon", auth_protocol="SHA-256",
                  auth_key=SecretStr("netmon-auth-pass"), priv_protocol="AES-128",
                  priv_key=SecretStr("netmon-priv-pass"))


async def test_v3_not_in_time_window_after_one_resync_is_an_auth_error() -> None:
    # An agent whose clock stays out of reach: one resynchronisation, then the error.
    agent, port = await fake_v3_agent(
        lambda agent, msg_id: agent.report(msg_id, "1.3.6.1.6.3.15.1.1.2.0", usm.FLAG_AUTH,
                                           7, 5000))
    async with SnmpClient() as client:
        s = client.session(device="drifting", host="127.0.0.1", port=port,
                           credentials=fake_v3_creds(), timeout_s=0.5, retries=0)
        with pytest.raises(SnmpAuthError,
                           match=r"^drifting: SNMPv3 user 'netmon' rejected: not in time window"):
            await s.get([SYS_DESCR])
    assert agent.requests == 2


@pytest.mark.parametrize(
    ("oid", "reason"),
    [("1.3.6.1.6.3.15.1.1.3.0", "unknown user name"),
     ("1.3.6.1.6.3.15.1.1.5.0", "wrong digest"),
     ("1.3.6.1.6.3.15.1.1.6.0", "decryption error"),
     ("1.3.6.1.6.3.15.1.1.1.0", "unsupported security level")],
)
async def test_v3_reports_name_the_device_and_the_reason(oid: str, reason: str) -> None:
    # These Reports come unauthenticated (the agent could not check our keys).
    agent, port = await fake_v3_agent(
        lambda agent, msg_id: agent.report(msg_id, oid, 0, 7, 5000))
    async with SnmpClient() as client:
        s = client.session(device="edge-7", host="127.0.0.1", port=port,
                           credentials=fake_v3_creds(), timeout_s=0.5, retries=0)
        with pytest.raises(SnmpAuthError,
                           match=f"^edge-7: SNMPv3 user 'netmon' rejected: {reason}"):
            await s.get([SYS_DESCR])
    assert agent.requests == 1


async def test_v3_forged_plaintext_answer_is_not_accepted() -> None:
    # A plaintext Response to an authPriv request proves nothing: it is ignored,
    # and the request ends naming why nothing acceptable came.
    def forged(agent: FakeV3Agent, msg_id: int) -> bytes:
        pdu = ber.encode_response(b"", msg_id, [(SYS_DESCR, ber.OCTET_STRING, b"forged")])
        pdu = pdu[pdu.index(bytes((ber.RESPONSE,))):]
        scoped = ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OCTET_STRING, agent.ENGINE_ID)
                                + b"\x04\x00" + pdu)
        return usm.encode_message(0, msg_id, agent.ENGINE_ID, 7, 5000, b"netmon", agent.keys,
                                  scoped)

    _, port = await fake_v3_agent(forged)
    async with SnmpClient() as client:
        s = client.session(device="spoofed", host="127.0.0.1", port=port,
                           credentials=fake_v3_creds(), timeout_s=0.3, retries=0)
        with pytest.raises(SnmpAuthError, match=r"^spoofed: .*security level"):
            await s.get([SYS_DESCR])
