"""Step: storage -> report. ``netmon report datacentre`` (from the local store) and
``/api/datacentre`` (from the daemon's latest polls): every UPS, sensor and server per
data centre, worst first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from netmon.cli import main
from netmon.daemon import DaemonState
from netmon.datacentre import build_report, latest_from_store
from netmon.httpapi import HttpOptions, build_app
from netmon.model import HOST, SENSOR, UPS, Sample
from netmon.sinks.local import LocalStore

NOW = datetime.now(UTC).replace(microsecond=0)


def tags(device: str, site: str, **extra: str) -> dict[str, str]:
    return {"device": device, "site": site, "tier": "datacentre", **extra}


def samples(ts: datetime = NOW) -> list[Sample]:
    return [
        Sample("ups-hn-1", UPS, tags("ups-hn-1", "DC-HN"),
               {"output_source": "normal", "battery_status": "normal", "runtime_s": 2700,
                "output_load_pct": 35, "charge_pct": 100, "mib": "UPS-MIB"}, ts),
        Sample("ups-hn-2", UPS, tags("ups-hn-2", "DC-HN"),
               {"output_source": "battery", "battery_status": "normal", "runtime_s": 840,
                "on_battery_s": 120, "output_load_pct": 50, "charge_pct": 80,
                "mib": "PowerNet"}, ts),
        Sample("ups-hn-3", UPS, tags("ups-hn-3", "DC-HN"),
               {"output_source": "normal", "battery_status": "normal", "runtime_s": 1800,
                "output_load_pct": 86, "alarms": "fanFailure", "alarms_present": 1}, ts),
        Sample("probe-hn-1", SENSOR, tags("probe-hn-1", "DC-HN", sensor="rack 3",
                                          kind="temperature", unit="C"),
               {"temperature_c": 24.5, "status": "high_warning", "high_warning_c": 24.0,
                "high_critical_c": 30.0, "limits_from": "probe"}, ts),
        Sample("probe-hn-1", SENSOR, tags("probe-hn-1", "DC-HN", sensor="rack 4",
                                          kind="temperature", unit="C"),
               {"temperature_c": 21.0, "status": "ok", "high_warning_c": 24.0,
                "limits_from": "probe"}, ts),
        Sample("srv-hcm-1", HOST, tags("srv-hcm-1", "DC-HCM"),
               {"cpu_load_pct": 12.5, "memory_used_pct": 40.0, "uptime_s": 86400.0}, ts),
        Sample("srv-hcm-1", HOST, tags("srv-hcm-1", "DC-HCM", storage="/var",
                                       storage_type="fixed_disk"),
               {"used_pct": 93.0, "size_bytes": 100 * 2**30, "used_bytes": 93 * 2**30}, ts),
        Sample("srv-hcm-1", HOST, tags("srv-hcm-1", "DC-HCM", storage="/",
                                       storage_type="fixed_disk"),
               {"used_pct": 40.0, "size_bytes": 50 * 2**30, "used_bytes": 20 * 2**30}, ts),
    ]


def test_worst_first_per_data_centre():
    report = build_report(samples())
    sites = [(d["site"], d["status"]) for d in report["datacentres"]]
    assert sites == [("DC-HN", "critical"), ("DC-HCM", "warning")]
    hn = report["datacentres"][0]
    assert [(u["device"], u["status"]) for u in hn["ups"]] == [
        ("ups-hn-2", "critical"), ("ups-hn-3", "warning"), ("ups-hn-1", "ok")]
    assert hn["ups"][0]["problems"] == ["on battery"]
    assert hn["ups"][1]["problems"] == ["load 86%", "alarms: fanFailure"]
    assert [(x["sensor"], x["status"], x["limits"].get("high_warning"), x["limits_from"])
            for x in hn["sensors"]] == [("rack 3", "warning", 24.0, "probe"),
                                        ("rack 4", "ok", 24.0, "probe")]
    (server,) = report["datacentres"][1]["servers"]
    assert server["status"] == "warning" and server["fullest_pct"] == 93.0
    assert [f["storage"] for f in server["filesystems"]] == ["/var", "/"]
    only = build_report(samples(), site="DC-HCM")
    assert [d["site"] for d in only["datacentres"]] == ["DC-HCM"]


async def test_cli_reads_the_latest_poll_from_the_local_store(tmp_path: Path, capsys):
    store = LocalStore.in_state_dir(tmp_path / "state")
    await store.write(samples(NOW - timedelta(minutes=5)))
    newer = [Sample(s.target, s.measurement, s.tags,
                    {**s.fields, "output_source": "normal"} if s.target == "ups-hn-2"
                    else s.fields, NOW) for s in samples()]
    await store.write(newer)
    await store.aclose()
    got = latest_from_store(tmp_path / "state" / "netmon.sqlite", 3600)
    assert len(got) == len(samples())
    ups2 = next(s for s in got if s.target == "ups-hn-2")
    assert ups2.fields["output_source"] == "normal" and ups2.ts == NOW

    config = tmp_path / "netmon.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n", encoding="utf-8")
    assert main(["report", "datacentre", "--config", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # ups-hn-2 is back on mains in the latest poll: both sites warn; ties go by name
    assert [(d["site"], d["status"]) for d in report["datacentres"]] == [
        ("DC-HCM", "warning"), ("DC-HN", "warning")]
    assert main(["report", "datacentre", "--config", str(config), "--site", "DC-HN"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("== DC-HN  (warning)")
    assert "ups-hn-3" in table and "rack 3" in table and "srv-hcm-1" not in table


def test_cli_without_a_store_says_so(tmp_path: Path, capsys):
    config = tmp_path / "netmon.yaml"
    config.write_text(f"state_dir: {tmp_path / 'nothing'}\n", encoding="utf-8")
    assert main(["report", "datacentre", "--config", str(config)]) == 1
    assert "no local store" in capsys.readouterr().err


async def test_api_datacentre_serves_the_same():
    state = DaemonState()
    for s in samples():
        state.datacentre[(s.target, s.measurement, tuple(sorted(s.tags.items())))] = s
    async with TestClient(TestServer(build_app(state, HttpOptions()), host="127.0.0.1")) as c:
        resp = await c.get("/api/datacentre")
        assert resp.status == 200
        body = await resp.json()
        assert body == json.loads(json.dumps(build_report(samples())))
        resp = await c.get("/api/datacentre", params={"site": "DC-HCM"})
        assert [d["site"] for d in (await resp.json())["datacentres"]] == ["DC-HCM"]


def test_netmon_poll_shows_a_ups(snmpsim_corpus, tmp_path: Path, capsys):
    """``netmon poll`` of a data-centre target prints its UPS beside its links."""
    secret = tmp_path / "community"
    secret.write_text("abbups_abbups\n", encoding="utf-8")
    secret.chmod(0o600)
    config = tmp_path / "netmon.yaml"
    config.write_text(f"""\
