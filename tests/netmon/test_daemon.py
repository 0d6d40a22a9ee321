"""``netmon run`` as a process: snmpsim -> daemon -> VictoriaMetrics / local store.

Step: the whole flow, YAML -> scheduler -> collectors -> rates -> sinks, with
the daemon stopped, killed and reloaded by real signals.

Every expected count comes from the daemon itself: ``netmon_polls_total`` is
read from /metrics at a moment with no poll in flight (``NetmonConfig.quiet``),
just before the signal. A run of P polls of a target must leave exactly P
``device`` points and P - 1 points per link (the first poll only sets the
baseline), on P consecutive slots: same target and slot, same timestamp.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from itertools import pairwise

from vmetrics import VictoriaMetrics

from netmon.daemon import slot_offset_s
from netmon.sinks.local import LOCAL_FILE, run_query

CORES = ["core-a", "core-b"]
# 1 s intervals on a busy 2-core CI machine: 20 ms of scheduling jitter is 2%.
# Rate accuracy itself is held to 2% in tests/collectors (2.5 s apart).
RATE_TOLERANCE = 0.05


def close(got: float, want: float) -> bool:
    return abs(got - want) <= RATE_TOLERANCE * want


def check_slots(ts_ms: list[int], target: str, interval_s: float) -> None:
    """Each timestamp is a slot of ``target``, and the slots follow each other."""
    offset = slot_offset_s(target, interval_s)
    for ts in ts_ms:
        phase = (ts / 1000 - offset) % interval_s
        assert min(phase, interval_s - phase) < 0.002, f"{target}: {ts} is not on a slot"
    steps = {b - a for a, b in pairwise(ts_ms)}
    assert steps <= {round(interval_s * 1000)}, f"{target}: gap or repeat in {ts_ms}"


def split_runs(ts_ms: list[int], runs: list[int]) -> list[list[int]]:
    assert len(ts_ms) == sum(runs), f"{len(ts_ms)} points, expected {runs}"
    out, i = [], 0
    for n in runs:
        out.append(ts_ms[i : i + n])
        i += n
    return out


def distinct_points(vm: VictoriaMetrics, match: str) -> int:
    """Points with distinct timestamps, summed over series: a batch sent twice (at least
    once delivery) lands on the same target+slot timestamps and counts once."""
    return sum(len(set(row["timestamps"])) for row in vm.export(match))


def wait_vm_points(vm: VictoriaMetrics, match: str, expected: int,
                   timeout_s: float = 15.0) -> None:
    """VictoriaMetrics shows a just-written point after a short while (even after
    force_flush); wait for the count, then let the exact checks judge."""
    deadline = time.monotonic() + timeout_s
    while distinct_points(vm, match) < expected and time.monotonic() < deadline:
        time.sleep(0.2)


def check_vm_delivery(vm: VictoriaMetrics, sim, runs: dict[str, list[int]],
                      interval_s: float) -> None:
    """``runs[target]``: poll counts of each daemon run, in order (one run unless the
    daemon was restarted). Exact counts, consecutive slots in each run, rates within 2%."""
    n_links = {t: len(sim.links[t]) for t in runs}
    expected = sum(sum(r) + n_links[t] * sum(n - 1 for n in r) for t, r in runs.items())
    match = '{__name__=~"device_reachable|interface_in_bps"}'
    wait_vm_points(vm, match, expected)
    series = vm.series('{__name__=~"device_reachable|interface_(in_bps|out_bps|util_pct)"}')
    by: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for key, points in series.items():
        labels = dict(key[1:])
        by[(key[0], labels["device"], labels.get("ifName", ""))] = sorted(set(points))
    assert {d for _, d, _ in by} == set(runs), by.keys()
    for target, counts in runs.items():
        device = by[("device_reachable", target, "")]
        device_ts = [ts for ts, _ in device]
        assert all(v == 1 for _, v in device), f"{target} was unreachable: {device}"
        chunks = split_runs(device_ts, counts)
        for chunk in chunks:
            check_slots(chunk, target, interval_s)
        rate_ts = [ts for chunk in chunks for ts in chunk[1:]]  # first poll: baseline only
        for link in sim.links[target]:
            for field, want in (("in_bps", link.in_bps), ("out_bps", link.out_bps),
                                ("util_pct", link.util_pct)):
                points = by[(f"interface_{field}", target, link.if_name)]
                assert [ts for ts, _ in points] == rate_ts, (target, link.if_name, field)
                bad = [v for _, v in points if not close(v, want)]
                assert not bad, f"{target} {link.if_name} {field}: {bad} vs {want}"


def stop_after_quiet(config, daemon, names: list[str]) -> dict[str, int]:
    """Read the poll counts with no poll in flight, then SIGTERM: exit 0 within 10 s."""
    config.quiet(names)
    polls = daemon.polls()
    rc, took = daemon.terminate()
    assert rc == 0, daemon.stderr
    assert took < 10
    return polls


# -- 1 and 9: VictoriaMetrics end to end, SIGTERM --------------------------------------


def test_polls_reach_victoriametrics_exactly(
    simnet_agent, vm, netmon_config, start_daemon, wait_for
) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES], influx_url=vm.url)
    daemon = start_daemon(config)
    wait_for(lambda: min(daemon.polls().values()) >= 6, 15, "6 polls of each target")
    # Points go out while the daemon runs, not only when it stops.
    wait_for(lambda: vm.count('{__name__="interface_in_bps"}') > 0, 10, "points in VM")

    polls = stop_after_quiet(config, daemon, CORES)

    assert min(polls.values()) >= 6
    check_vm_delivery(vm, simnet_agent, {t: [polls[t]] for t in CORES}, config.interval_s)
    assert "Traceback" not in daemon.stderr


def test_sigterm_flushes_what_is_queued(
    simnet_agent, vm, netmon_config, start_daemon, wait_for
) -> None:
    # A flush interval longer than the run: every point is still in memory at SIGTERM.
    config = netmon_config([simnet_agent.target("core-a")], influx_url=vm.url,
                           influx={"flush_interval": "60s"})
    daemon = start_daemon(config)
    wait_for(lambda: daemon.polls()["core-a"] >= 3, 10, "3 polls")
    assert vm.count('{__name__=~"device_.*|interface_.*"}') == 0

    polls = stop_after_quiet(config, daemon, ["core-a"])

    check_vm_delivery(vm, simnet_agent, {"core-a": [polls["core-a"]]}, config.interval_s)


# -- 2: storage outage -------------------------------------------------------------------


def test_outage_spools_and_delivers_every_point(
    simnet_agent, vm, netmon_config, start_daemon, wait_for
) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES], influx_url=vm.url,
                           influx={"retry_initial": "0.2s", "retry_max": "1s"})
    daemon = start_daemon(config)
    wait_for(lambda: vm.count('{__name__="interface_in_bps"}') > 0, 10, "points in VM")

    config.quiet(CORES)  # no write request in flight
    vm.stop()
    down = daemon.polls()
    wait_for(lambda: all(daemon.polls()[t] >= down[t] + 3 for t in CORES), 10,
             "3 polls while VictoriaMetrics is down")
    during = daemon.metrics()
    assert during.value("netmon_points_spooled_total", sink="InfluxSink") > 0
    assert during.value("netmon_spool_depth_points", sink="InfluxSink") > 0
    assert during.value("netmon_sink_write_errors_total", sink="InfluxSink") > 0

    vm.start()
    wait_for(lambda: daemon.metrics().value("netmon_spool_depth_points", sink="InfluxSink") == 0,
             15, "the spool to drain")
    after = daemon.polls()
    wait_for(lambda: all(daemon.polls()[t] > after[t] for t in CORES), 5, "one more poll")
    polls = stop_after_quiet(config, daemon, CORES)

    check_vm_delivery(vm, simnet_agent, {t: [polls[t]] for t in CORES}, config.interval_s)


# -- 3: crash while spooled ------------------------------------------------------------


def test_kill_9_while_spooled_then_restart_delivers_the_spool(
    simnet_agent, vm, netmon_config, start_daemon, wait_for
) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES], influx_url=vm.url,
                           influx={"retry_initial": "0.2s", "retry_max": "1s"})
    first = start_daemon(config)
    wait_for(lambda: vm.count('{__name__="interface_in_bps"}') > 0, 10, "points in VM")
    config.quiet(CORES)
    vm.stop()
    down = first.polls()
    wait_for(lambda: all(first.polls()[t] >= down[t] + 3 for t in CORES), 10,
             "3 polls while VictoriaMetrics is down")

    config.quiet(CORES)
    spooled = first.metrics()
    first_polls = first.polls()
    assert spooled.value("netmon_spool_depth_points", sink="InfluxSink") > 0
    first.kill()
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL

    vm.start()
    time.sleep(config.interval_s)  # at least one slot with no poller at all
    second = start_daemon(config)
    # Everything spooled before the kill arrives, with its own timestamps.
    wait_for(lambda: distinct_points(vm, '{__name__="device_reachable"}')
             >= sum(first_polls.values()), 15, "the spool of the killed daemon in VM")
    wait_for(lambda: min(second.polls().values()) >= 3, 10, "3 polls of the new daemon")
    second_polls = stop_after_quiet(config, second, CORES)

    runs = {t: [first_polls[t], second_polls[t]] for t in CORES}
    check_vm_delivery(vm, simnet_agent, runs, config.interval_s)


# -- 4: SIGHUP -------------------------------------------------------------------------


def local_points(config, field: str, measurement: str = "interface") -> dict[tuple, list[dict]]:
    """What the local store holds, per (target, ifName), oldest first."""
    rows = json.loads(run_query(config.state_dir / LOCAL_FILE, target=None, link=None,
                                since_s=3600, field=field, fmt="json",
                                measurement=measurement))
    out: dict[tuple, list[dict]] = {}
    for row in rows:
        out.setdefault((row["target"], row["ifName"] or ""), []).append(row)
    return out


def ts_ms(rows: list[dict]) -> list[int]:
    return [round(datetime.fromisoformat(r["ts"]).timestamp() * 1000) for r in rows]


def test_sighup_reload(simnet_agent, netmon_config, start_daemon, wait_for) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    daemon = start_daemon(config)
    wait_for(lambda: min(daemon.polls().values()) >= 2, 10, "2 polls of each target")

    # Valid edit: a new target at the top of the file (the others move down a line
    # but are otherwise unchanged, so they keep their rate state).
    config.write_targets([simnet_agent.target(n) for n in ["pe-2", *CORES]])
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.targets().get("pe-2", {}).get("polls", 0) >= 2, 10,
             "pe-2 polled after the reload")
    links = {(r["target"], r["ifName"]): r for r in daemon.json("/api/links")["links"]}
    assert close(links[("pe-2", "Gi0/0/0")]["util_pct"], simnet_agent.links["pe-2"][0].util_pct)
    assert daemon.metrics().value("netmon_reloads_total") == 1

    # Invalid edit: the daemon says where and keeps running the config it has.
    core_a = simnet_agent.links["core-a"]
    bad_link = replace(core_a[0], yaml=core_a[0].yaml.replace("1.2G", "400Mbs"))
    config.write_targets([simnet_agent.target("pe-2"),
                          simnet_agent.target("core-a", links=[bad_link, *core_a[1:]]),
                          simnet_agent.target("core-b")])
    before = daemon.polls()
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.metrics().value("netmon_reload_errors_total") == 1, 5,
             "the reload to be rejected")
    line_text = config.targets_file.read_text().splitlines()[2]
    where = f"{config.targets_file}:3:{line_text.index('400Mbs') + 1}"
    pattern = re.escape(where) + r": targets\[1\]\.links\[0\]\.capacity: '400Mbs' is not a"
    assert re.search(pattern, daemon.stderr), daemon.stderr
    wait_for(lambda: all(n >= before[t] + 2 for t, n in daemon.polls().items()), 10,
             "every target polled twice after the rejected reload")
    assert set(daemon.targets()) == {"pe-2", *CORES}
    assert daemon.metrics().value("netmon_reloads_total") == 1
    assert daemon.get("/healthz").status == 200

    polls = stop_after_quiet(config, daemon, ["pe-2", *CORES])

    device = local_points(config, "reachable", measurement="device")
    in_bps = local_points(config, "in_bps")
    for target, n in polls.items():
        slots = ts_ms(device[(target, "")])
        assert len(slots) == n, target
        check_slots(slots, target, config.interval_s)
        for link in simnet_agent.links[target]:
            rows = in_bps[(target, link.if_name)]
            # no gap: a rate on every slot but the very first, across both reloads
            assert ts_ms(rows) == slots[1:], (target, link.if_name)
            assert all(close(r["value"], link.in_bps) for r in rows)


# -- 5: a dead target ----------------------------------------------------------------------


def slots_between(target: str, interval_s: float, t1: float, t2: float) -> int:
    offset = slot_offset_s(target, interval_s)
    return int((t2 - offset) // interval_s - (t1 - offset) // interval_s)


def test_dead_targets_do_not_delay_the_others(
    simnet_agent, netmon_config, start_daemon, wait_for
) -> None:
    closed_port = simnet_agent.port + 1 if simnet_agent.port < 65535 else 1
    # ghost: snmpsim has no such community and stays silent (a timeout);
    # shut: nothing listens on its port.
    config = netmon_config(
        [
            *(simnet_agent.target(n) for n in CORES),
            simnet_agent.target("ghost", links=[], extra=", timeout: 0.3s, retries: 1"),
            simnet_agent.target("shut", community="core-a", port=closed_port, links=[]),
        ],
        communities=["ghost"],
    )
    daemon = start_daemon(config)
    wait_for(lambda: min(daemon.polls().values()) >= 2, 10, "2 polls of each target")

    config.quiet(CORES)
    t1, first, errors1 = time.time(), daemon.targets(), daemon.metrics()
    time.sleep(3 * config.interval_s)
    config.quiet(CORES)
    t2, second, errors2 = time.time(), daemon.targets(), daemon.metrics()

    for name in CORES:
        expected = slots_between(name, config.interval_s, t1, t2)
        assert second[name]["polls"] - first[name]["polls"] == expected, name
        assert second[name]["errors"] == 0 and second[name]["overruns"] == 0, second[name]
        assert second[name]["reachable"] is True
        assert second[name]["poll_duration_s"] < 0.25, second[name]
    for name in ("ghost", "shut"):
        t = second[name]
        assert t["reachable"] is False, t
        assert t["last_error"] and name in t["last_error"], t
        assert t["errors"] == t["polls"] >= 2, t
        e1 = errors1.value("netmon_poll_errors_total", target=name)
        assert errors2.value("netmon_poll_errors_total", target=name) > e1
        assert errors2.value("netmon_target_reachable", target=name) == 0
    assert "no response" in second["ghost"]["last_error"], second["ghost"]
    # Attempted on time, so healthy, even though two targets are dead.
    health = daemon.get("/healthz", token=None)
    assert health.status == 200, health.body
    rc, _ = daemon.terminate()
    assert rc == 0


# -- 7: local store, no storage server -------------------------------------------------------


def netmon_query(config, fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netmon.cli", "query", "--config", str(config.path),
         "--field", "util_pct", "--since", "5m", "--format", fmt],
        capture_output=True, text=True, timeout=30, check=False,
    )


def test_local_store_answers_query_within_two_intervals(
    simnet_agent, netmon_config, start_daemon, wait_for
) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES], interval="2s")
    expected = {(t, link.if_name): link for t in CORES for link in simnet_agent.links[t]}
    daemon = start_daemon(config)
    ready = time.monotonic()

    def util_rows() -> list[dict] | None:
        done = netmon_query(config, "json")
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        return rows if {(r["target"], r["ifName"]) for r in rows} >= set(expected) else None

    # Two intervals for the baseline and the first rate, plus the store's 1 s flush
    # and the start-up of one `netmon query` process.
    budget = 2 * config.interval_s + 2.5
    rows = wait_for(util_rows, budget, "util_pct from netmon query", 0.1)
    assert time.monotonic() - ready <= budget
    for row in rows:  # type: ignore[union-attr]
        assert row["field"] == "util_pct"
        link = expected[(row["target"], row["ifName"])]
        assert close(row["value"], link.util_pct), row
        assert row["tags"]["device"] == row["target"]

    csv_out = netmon_query(config, "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "ts,target,link,ifName,field,value"
    for line in lines[1:]:
        _, target, _, if_name, field, value = line.split(",")
        assert field == "util_pct"
        assert close(float(value), expected[(target, if_name)].util_pct), line

    table = netmon_query(config, "table")
    assert table.returncode == 0, table.stderr
    head, *body = table.stdout.splitlines()
    assert head.split() == ["ts", "target", "link/ifName", "field", "value"]
    assert body and all(row.split()[3] == "util_pct" for row in body)
    for (target, if_name), link in expected.items():
        values = [float(r.split()[4]) for r in body if r.split()[1:3] == [target, if_name]]
        assert values and all(close(v, link.util_pct) for v in values), (target, if_name)

    rc, _ = daemon.terminate()
    assert rc == 0


# -- a config with an explicit YAML tag on SIGHUP --------------------------------------------


async def test_reload_of_a_tagged_config_is_rejected_and_ready_again(
        simnet_agent, netmon_config, tmp_path, monkeypatch, caplog) -> None:
    """Issue: such a config was neither rejected nor logged, and systemd never saw READY."""
    import logging
    import socket

    from netmon.config import load_config
    from netmon.daemon import Daemon

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    config = netmon_config([simnet_agent.target("core-a")])
    daemon = Daemon(load_config(config.path), config.path)
    await daemon.start()
    try:
        assert notify.recv(4096).startswith(b"READY=1")
        secret = "Hup-S3cret-0b5d"
        config.write_targets([simnet_agent.target("core-a").replace(
            "name: core-a", f"name: !!int {secret}")])
        with caplog.at_level(logging.INFO):
            assert await daemon.reload() is False
        assert notify.recv(4096).startswith(b"RELOADING=1")
        assert notify.recv(4096).startswith(b"READY=1\nSTATUS=reload rejected")
        assert daemon.state.reload_errors == 1 and daemon.state.reloads == 0
        rejected = [r.getMessage() for r in caplog.records if "reload rejected" in r.getMessage()]
        assert len(rejected) == 1, rejected
        assert re.search(r"config: .*\.yaml:2:\d+: targets\[0\]\.name: the value is not a "
                         r"valid !!int$", rejected[0]), rejected
        assert secret not in caplog.text
        assert set(daemon.state.targets) == {"core-a"}
    finally:
        await daemon.stop()
        notify.close()
