"""Hostile SNMP input over real UDP, through the real poll path.

Step: untrusted datagrams -> netmon.ber -> netmon.snmp -> collectors ->
netmon.poll.poll_target (and the daemon, for the issue's reproducer).

A hostile agent on 127.0.0.1 (tests/hostile.py) damages its answers family by
family: truncation at every length, bit flips, wrong and oversized BER
lengths, deep nesting, wrong value types, out-of-range values and
error-status / error-index, duplicate and reordered varbinds, walks that
never leave the subtree, oversized datagrams, several replies per request,
wrong version or community, hostile OIDs. For every case: nothing but
netmon's own SnmpError types leaves the seam, poll_target returns a result,
no poll outlives its device deadline, error texts stay short; memory stays
flat; and a healthy snmpsim device polled alongside keeps correct rates.
bench/fuzz_snmp.py runs the same families for 100,000+ cases.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import hostile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from netmon import ber, snmp
from netmon.credentials import SnmpV2c
from netmon.poll import open_session, poll_target
from netmon.rates import RateEngine
from netmon.simnet import SimInterface, device_records
from netmon.sinks.local import LOCAL_FILE, run_query
from netmon.snmp import (
    SnmpBadValue,
    SnmpClient,
    SnmpError,
    SnmpMalformed,
    SnmpTimeout,
)

CASES_PER_FAMILY = 100
TIMING = {"timeout_s": 0.3, "retries": 0, "deadline_s": 1.0}
SYS_UPTIME = hostile.SYS_UPTIME
OPER_1 = f"{hostile.IF_OPER_STATUS}.1"


def v2c(community: str) -> SnmpV2c:
    return SnmpV2c(version="2c", community=SecretStr(community))


def check(stats: hostile.FuzzStats, agent: hostile.HostileAgent) -> None:
    assert not agent.errors, agent.errors[:5]  # the test's own agent worked
    assert not stats.escapes, stats.escapes[:5]
    assert not stats.late, stats.late[:5]
    assert not stats.long_errors, stats.long_errors[:5]


# ---------------------------------------------------------------- every family, over UDP


@pytest.mark.parametrize("family", hostile.FAMILIES)
async def test_family_over_real_udp(family: str) -> None:
    agent, port = await hostile.start_agent()
    cases = hostile.make_cases(CASES_PER_FAMILY, seed=hash(family) & 0xFFFF, families=(family,))
    stats = hostile.FuzzStats()
    async with SnmpClient() as client:
        await hostile.run_cases(client, agent, port, cases, stats, concurrency=25, **TIMING)
    check(stats, agent)
    assert stats.cases == CASES_PER_FAMILY
    if family == "honest":  # the control: an undamaged agent polls cleanly
        assert stats.failed_polls == 0, stats.by_error
    elif family in ("silence", "foreign"):  # not ours: a timeout, never anything else
        assert set(stats.by_error) <= {"no response", "deadline"}, stats.by_error
    agent.transport.close()  # type: ignore[union-attr]


async def test_truncation_at_every_length() -> None:
    """The honest answer to each request, cut at every length, via real UDP."""
    view = hostile.MibView()
    request = ber.decode_message(ber.encode_request(b"c", ber.GET_REQUEST, 1, [
        ber.encode_oid(SYS_UPTIME), ber.encode_oid(OPER_1)]))
    full = hostile.encode_message(1, b"c", ber.RESPONSE, 1, 0, 0, view.answer(request))
    outcomes: dict[str, int] = {}

    async def cut_at(client: SnmpClient, n: int) -> None:
        community = f"cut{n}"

        def answer(msg: ber.Message) -> list[bytes]:
            data = hostile.encode_message(1, msg.community, ber.RESPONSE, msg.request_id, 0, 0,
                                          view.answer(msg))
            return [data[:n]]

        proto = await _scripted(answer)
        s = client.session(device=community, host="127.0.0.1", port=proto[1],
                           credentials=v2c(community), timeout_s=0.3, retries=0,
                           deadline_s=1.0)
        try:
            async with s.deadline():
                await s.get([SYS_UPTIME, OPER_1])
            kind = "ok"
        except SnmpError as e:
            kind = type(e).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1
        proto[0].transport.close()  # type: ignore[union-attr]

    async with SnmpClient() as client:
        await asyncio.gather(*(cut_at(client, n) for n in range(len(full))))
    assert sum(outcomes.values()) == len(full)
    assert "ok" not in outcomes and set(outcomes) <= {"SnmpMalformed", "SnmpTimeout"}, outcomes


# ---------------------------------------------------------------- the issue's cases, one by one


class Scripted(asyncio.DatagramProtocol):
    def __init__(self, answer) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        for packet in self.answer(ber.decode_message(data)):
            self.transport.sendto(packet, addr)


async def _scripted(answer) -> tuple[Scripted, int]:
    transport, proto = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Scripted(answer), local_addr=("127.0.0.1", 0))
    return proto, transport.get_extra_info("sockname")[1]


ISSUE_INTEGER_2_64 = bytes.fromhex(  # request-id 01020304, community public
    "303402010104067075626c6963a22702040102030402010002010030193017060a2b0601020102020108"
    "010209010000000000000000")
ISSUE_EMPTY_NAME = bytes.fromhex(
    "302102010104067075626c6963a2140204010203040201000201003006300406000500")


@pytest.mark.parametrize(
    ("datagram", "error", "reason"),
    [
        (ISSUE_INTEGER_2_64, SnmpBadValue, r"INTEGER a 9-byte value out of range -2\^31\.\.2\^31-1 "
                                           r"at 1\.3\.6\.1\.2\.1\.2\.2\.1\.8\.1"),
        (ISSUE_EMPTY_NAME, SnmpMalformed, "varbind 1 name: empty OBJECT IDENTIFIER"),
    ],
    ids=["integer-2^64", "empty-name"],
)
async def test_issue_datagrams_fail_the_device_at_once(datagram: bytes, error: type,
                                                       reason: str) -> None:
    """The literal reproducers: a typed per-device error, without waiting for a timeout."""
    proto, port = await _scripted(lambda msg: [datagram])
    async with SnmpClient() as client:
        client._next_id = 0x01020304  # the request-id the recorded datagrams answer
        s = client.session(device="dev-x", host="127.0.0.1", port=port,
                           credentials=v2c("public"), timeout_s=2.0, retries=1)
        started = time.monotonic()
        with pytest.raises(error, match=reason) as info:
            await s.get([OPER_1])
        assert time.monotonic() - started < 1.0
        assert info.value.device == "dev-x" and str(info.value).startswith("dev-x: ")
    proto.transport.close()  # type: ignore[union-attr]


def _answer_with(value_tlv: bytes, *, name: bytes | None = None):
    def answer(msg: ber.Message) -> list[bytes]:
        vbs = [(name if name is not None else c, value_tlv) for c, _ in msg.varbinds]
        return [hostile.encode_message(1, msg.community, ber.RESPONSE, msg.request_id, 0, 0, vbs)]
    return answer


@pytest.mark.parametrize(
    ("value", "name", "error", "reason"),
    [
        (bytes.fromhex("41050100000000"), None, SnmpBadValue, r"Counter32 4294967296 out of range"),
        (hostile.big_int_tlv(ber.TIMETICKS, 139), None, SnmpBadValue,
         "TimeTicks a 139-byte value out of range"),
        (hostile.big_int_tlv(ber.GAUGE32, 9), None, SnmpBadValue, "Gauge32 a 9-byte value"),
        (bytes.fromhex("4609010000000000000000"), None, SnmpBadValue,
         "Counter64 18446744073709551616 out of range"),
        (ber.encode_tlv(ber.OBJECT_IDENTIFIER, b"\x2b" + b"\xff" * 2100 + b"\x7f"), None,
         SnmpMalformed, r"exceeds 2\^32-1"),
        (b"\x05\x00", b"\x2b" + b"\xff" * 2100 + b"\x7f", SnmpMalformed,
         r"varbind 1 name: OBJECT IDENTIFIER sub-identifier 2 exceeds 2\^32-1"),
        (b"\x05\x00", b"\x2b" + bytes(range(1, 128)) * 32, SnmpMalformed, "at most 128"),
    ],
    ids=["counter32-2^32", "sysuptime-139-bytes", "huge-ifhighspeed", "counter64-2^64",
         "4300-digit-arc-value", "4300-digit-arc-name", "4kb-name"],
)
async def test_hostile_values_are_typed_errors(value: bytes, name: bytes | None, error: type,
                                               reason: str) -> None:
    proto, port = await _scripted(_answer_with(value, name=name))
    async with SnmpClient() as client:
        s = client.session(device="dev-y", host="127.0.0.1", port=port,
                           credentials=v2c("c"), timeout_s=2.0, retries=0)
        with pytest.raises(error, match=reason):
            await s.get([SYS_UPTIME])
        with pytest.raises(error, match=reason):
            await s.walk([hostile.IF_OPER_STATUS], scalars=[SYS_UPTIME])
    proto.transport.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["sysUpTime", "ifHighSpeed", "ifOperStatus"])
async def test_hostile_value_in_a_poll_is_that_devices_error(field: str) -> None:
    """Issue: a 139-byte sysUpTime or a huge ifHighSpeed crashed the poll (OverflowError)."""
    column = {"sysUpTime": SYS_UPTIME, "ifHighSpeed": f"{hostile.IF_X_TABLE}.15",
              "ifOperStatus": hostile.IF_OPER_STATUS}[field]
    prefix = ber.encode_oid_content(column)
    bad = {"sysUpTime": hostile.big_int_tlv(ber.TIMETICKS, 139),
           "ifHighSpeed": hostile.big_int_tlv(ber.GAUGE32, 139),
           "ifOperStatus": hostile.REPRODUCER_VALUE}[field]
    view = hostile.MibView()

    def answer(msg: ber.Message) -> list[bytes]:
        vbs = [(c, bad if c.startswith(prefix) else v) for c, v in view.answer(msg)]
        return [hostile.encode_message(1, msg.community, ber.RESPONSE, msg.request_id, 0, 0,
                                       vbs)]

    proto, port = await _scripted(answer)
    case = hostile.Case(1, "honest", 0)
    async with SnmpClient() as client:
        for discover in (True, False):
            target = hostile.fuzz_target(case, port, timeout_s=1.0, retries=0,
                                         deadline_s=2.0, discover=discover)
            from collectors.interfaces import InterfaceCollector

            result = await poll_target(open_session(client, target), target,
                                       [InterfaceCollector()], RateEngine())
            assert result.error is not None and "out of range" in result.error, result.error
            assert result.error.startswith("fz1: answer refused: ")
            assert [s.fields["reachable"] for s in result.samples] == [False]
    proto.transport.close()  # type: ignore[union-attr]


async def test_wrong_version_or_community_is_ignored_and_counted() -> None:
    view = hostile.MibView()

    def answer(msg: ber.Message) -> list[bytes]:
        vbs = view.answer(msg)
        args = (ber.RESPONSE, msg.request_id, 0, 0, vbs)
        return [hostile.encode_message(0, msg.community, *args),  # v1
                hostile.encode_message(3, msg.community, *args),
                hostile.encode_message(1, b"someone-else", *args),
                hostile.encode_message(1, msg.community, *args)]  # ours, last

    proto, port = await _scripted(answer)
    async with SnmpClient() as client:
        s = client.session(device="d", host="127.0.0.1", port=port, credentials=v2c("mine"),
                           timeout_s=1.0, retries=0)
        got = await s.get([SYS_UPTIME])
        assert isinstance(got.values[SYS_UPTIME], int)
        assert client.ignored_answers == 3
    proto.transport.close()  # type: ignore[union-attr]

    proto, port = await _scripted(lambda msg: answer(msg)[:3])  # never ours
    async with SnmpClient() as client:
        s = client.session(device="d", host="127.0.0.1", port=port, credentials=v2c("mine"),
                           timeout_s=0.2, retries=1)
        with pytest.raises(SnmpTimeout):
            await s.get([SYS_UPTIME])
        assert client.ignored_answers == 6
    proto.transport.close()  # type: ignore[union-attr]


async def test_oid_not_increasing_warning_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    column = hostile.IF_OPER_STATUS
    high = ber.encode_oid_content(column + "." + ".".join(["4294967295"] * 110))
    lower = ber.encode_oid_content(column + ".1." + ".".join(["4294967295"] * 110))

    def answer(msg: ber.Message) -> list[bytes]:
        vbs = [(high, b"\x02\x01\x01"), (lower, b"\x02\x01\x01")]  # goes backwards
        return [hostile.encode_message(1, msg.community, ber.RESPONSE, msg.request_id, 0, 0,
                                       vbs)]

    proto, port = await _scripted(answer)
    async with SnmpClient() as client:
        s = client.session(device="d", host="127.0.0.1", port=port, credentials=v2c("c"),
                           timeout_s=1.0, retries=0)
        with caplog.at_level(logging.WARNING):
            table = await s.walk([column])
    assert len(table.columns[column]) == 1
    lines = [r.getMessage() for r in caplog.records if "not increasing" in r.getMessage()]
    assert lines and all(len(line) < 400 for line in lines), [len(x) for x in lines]
    assert "chars)" in lines[0]
    proto.transport.close()  # type: ignore[union-attr]


async def test_walk_that_never_leaves_the_subtree_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(snmp, "MAX_WALK_ROWS", 3000)
    agent, port = await hostile.start_agent()
    case = agent.add(hostile.Case(7, "endless_walk", 1, every=True))
    async with SnmpClient() as client:
        s = client.session(device="loop", host="127.0.0.1", port=port,
                           credentials=v2c(case.community.decode()), timeout_s=1.0, retries=0)
        with pytest.raises(SnmpMalformed, match="rows without leaving the table"):
            await s.walk([hostile.IF_OPER_STATUS])
        # The session caches the OIDs it was asked for, not every row the agent made up.
        assert len(s._oid_cache) <= 2
        s.deadline_s = 0.3  # without the row bound, the deadline ends it
        monkeypatch.setattr(snmp, "MAX_WALK_ROWS", 10**9)
        started = time.monotonic()
        with pytest.raises(SnmpTimeout, match="deadline"):
            async with s.deadline():
                await s.walk([hostile.IF_OPER_STATUS])
        assert time.monotonic() - started < 0.8
    agent.transport.close()  # type: ignore[union-attr]


# ---------------------------------------------------------------- memory


async def test_memory_stays_flat_under_endless_walks_of_long_oids(monkeypatch) -> None:
    """Issue: endless walks of long OIDs took RSS from 34 to 310 MB and it never came down."""
    budget = 1024 * 1024  # the real one is 40 MiB: bench/fuzz_snmp.py runs with that
    monkeypatch.setattr(ber, "OID_CACHE_MAX_BYTES", budget)
    monkeypatch.setattr(snmp, "MAX_WALK_ROWS", 100)
    agent, port = await hostile.start_agent()
    stats = hostile.FuzzStats()
    rounds: list[int] = []
    async with SnmpClient() as client:
        for r in range(7):
            cases = hostile.make_cases(6, seed=r, families=("long_oid_walk",),
                                       start_id=r * 100)
            for c in cases:
                c.at, c.every = 0, True
            await hostile.run_cases(client, agent, port, cases, stats, concurrency=6,
                                    timeout_s=1.0, retries=0, deadline_s=3.0, slack_s=2.0)
            rounds.append(hostile.rss_bytes())
            assert ber.oid_cache_bytes() <= budget
    check(stats, agent)
    assert stats.by_error.get("rows without leaving", 0) >= 40, stats.by_error
    growth = rounds[-1] - rounds[2]  # after warm-up: the cache is full by then
    assert growth < 6 * 1024 * 1024, [x // 1024 for x in rounds]
    agent.transport.close()  # type: ignore[union-attr]


# ---------------------------------------------------------------- a healthy device alongside


RATES = {  # ifName: (in_bps, out_bps, ifHighSpeed Mbit/s)
    "xe-0/0/0": (480e6, 120e6, 10_000),
    "ge-0/0/1": (37e6, 290e6, 1_000),
}


async def test_healthy_device_keeps_correct_rates_alongside_hostile_ones(snmpsim_factory) -> None:
    from collectors.interfaces import InterfaceCollector
    from netmon.config import Target

    sim = snmpsim_factory({"rates": device_records([
        SimInterface(i + 1, name, f"alias {name}", speed, rin, rout, initial_in=10**12 + i)
        for i, (name, (rin, rout, speed)) in enumerate(RATES.items())])})
    healthy = Target.model_validate({
        "name": "healthy", "site": "TST", "tier": "province", "address": sim.host,
        "port": sim.port, "snmp": v2c("rates"), "timeout": 1.0, "retries": 1,
        "discover": True})
    agent, port = await hostile.start_agent()
    stats = hostile.FuzzStats()
    families = tuple(f for f in hostile.FAMILIES if f != "honest")
    async with SnmpClient() as client:
        stop = asyncio.Event()

        async def storm() -> None:
            r = 0
            while not stop.is_set():
                cases = hostile.make_cases(40, seed=1000 + r, families=families,
                                           start_id=10_000 + r * 100)
                await hostile.run_cases(client, agent, port, cases, stats, concurrency=20,
                                        **TIMING)
                r += 1

        background = asyncio.create_task(storm())
        collector, engine = InterfaceCollector(), RateEngine()
        session = open_session(client, healthy)
        polls = []
        for i in range(3):
            if i:
                await asyncio.sleep(2.5)
            result = await poll_target(session, healthy, [collector], engine)
            assert result.error is None, result.error
            polls.append(result.samples)
        stop.set()
        await background
    check(stats, agent)
    assert stats.cases >= 40
    for poll in polls[1:]:
        got = {s.tags["ifName"]: s for s in poll if s.measurement == "interface"}
        for name, (rin, rout, _) in RATES.items():
            for field, want in (("in_bps", rin), ("out_bps", rout)):
                value = got[name].fields[field]
                assert abs(value - want) <= 0.02 * want + 1.0, (name, field, value, want)
    agent.transport.close()  # type: ignore[union-attr]


# ---------------------------------------------------------------- the codec, driven by Hypothesis


HONEST = hostile.encode_message(
    1, b"public", ber.RESPONSE, 77, 0, 0,
    hostile.MibView().answer(ber.decode_message(ber.encode_request(
        b"public", ber.GET_BULK_REQUEST, 77, [ber.encode_oid(hostile.IF_TABLE)],
        max_repetitions=12))))


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(HONEST) - 1), st.integers(0, 255)),
                min_size=1, max_size=6),
       st.integers(0, len(HONEST)))
def test_mutated_answers_decode_to_bounded_values_or_ber_error(
        edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(HONEST)
    for pos, byte in edits:
        data[pos] = byte
    try:
        msg = ber.decode_message(bytes(data[:cut] if cut < len(data) // 2 else data))
    except ber.BerError:
        return
    assert -(2**31) <= msg.request_id < 2**31
    for name, value in msg.varbinds:
        assert len(ber.oid_str(name)) < 128 * 11  # printable, bounded
        if isinstance(value, int):
            assert -(2**31) <= value < 2**64


# ---------------------------------------------------------------- the daemon, end to end


def test_daemon_keeps_storing_other_devices_and_stops_cleanly(
        simnet_agent, netmon_config, start_daemon, wait_for) -> None:
    """Issue: one device's 2^64 stopped the local store for every device, silently; SIGTERM
    then exited 1 with a traceback and lost the queue."""
    with hostile.AgentThread() as thread:
        assert thread.agent is not None
        case = thread.agent.add(hostile.Case(900, "reproducer", 0, every=True))
        community = case.community.decode()
        entries = [simnet_agent.target("core-a"),
                   simnet_agent.target("hostile", community=community, port=thread.port,
                                       extra=", discover: true")]
        config = netmon_config(entries, communities=[community])
        daemon = start_daemon(config)
        wait_for(lambda: min(daemon.polls().values()) >= 3, 15, "3 polls of each target")
        wait_for(lambda: "out of range" in (daemon.targets()["hostile"]["last_error"] or ""),
                 15, "the hostile device's value refused")
        hostile_state = daemon.targets()["hostile"]
        assert hostile_state["reachable"] is False
        assert hostile_state["last_error"].startswith("hostile: answer refused: INTEGER a 9-byte "
                                                      "value out of range"), hostile_state
        assert daemon.targets()["core-a"]["reachable"] is True
        metrics = daemon.metrics()
        wait_for(lambda: daemon.metrics().value("netmon_points_written_total",
                                                sink="LocalStore") > 0, 5, "points stored")
        assert metrics.value("netmon_sink_write_errors_total", sink="LocalStore") == 0
        assert daemon.get("/healthz").status == 200
        rc, _ = daemon.terminate()
    assert rc == 0, daemon.stderr
    assert "Traceback" not in daemon.stderr
    rows = json.loads(run_query(config.state_dir / LOCAL_FILE, target=None, link=None,
                                since_s=3600, field="in_bps", fmt="json"))
    assert {r["target"] for r in rows} == {"core-a"}  # stored, including the queue at stop
