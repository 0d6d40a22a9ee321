"""The daemon runs the ipv6 collector on its own interval, apart from traffic polling."""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar

import ipv6_records as rec
from test_scheduling import free_tcp_port

from netmon.config import load_config
from netmon.daemon import Daemon
from netmon.model import IPV6_READINESS

in_traffic_poll: ContextVar[bool] = ContextVar("in_traffic_poll", default=False)


async def test_ipv6_runs_in_its_own_job(tmp_path, snmpsim_factory):
    sim = snmpsim_factory({"dev": rec.level(3)})
    (tmp_path / "community").write_text("dev\n")
    path = tmp_path / "netmon.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f'http: {{listen: "127.0.0.1:{free_tcp_port()}"}}\n'
        "ipv6: {interval: 2s}\n"
        "snmp_profiles:\n"
        '  v2: {version: "2c", community: "file:community"}\n'
        "targets:\n"
        "  - name: dev\n    site: S\n    tier: province\n"
        f'    address: "127.0.0.1"\n    port: {sim.port}\n    snmp: v2\n    interval: 1s\n'
        "    collectors: [interfaces, ipv6]\n"
        "    links: [{ifName: ge-0/0/1, role: uplink}]\n"
    )
    daemon = Daemon(load_config(path), path)
    original = daemon._poll_job

    async def watched(name: str) -> None:
        in_traffic_poll.set(True)  # seen only inside this poll's task
        await original(name)

    daemon._poll_job = watched  # type: ignore[method-assign]
    ipv6 = daemon.collectors["ipv6"]
    collect = ipv6.collect
    calls: list[bool] = []

    async def counted(session, target):
        calls.append(in_traffic_poll.get())
        return await collect(session, target)

    ipv6.collect = counted  # type: ignore[method-assign]

    await daemon.start()
    try:
        assert daemon.scheduler is not None
        job = daemon.scheduler.get_job("dev@ipv6")
        assert job is not None and job.trigger.interval.total_seconds() == 2.0
        deadline = time.monotonic() + 8.0
        while ("dev", "ipv6") not in daemon.state.periodic and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
    finally:
        await daemon.stop()
    samples = daemon.state.periodic[("dev", "ipv6")]
    (readiness,) = [s for s in samples if s.measurement == IPV6_READINESS]
    assert readiness.fields["level"] == 3
    # Traffic polls ran meanwhile and never ran the ipv6 collector.
    state = daemon.state.targets["dev"]
    assert state.polls >= 2
    assert state.errors == 0
    assert calls and not any(calls)


async def test_level_drop_raises_the_alert_in_the_daemon(tmp_path, snmpsim_factory):
    """netmon run, in process: ipv6 every 1 s, the engine every 0.5 s; the device's
    recording drops from level 3 to level 1 and ipv6_readiness_regressed fires."""
    from agents import write_snmprec

    sim = snmpsim_factory({"dev": rec.level(3)})
    (tmp_path / "community").write_text("dev\n")
    path = tmp_path / "netmon.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f'http: {{listen: "127.0.0.1:{free_tcp_port()}"}}\n'
        "ipv6: {interval: 1s}\n"
        "alerts: {eval_interval: 0.5s}\n"
        "snmp_profiles:\n"
        '  v2: {version: "2c", community: "file:community"}\n'
        "targets:\n"
        "  - name: dev\n    site: S\n    tier: province\n"
        f'    address: "127.0.0.1"\n    port: {sim.port}\n    snmp: v2\n    interval: 5s\n'
        "    collectors: [ipv6]\n"
        "    links: [{ifName: ge-0/0/1, role: uplink}]\n"
    )
    daemon = Daemon(load_config(path), path)
    await daemon.start()

    def regressed() -> list[dict]:
        assert daemon.alerts is not None
        return [a for a in daemon.alerts.engine.active()
                if a["labels"]["alertname"] == "ipv6_readiness_regressed"]

    async def until(check, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)

    try:
        def level_seen(n: int):
            got = daemon.state.periodic.get(("dev", "ipv6"), [])
            return any(s.fields.get("level") == n for s in got)

        await until(lambda: level_seen(3), 8.0)
        await asyncio.sleep(1.0)  # at least one evaluation saw level 3
        assert regressed() == []
        write_snmprec(sim.data_dir / "dev.snmprec", rec.level(1))
        sim.restart()
        await until(lambda: any(a["state"] == "firing" for a in regressed()), 10.0)
    finally:
        await daemon.stop()
    (alert,) = regressed()
    assert alert["labels"]["device"] == "dev"
    assert "to level 1 (enabled)" in alert["annotations"]["description"]