state_dir: {tmp_path / 'state'}
snmp_profiles:
  rec: {{version: "2c", community: "file:community"}}
targets:
  - name: ups-abb
    site: DC-HN
    tier: datacentre
    address: {snmpsim_corpus.host}
    port: {snmpsim_corpus.port}
    snmp: rec
    collectors: [ups]
""", encoding="utf-8")
    assert main(["poll", "--config", str(config), "ups-abb", "--count", "1"]) == 0
    out = capsys.readouterr().out
    assert "== DC-HN  (ok)" in out
    assert "ups-abb" in out and "normal" in out and "452m" in out
    assert main(["poll", "--config", str(config), "ups-abb", "--count", "1", "--json"]) == 0
    (ups,) = json.loads(capsys.readouterr().out)["datacentre"][0]["ups"]
    assert ups["runtime_s"] == 452 * 60 and ups["load_pct"] == 6


def test_daemon_keeps_the_latest_reading_of_each_thing_and_forgets_a_removed_target(
        tmp_path: Path):
    from netmon.config import load_config
    from netmon.daemon import Daemon, TargetState
    from netmon.poll import PollResult

    (tmp_path / "community").write_text("x\n", encoding="utf-8")
    (tmp_path / "community").chmod(0o600)
    config_path = tmp_path / "netmon.yaml"
    config_path.write_text(f"""\
state_dir: {tmp_path / 'state'}
snmp_profiles:
  p: {{version: "2c", community: "file:community"}}
targets:
  - {{name: ups-hn-2, site: DC-HN, tier: datacentre, address: 192.0.2.1, snmp: p}}
""", encoding="utf-8")
    config = load_config(config_path)
    daemon = Daemon(config, config_path)
    state = TargetState(config.target("ups-hn-2"))
    older = [s for s in samples(NOW - timedelta(minutes=1)) if s.target == "ups-hn-2"]
    newer = [s for s in samples(NOW) if s.target == "ups-hn-2"]
    for batch in (older, newer):
        daemon._record(state, PollResult("ups-hn-2", NOW, 0.1, batch))
    (kept,) = daemon.state.datacentre.values()
    assert kept.ts == NOW
    daemon._forget("ups-hn-2")
    assert daemon.state.datacentre == {}
