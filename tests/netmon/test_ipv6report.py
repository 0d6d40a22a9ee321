"""IPv6 roll-ups: per tier, province, site and agency; ``netmon report ipv6``; ``/api/ipv6``.

The roll-up is checked on samples built here (every number can be counted by
hand), the command end to end against snmpsim serving generated recordings of
levels 1, 3 and 4, and the API through a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import ipv6_records as rec
from aiohttp.test_utils import TestClient, TestServer
from waiting import free_port

from netmon.cli import main
from netmon.daemon import DaemonState
from netmon.httpapi import HttpOptions, build_app
from netmon.ipv6report import build_report, format_csv, format_table
from netmon.model import IPV6_READINESS, IPV6_SERVICE, Sample

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def readiness(device: str, tier: str, province: str, level: int | None, reasons: str = "",
              ts: datetime = T0) -> Sample:
    tags = {"device": device, "site": device.upper(), "tier": tier, "province": province}
    fields: dict = ({"level": level, "reasons": reasons} if level is not None
                    else {"error": f"{device}: no response"})
    return Sample(device, IPV6_READINESS, tags, fields, ts)


def service(device: str, tier: str, province: str, name: str, colour: str, agency: str,
            kind: str = "portal", reasons: str = "") -> Sample:
    tags = {"device": device, "site": device.upper(), "tier": tier, "province": province,
            "agency": agency, "service": name, "kind": kind}
    return Sample(device, IPV6_SERVICE, tags, {"colour": colour, "reasons": reasons}, T0)


SAMPLES = [
    readiness("hni", "province", "HN", 4),
    readiness("hcm", "province", "HCM", 3, "IPv6 traffic 0% of IP traffic, below the 0.1% floor"),
    readiness("dng", "province", "DN", 4, ts=T0 - timedelta(hours=1)),
    readiness("dng", "province", "DN", 1, "no global IPv6 address on uplink ge-0/0/1; "
                                          "no ::/0 route"),  # the latest run wins
    readiness("mof", "ministry", "HN", None),
    service("hni", "province", "HN", "https://hanoi.gov.vn/", "green", "UBND-HN"),
    service("hcm", "province", "HCM", "https://hcmc.gov.vn/", "yellow", "UBND-HCM",
            reasons="hcmc.gov.vn at [2001:db8::1]:443: timed out"),
    service("dng", "province", "DN", "https://danang.gov.vn/", "grey", "UBND-DN"),
    service("hni", "province", "HN", "hanoi.gov.vn", "red", "UBND-HN", kind="mail",
            reasons="no AAAA record for mx.hanoi.gov.vn"),
]


def test_rollup_counts():
    report = build_report(SAMPLES)
    assert report["devices"] == 4
    assert report["services"] == 4
    tiers = {g["name"]: g for g in report["rollups"]["tier"]}
    prov = tiers["province"]
    assert prov["devices"] == 3
    assert prov["levels"] == {"0": 0, "1": 1, "2": 0, "3": 1, "4": 1}
    assert (prov["level3_plus"], prov["level3_plus_pct"]) == (2, 66.7)
    assert (prov["level4"], prov["level4_pct"]) == (1, 33.3)
    assert prov["services"] == {"green": 1, "yellow": 1, "red": 1, "grey": 1}
    assert (prov["portals_green"], prov["portals"]) == (1, 2)  # grey is not counted
    assert tiers["ministry"]["unknown"] == 1
    assert report["summary"] == [
        "ministries at level ≥ 3: 0/0",
        "provinces at level ≥ 3: 2/3 (66.7%); portals working over IPv6: 1/2",
    ]
    provinces = {g["name"]: g for g in report["rollups"]["province"]}
    assert provinces["HN"]["devices"] == 2 and provinces["HN"]["services"]["red"] == 1
    agencies = {g["name"]: g for g in report["rollups"]["agency"]}
    assert set(agencies) == {"UBND-HN", "UBND-HCM", "UBND-DN"}
    assert agencies["UBND-HCM"]["services"]["yellow"] == 1
    below = {d["device"]: d for d in report["devices_below_level3"]}
    assert set(below) == {"dng", "mof"}
    assert below["dng"]["reasons"] == ["no global IPv6 address on uplink ge-0/0/1",
                                       "no ::/0 route"]
    assert below["mof"]["level"] is None and below["mof"]["reasons"] == ["mof: no response"]
    assert [s["service"] for s in report["services_not_green"]] == [
        "https://hcmc.gov.vn/", "hanoi.gov.vn"]


def test_rollup_of_one_tier():
    report = build_report(SAMPLES, tier="ministry")
    assert report["devices"] == 1
    assert report["services"] == 0
    assert [g["name"] for g in report["rollups"]["tier"]] == ["ministry"]


def test_table_and_csv():
    report = build_report(SAMPLES)
    table = format_table(report)
    assert "provinces at level ≥ 3: 2/3 (66.7%); portals working over IPv6: 1/2" in table
    assert ("  dng (tier province, province DN, site DNG): level 1 enabled: no global IPv6 "
            "address on uplink ge-0/0/1; no ::/0 route") in table
    assert ("  portal https://hcmc.gov.vn/ (agency UBND-HCM, device hcm): yellow: "
            "hcmc.gov.vn at [2001:db8::1]:443: timed out") in table
    rows = list(csv.DictReader(io.StringIO(format_csv(report))))
    prov = next(r for r in rows if r["dimension"] == "tier" and r["group"] == "province")
    assert prov["devices"] == "3" and prov["level1"] == "1" and prov["level3_plus_pct"] == "66.7"
    assert {r["dimension"] for r in rows} == {"tier", "province", "site", "agency"}


def test_netmon_report_ipv6_end_to_end(tmp_path, snmpsim_factory, capsys):
    sim = snmpsim_factory({"l1": rec.level(1), "l3": rec.level(3), "l4": rec.level(4)},
                          ipv4=True, ipv6=True)
    for name in ("l1", "l3", "l4"):
        (tmp_path / name).write_text(name + "\n")
    path = tmp_path / "netmon.yaml"

    def router(name: str, site: str, tier: str, snmp: str, extra: str = "") -> str:
        return (f"  - name: {name}\n    site: {site}\n    tier: {tier}\n"
                f"    address: 127.0.0.1\n    snmp: {snmp}\n"
                "    links: [{ifName: ge-0/0/1, role: uplink}]\n" + extra)

    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "snmp_profiles:\n"
        + "".join(f'  {n}: {{version: "2c", community: "file:{n}"}}\n'
                  for n in ("l1", "l3", "l4")) +
        "defaults: {collectors: [interfaces, ipv6], port: " + str(sim.port) + "}\n"
        "targets:\n"
        + router("hni-r1", "HNI", "province", "l4", "    address6: '::1'\n")
        + router("hcm-r1", "HCM", "province", "l3")
        + router("dng-r1", "DNG", "province", "l1")
        + router("mof-r1", "MOF", "ministry", "l3", "    collectors: [interfaces]\n")
    )
    assert main(["report", "ipv6", "--config", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["devices"] == 3  # mof-r1 does not list the ipv6 collector
    assert report["summary"] == ["provinces at level ≥ 3: 2/3 (66.7%)"]
    (dng,) = report["devices_below_level3"]
    assert dng["device"] == "dng-r1" and dng["level"] == 1
    assert dng["reasons"][0] == "no global IPv6 address on uplink ge-0/0/1"
    assert main(["report", "ipv6", "--config", str(path), "--tier", "province"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("IPv6 readiness (tier province): 3 devices, 0 services\n")
    assert main(["report", "ipv6", "--config", str(path), "--tier", "ministry"]) == 1
    assert "no target lists the ipv6 collector in tier ministry" in capsys.readouterr().err


async def test_api_ipv6_serves_the_daemons_latest_run():
    state = DaemonState()
    state.periodic[("all", "ipv6")] = SAMPLES
    state.periodic[("other", "something-else")] = [readiness("x", "district", "X", 0)]
    server = TestServer(build_app(state, HttpOptions()), host="127.0.0.1", port=free_port())
    async with TestClient(server) as client:
        resp = await client.get("/api/ipv6")
        assert resp.status == 200
        body = await resp.json()
        assert body == json.loads(json.dumps(build_report(SAMPLES)))
        resp = await client.get("/api/ipv6?tier=province")
        assert (await resp.json())["devices"] == 3
