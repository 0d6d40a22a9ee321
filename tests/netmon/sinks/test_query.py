"""``netmon query`` over a real local store: --until, --agg per --every, --where, and
unknown targets, links, fields and measurements as errors that list the close matches."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netmon.model import Sample
from netmon.sinks.local import LocalStore
from netmon.sinks.query import QueryError, run_query

HOUR = 3600.0
NOW = 1_780_000_000.0 - 1_780_000_000.0 % 86400 + 6 * HOUR  # 06:00 UTC on some day


def point(target: str, link: str, age_s: float, **fields) -> Sample:
    return Sample(target, "interface",
                  {"device": target, "site": "HNI", "ifName": f"if-{link}", "link": link},
                  fields, datetime.fromtimestamp(NOW - age_s, UTC))


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    """core-a/up: util 10, 20 ... 120% a minute apart in the hour 04:00-05:00 (12 points),
    and 30% at 05:30; core-b/up: 40% every 10 minutes of the last 2 hours."""
    store = LocalStore.in_state_dir(tmp_path)
    samples = [point("core-a", "up", 2 * HOUR - 60 * k, util_pct=10.0 * (k + 1),
                     in_bps=1e6 * (k + 1), status="ok") for k in range(12)]
    samples.append(point("core-a", "up", 0.5 * HOUR, util_pct=30.0, in_bps=3e6, status="ok"))
    samples += [point("core-b", "up", 600 * k + 1, util_pct=40.0, in_bps=4e6)
                for k in range(12)]
    await store.write(samples)
    await store.aclose()
    return tmp_path / "netmon.sqlite"


def q(db: Path, **kw) -> str:
    args = dict(target=None, link=None, since_s=3 * HOUR, field="util_pct", fmt="json",
                now=NOW)
    return run_query(db, **{**args, **kw})


def values(out: str) -> list[tuple[str, str, float]]:
    return [(r["ts"][11:16], r["target"], r["value"]) for r in json.loads(out)]


async def test_agg_per_every_hour(db: Path) -> None:
    got = values(q(db, target="core-a", agg="max", every_s=HOUR))
    assert got == [("04:00", "core-a", 120.0), ("05:00", "core-a", 30.0)]
    got = values(q(db, target="core-a", agg="avg", every_s=HOUR))
    assert got == [("04:00", "core-a", 65.0), ("05:00", "core-a", 30.0)]
    # nearest rank: 12 values, rank ceil(11.4) = 12 -> the largest; 13 values over the range
    # (no --every): rank ceil(12.35) = 13 -> 120
    assert values(q(db, target="core-a", agg="p95", every_s=HOUR))[0][2] == 120.0
    (whole,) = values(q(db, target="core-a", agg="p95"))
    assert whole == ("03:00", "core-a", 120.0)
    table = q(db, target="core-a", agg="p95", every_s=HOUR, fmt="table")
    assert "p95(util_pct)" in table


async def test_until_and_where(db: Path) -> None:
    early = values(q(db, target="core-a", until="1h"))  # before 05:00
    assert len(early) == 12 and all(ts.startswith("04:") for ts, _, _ in early)
    iso = values(q(db, target="core-a", until=datetime.fromtimestamp(
        NOW - 1.5 * HOUR, UTC).isoformat()))
    assert len(iso) == 12
    over = values(q(db, where=["util_pct>=50"]))
    assert [v for *_, v in over] == [50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0]
    # the condition on another field of the same point: in_bps of the links over 50%
    rows = json.loads(q(db, field="in_bps", where=["util_pct>=100"]))
    assert [r["value"] for r in rows] == [10e6, 11e6, 12e6]
    # daily p95 per link, then only those over 50%: the planner's "links over 50%"
    hot = values(q(db, agg="p95", every_s=86400, where=["util_pct > 50"]))
    assert [t for _, t, _ in hot] == ["core-a"]
    rows = list(csv.DictReader(io.StringIO(q(db, fmt="csv", agg="max", where=["util_pct<45"],
                                              target="core-b"))))
    assert [r["field"] for r in rows] == ["max(util_pct)"]


@pytest.mark.parametrize(("kw", "message"), [
    ({"target": "core-c"}, "unknown target 'core-c': close matches: core-a, core-b"),
    ({"target": "nosuch"}, "unknown target 'nosuch': known: core-a, core-b"),
    ({"field": "util_pc"},
     "unknown field of interface 'util_pc': close matches: util_pct, util_in_pct, util_out_pct"),
    ({"field": "util_pct", "where": ["util>=50"]},
     "unknown field of interface 'util': close matches: util_pct"),
    ({"link": "upp"}, "unknown link 'upp': close matches: up"),
    ({"measurement": "interfaces"},
     "unknown measurement 'interfaces': close matches: interface"),
    ({"every_s": HOUR}, "--every needs --agg (avg, max or p95)"),
    ({"where": ["util_pct >> 5"]}, "--where 'util_pct >> 5': expected FIELD OP NUMBER"),
    ({"until": "yesterday"}, "--until 'yesterday': expected a duration ago"),
    ({"until": "4h"}, "--until (2026-"),
])
async def test_unknown_names_and_bad_options_are_errors(db: Path, kw: dict,
                                                        message: str) -> None:
    with pytest.raises(QueryError) as err:
        q(db, **kw)
    assert str(err.value).startswith(message)


async def test_known_names_with_nothing_in_range_print_no_points(db: Path) -> None:
    out = q(db, target="core-a", since_s=60, fmt="table")
    assert out.splitlines()[-1].startswith("(no points between ")
    # a field of the schema not stored yet (a link's first poll has no rate) is known
    assert "(no points between" in q(db, target="core-b", field="util_in_pct", fmt="table")
    # a target named in the config but never stored yet is known, not an error
    out = q(db, target="new-router", fmt="table", known_targets=["new-router"])
    assert "(no points between" in out


async def test_cli_unknown_target_exits_non_zero(db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "netmon.yaml"
    cfg.write_text(
        f"state_dir: {db.parent}\n"
        "snmp_profiles:\n  v2: {version: \"2c\", community: \"${NETMON_TEST_COMMUNITY}\"}\n"
        "defaults: {snmp: v2}\n"
        "targets:\n  - {name: core-a, site: S, tier: backbone, address: 127.0.0.1}\n",
        encoding="utf-8")
    env = {**os.environ, "NETMON_TEST_COMMUNITY": "public"}
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "query", "--config", str(cfg),
                           "--target", "core-x", "--since", "30d"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "unknown target 'core-x': close matches: core-a, core-b"
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "query", "--config", str(cfg),
                           "--field", "nosuchfield", "--since", "30d"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and "unknown field of interface 'nosuchfield'" in done.stderr
