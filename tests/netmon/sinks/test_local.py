"""The local store: write, query by target/link/field/since, formats, retention."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from netmon import model
from netmon.model import Sample
from netmon.sinks.build import build_sinks
from netmon.sinks.influx import InfluxOptions, InfluxSink
from netmon.sinks.local import LocalStore, LocalStoreOptions, run_query
from netmon.sinks.options import StorageOptions

NOW = time.time()


def s(target: str, if_name: str, link: str, age_s: float, **fields) -> Sample:
    ts = datetime.fromtimestamp(NOW - age_s, UTC)
    return Sample(
        target=target,
        measurement="interface",
        tags={"site": "HNI", "device": target, "ifName": if_name, "link": link, "role": ""},
        fields=fields,
        ts=ts,
    )


SAMPLES = [
    s("r1", "xe-0/0/0", "HNI-HCM-1", 120, in_bps=1.5e9, util_pct=15.0, status="up"),
    s("r1", "xe-0/0/0", "HNI-HCM-1", 60, in_bps=2.5e9, util_pct=25.0, status="up"),
    s("r1", "xe-0/0/1", "HNI-DNG-1", 60, in_bps=1.0, util_pct=0.5, status="down"),
    s("r2", "ge-1/0/0", "", 30, in_bps=7.0, oper_status=1, reachable=True),
    s("r1", "xe-0/0/0", "HNI-HCM-1", 7200, in_bps=9.0),
]


async def filled(tmp_path: Path) -> LocalStore:
    store = LocalStore.in_state_dir(tmp_path, LocalStoreOptions(retention="1d"))
    await store.write(SAMPLES[:2])
    await store.write(SAMPLES[2:])
    return store


async def test_query_filters(tmp_path: Path) -> None:
    store = await filled(tmp_path)
    await store.flush()
    got = store.query(target="r1", link="HNI-HCM-1", field="in_bps", now=NOW)
    assert [(r["value"], r["ifName"]) for r in got] == [(1.5e9, "xe-0/0/0"), (2.5e9, "xe-0/0/0")]
    assert got[0]["tags"] == {"site": "HNI", "device": "r1", "ifName": "xe-0/0/0",
                              "link": "HNI-HCM-1", "role": ""}
    # by ifName, strings kept, bools as 0/1, ints as ints
    assert [r["value"] for r in store.query(link="xe-0/0/1", field="status", now=NOW)] == ["down"]
    r2 = {r["field"]: r["value"] for r in store.query(target="r2", now=NOW)}
    assert r2 == {"in_bps": 7.0, "oper_status": 1, "reachable": 1}
    assert type(r2["oper_status"]) is int
    # since_s: the 2-hour-old point only with a longer window
    assert len(store.query(target="r1", field="in_bps", now=NOW)) == 3
    assert len(store.query(target="r1", field="in_bps", since_s=3 * 3600, now=NOW)) == 4
    assert store.query(measurement="device", now=NOW) == []
    await store.aclose()


async def test_run_query_formats(tmp_path: Path) -> None:
    store = await filled(tmp_path)
    await store.aclose()
    db = tmp_path / "netmon.sqlite"
    kw = dict(target="r1", link=None, since_s=3600, field="in_bps", now=NOW)

    table = run_query(db, fmt="table", **kw).splitlines()
    assert table[0].split() == ["ts", "target", "link/ifName", "field", "value"]
    assert len(table) == 4
    assert table[1].split()[1:] == ["r1", "HNI-HCM-1", "in_bps", "1500000000"]
    assert len({len(line) for line in table[1:]}) == 1  # aligned
    first_ts = datetime.fromisoformat(table[1].split()[0])
    assert first_ts.tzinfo is not None and first_ts.utcoffset() == timedelta(0)
    assert abs(first_ts.timestamp() - (NOW - 120)) < 0.01

    rows = list(csv.DictReader(io.StringIO(run_query(db, fmt="csv", **kw))))
    assert [float(r["value"]) for r in rows] == [1.5e9, 1.0, 2.5e9]
    assert rows[1]["link"] == "HNI-DNG-1" and rows[1]["ifName"] == "xe-0/0/1"

    data = json.loads(run_query(db, fmt="json", **kw))
    assert [d["value"] for d in data] == [1.5e9, 1.0, 2.5e9]

    # A known target with nothing in the range; an unknown one is an error (test_query.py).
    empty = run_query(db, fmt="table", target="r1", link=None, since_s=10, field=None, now=NOW)
    assert "(no points between" in empty


async def test_retention_prunes_old_points(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "netmon.sqlite", LocalStoreOptions(retention="1h"),
                       flush_interval_s=0.02, prune_interval_s=0.05)
    await store.write(SAMPLES)  # 13 field values, one of them 2 hours old
    deadline = time.monotonic() + 5
    while len(store.query(since_s=10 * 3600, now=NOW)) != 12:
        assert time.monotonic() < deadline, "background prune did not run"
        await asyncio.sleep(0.02)
    await store.write(SAMPLES[-1:])
    await store.flush()
    assert store.prune() == 1
    await store.aclose()


async def test_close_flushes_everything(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "netmon.sqlite", flush_interval_s=60)
    await store.write(SAMPLES)
    await store.aclose()
    again = LocalStore(tmp_path / "netmon.sqlite")
    assert len(again.query(since_s=86400, now=NOW)) == 13
    await again.aclose()


def test_build_sinks(tmp_path: Path) -> None:
    [local] = build_sinks(StorageOptions(), tmp_path)
    assert isinstance(local, LocalStore) and local.path == tmp_path / "netmon.sqlite"
    influx = InfluxOptions(url="http://127.0.0.1:1", org="o", bucket="b", token=SecretStr("t"))
    [sink] = build_sinks(StorageOptions(influxdb=influx), tmp_path)
    assert isinstance(sink, InfluxSink) and sink.spool.path == tmp_path / "spool.sqlite"


def readme_local_store() -> str:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start = readme.index("**Local store**")
    return readme[start:readme.index("\n### ", start)]


async def test_readme_documents_every_measurement_query_can_read(tmp_path: Path) -> None:
    section = readme_local_store()
    listed = re.findall(r"^  \* `(\w+)`:", section, re.M)
    # Everything the rate step hands to the sinks: all measurements but the raw
    # counters and the spool figures handed to the alert engine only.
    stored = {getattr(model, name) for name in dir(model)
              if name.isupper() and isinstance(getattr(model, name), str)
              } - {model.IF_COUNTERS, model.SPOOL}
    assert sorted(listed) == sorted(stored)
    assert "`<state_dir>/netmon.sqlite`" in section and "`/var/lib/netmon`" in section
    assert "`storage.local.retention`, default `30d`" in section
    assert LocalStoreOptions().retention_s == 30 * 86400.0

    store = LocalStore.in_state_dir(tmp_path)
    ts = datetime.fromtimestamp(NOW - 10, UTC)
    await store.write([Sample("r1", m, {"device": "r1"}, {"value_" + m: 1}, ts) for m in listed])
    await store.aclose()
    for m in listed:
        out = json.loads(run_query(tmp_path / "netmon.sqlite", target=None, link=None,
                                   since_s=60, field=None, fmt="json", measurement=m, now=NOW))
        assert [r["field"] for r in out] == ["value_" + m], m
# ---------------------------------------------------------------- one bad value, a failing disk


async def wait_for(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_value_sqlite_cannot_hold_is_left_out_not_fatal(tmp_path: Path) -> None:
    """Issue: one device's 2^64 stopped the store for every device, silently."""
    store = LocalStore.in_state_dir(tmp_path, LocalStoreOptions(retention="1d"))
    store.flush_interval_s = 0.05
    bad = s("hostile", "eth0", "", 10, oper_status=2**64, in_bps=3.0, blob=object())
    good = s("r1", "xe-0/0/0", "HNI-HCM-1", 10, in_bps=5.0, oper_status=1)
    await store.write([bad, good])
    await wait_for(lambda: store.stats.points_written == 3)  # the background task did it
    assert store._task is not None and not store._task.done()
    got = {(r["target"], r["field"]): r["value"] for r in store.query(now=NOW)}
    assert got == {("hostile", "in_bps"): 3.0, ("r1", "in_bps"): 5.0, ("r1", "oper_status"): 1}
    assert store.stats.points_dropped == 2
    assert store.stats.failing is None
    await store.write([good])
    await store.aclose()  # no exception: a shutdown stores what is queued
    assert run_query(tmp_path / "netmon.sqlite", target="r1", link=None, since_s=3600,
                     field="in_bps", fmt="csv", now=NOW).count("\n") == 3


async def test_failing_inserts_keep_the_points_and_are_reported(tmp_path: Path) -> None:
    store = LocalStore.in_state_dir(tmp_path, LocalStoreOptions(retention="1d"))
    store.flush_interval_s = 0.05
    # A real SQLite refusal: the connection becomes read-only (as a full or
    # read-only disk would make it).
    store._db.execute("PRAGMA query_only = ON")
    await store.write(SAMPLES[:2])
    await wait_for(lambda: store.stats.write_errors >= 2)
    stats = store.stats
    assert stats.failing is not None and "readonly" in stats.failing
    assert stats.points_written == 0 and stats.queue_points == 6  # kept, not lost
    assert store._task is not None and not store._task.done()
    store._db.execute("PRAGMA query_only = OFF")
    await wait_for(lambda: store.stats.points_written == 6)
    assert store.stats.failing is None
    await store.aclose()
