"""Scheduling: deterministic spread over the interval, slot-aligned stamps, no pile-up."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from pathlib import Path

from netmon.config import load_config
from netmon.daemon import Daemon, slot_for, slot_offset_s


def test_offsets_are_deterministic_and_spread_700_routers():
    names = [f"district-{i:03d}" for i in range(700)]
    offsets = [slot_offset_s(n, 60.0) for n in names]
    assert offsets == [slot_offset_s(n, 60.0) for n in names]  # same on every poller
    assert all(0 <= o < 60.0 for o in offsets)
    per_second = Counter(int(o) for o in offsets)
    # 700 routers over 60 s: about 12 a second, never a stampede.
    assert len(per_second) == 60
    assert max(per_second.values()) <= 30


def test_slot_is_stable_within_the_interval():
    offset = slot_offset_s("core-a", 30.0)
    base = 1_800_000_000.0 + offset
    assert slot_for(base, 30.0, offset) == base
    assert slot_for(base + 29.9, 30.0, offset) == base
    assert slot_for(base + 30.0, 30.0, offset) == base + 30.0
    assert slot_for(base - 0.1, 30.0, offset) == base - 30.0


def one_target_config(root: Path, name: str, port: int, target: str, *,
                      storage: str = "") -> Path:
    """netmon.yaml polling one target on 127.0.0.1:port every 1 s; community = name.

    ``target`` holds the target's extra YAML lines; ``storage`` a ``storage:`` section.
    """
    (root / "community").write_text(name + "\n")
    path = root / "netmon.yaml"
    path.write_text(
        f"state_dir: {root / 'state'}\n"
        f'http: {{listen: "127.0.0.1:{free_tcp_port()}"}}\n'
        + storage +
        "snmp_profiles:\n"
        '  v2: {version: "2c", community: "file:community"}\n'
        "targets:\n"
        f"  - name: {name}\n    site: S\n    tier: district\n"
        f'    address: "127.0.0.1"\n    port: {port}\n    snmp: v2\n    interval: 1s\n'
        + target
    )
    return path


def write_config(root: Path, port: int) -> Path:
    """A device that takes 2.5 s to fail, polled every 1 s."""
    return one_target_config(root, "slow", port,
                             "    timeout: 2.5s\n    retries: 0\n    deadline: 2.5s\n")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_overrun_skips_slots_and_never_runs_two_polls_at_once(tmp_path):
    # A device that takes 2.5 s to fail, polled every 1 s: the slots in between
    # are skipped and counted; polls never pile up.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        path = write_config(tmp_path, silent.getsockname()[1])
        daemon = Daemon(load_config(path), path)
        in_flight: list[int] = []
        original = daemon._poll_job

        async def watched(name: str) -> None:
            in_flight.append(len(daemon._in_flight))
            await original(name)

        daemon._poll_job = watched  # type: ignore[method-assign]
        await daemon.start()
        try:
            await asyncio.sleep(6.0)
        finally:
            await daemon.stop()
        state = daemon.state.targets["slow"]
        assert state.overruns >= 2
        assert 1 <= state.polls <= 3
        assert state.errors == state.polls
        assert (state.last_error or "").startswith("slow: ")
        assert max(in_flight) == 0  # nothing else was in flight when a poll began
    finally:
        silent.close()


async def test_stop_is_prompt_with_a_poll_in_flight(tmp_path):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        path = write_config(tmp_path, silent.getsockname()[1])
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        await asyncio.sleep(1.5)
        started = time.monotonic()
        await daemon.stop()
        assert time.monotonic() - started < 10.0
    finally:
        silent.close()


async def test_issues_are_stored_when_they_change_not_every_cycle(tmp_path, snmpsim_factory,
                                                                    caplog):
    from netmon.simnet import SimInterface, device_records
    from netmon.sinks.local import LOCAL_FILE, run_query

    old = SimInterface(1, "fa0/0", "WAN", 100, 1e6, 1e6, hc=False, x_table=False)
    sim = snmpsim_factory({"old-router": device_records([old])})
    path = one_target_config(tmp_path, "old-router", sim.port,
                             "    links: [{ifName: fa0/0, capacity: 2M}]\n")
    daemon = Daemon(load_config(path), path)
    await daemon.start()
    try:
        await asyncio.sleep(4.5)
    finally:
        await daemon.stop()
    polls = daemon.state.targets["old-router"].polls
    assert polls >= 3
    out = run_query(tmp_path / "state" / LOCAL_FILE, target="old-router", link=None,
                    since_s=600, field="message", fmt="csv", measurement="poll_issue")
    rows = out.splitlines()[1:]
    # Two issues (no ifXTable, no 64-bit counters), stored once, not once per poll.
    assert len(rows) == 2, out
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("old-router: ")]
    assert len(logged) == 2
    assert daemon.state.links[("old-router", "fa0/0")].fields["in_bps"] > 0


async def test_stop_with_database_down_spools_every_point_within_10_s(tmp_path,
                                                                      snmpsim_factory):
    # InfluxDB unreachable the whole time: on stop, whatever is still in memory
    # must reach the on-disk spool, not be lost to a cancelled close.
    from netmon.simnet import SimInterface, device_records
    from netmon.sinks.lineproto import encode_many
    from netmon.sinks.spool import SPOOL_FILE, Spool

    sim = snmpsim_factory({"r1": device_records([SimInterface(1, "ge-0/0/0", "", 1_000,
                                                              5e6, 5e6)])})
    (tmp_path / "token").write_text("t0ken\n")
    # A database that accepts connections and never answers: the worst case
    # for a clean stop, as a request is in flight when SIGTERM comes.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    dead_http = hang.getsockname()[1]
    path = one_target_config(
        tmp_path, "r1", sim.port, "    links: [{ifName: ge-0/0/0, capacity: 100M}]\n",
        storage=f"storage:\n  influxdb: {{url: 'http://127.0.0.1:{dead_http}', org: o, "
                "bucket: b, token: 'file:token', flush_interval: 0.5s, timeout: 30s}\n")
    daemon = Daemon(load_config(path), path)
    written: list[str] = []
    await daemon.start()
    for sink in daemon.sinks:
        original = sink.write

        async def counting(samples, original=original):
            written.extend(encode_many(samples))
            await original(samples)

        sink.write = counting  # type: ignore[method-assign]
    await asyncio.sleep(3.5)
    started = time.monotonic()
    await daemon.stop()
    assert time.monotonic() - started < 10.0
    assert len(written) >= 6
    hang.close()
    spool = Spool(tmp_path / "state" / SPOOL_FILE)
    assert spool.depth_points == len(written)
