"""HOST-RESOURCES-MIB collector on every server of snmpsim-data (os/) and on generated
quirks: no crash, and uptime, processors and hrStorageTable rows as the recording has
them, in bytes (allocation units x size/used)."""

from __future__ import annotations

import pytest
from dcdata import int_at, ints_under, parse, read_kept, rec_id, server_files
from test_ups_mib import collect, only

from collectors.host_resources import HostResourcesCollector
from netmon.model import HOST, POLL_ISSUE

HR = "1.3.6.1.2.1.25"
SERVERS = server_files()


def test_snmpsim_data_has_servers():
    assert len(SERVERS) >= 15


@pytest.mark.parametrize("path", SERVERS, ids=rec_id)
async def test_snmpsim_data_server(snmpsim_dc, path):
    rec = parse(read_kept(path))
    samples = await collect(HostResourcesCollector(), snmpsim_dc, rec_id(path))
    hosts = only(samples, HOST)
    if not any(oid.startswith(HR + ".") for oid in rec):
        assert samples == []
        return
    summary = [s for s in hosts if "cpu" not in s.tags and "storage" not in s.tags]
    cpus = {s.tags["cpu"]: s.fields["cpu_load_pct"] for s in hosts if "cpu" in s.tags}
    storage = {s.tags["storage"]: s for s in hosts if "storage" in s.tags}

    uptime = int_at(rec, f"{HR}.1.1.0")
    if uptime is not None:
        assert summary[0].fields["uptime_s"] == uptime / 100
    load_col = f"{HR}.3.3.1.2."
    assert set(cpus) == {oid[len(load_col):] for oid in rec if oid.startswith(load_col)}
    plain = ints_under(rec, f"{HR}.3.3.1.2")  # (others are snmpsim numeric variations)
    assert {i: cpus[i] for i in plain} == plain
    assert all(0 <= v <= 100 for v in cpus.values())
    if cpus:
        assert summary[0].fields["cpu_load_pct"] == pytest.approx(
            sum(cpus.values()) / len(cpus), abs=0.01)
    units = ints_under(rec, f"{HR}.2.3.1.4")
    sizes = ints_under(rec, f"{HR}.2.3.1.5")
    used = ints_under(rec, f"{HR}.2.3.1.6")
    complete = set(units) & set(sizes) & set(used)
    assert len(storage) == len(complete)
    got = sorted((s.fields["size_bytes"], s.fields["used_bytes"]) for s in storage.values())
    want = sorted(((sizes[i] % 2**32) * units[i], (used[i] % 2**32) * units[i])
                  for i in complete)
    assert got == want


async def test_windows_drive_names_and_ram(snmpsim_dc):
    samples = await collect(HostResourcesCollector(), snmpsim_dc, "windows-XP")
    storage = {s.tags["storage"]: s for s in only(samples, HOST) if "storage" in s.tags}
    assert set(storage) == {"C:\\", "D:\\", "Z:\\", "Virtual Memory", "Physical Memory"}
    c = storage["C:\\"]
    assert c.tags["storage_type"] == "fixed_disk"
    assert c.fields["size_bytes"] == 1952447 * 16384
    assert c.fields["used_pct"] == pytest.approx(100 * 1884128 / 1952447, abs=0.01)
    assert "used_pct" not in storage["D:\\"].fields  # CD drive, no medium
    (summary,) = [s for s in only(samples, HOST) if set(s.tags) == {"device", "site", "tier",
                                                                     "province"}]
    assert summary.fields["memory_used_bytes"] == 9686 * 65536
    assert summary.fields["memory_size_bytes"] == 1014576 * 1024


async def test_wrapped_sizes_and_missing_columns(snmpsim_factory):
    records = [
        (f"{HR}.2.3.1.2.1", "6", f"{HR}.2.1.4"), (f"{HR}.2.3.1.3.1", "4", "/data"),
        (f"{HR}.2.3.1.4.1", "2", "4096"),
        (f"{HR}.2.3.1.5.1", "2", "-1294967296"),  # 3,000,000,000 units, wrapped
        (f"{HR}.2.3.1.6.1", "2", "-1594967296"),  # 2,700,000,000, wrapped
        (f"{HR}.2.3.1.3.2", "4", "/broken"),  # descr only
    ]
    sim = snmpsim_factory({"server": records})
    samples = await collect(HostResourcesCollector(), sim, "server")
    (data,) = [s for s in only(samples, HOST) if s.tags.get("storage") == "/data"]
    assert data.fields["size_bytes"] == 3_000_000_000 * 4096
    assert data.fields["used_pct"] == 90.0
    issues = [s.fields["message"] for s in only(samples, POLL_ISSUE)]
    assert any("/broken" in m for m in issues), issues
    assert any("hrProcessorLoad" in m for m in issues), issues
