"""UPS-MIB collector on real recordings served by snmpsim.

* ``shared/corpus/librenms/abbups_abbups.snmprec``: every value netmon reports
  equals the recording, scaled into real units.
* every UPS of snmpsim-data: no crash; where the recording has UPS-MIB, each
  field is there exactly when its OID is, with the recording's value.
* a UPS-MIB alarm table: each upsAlarmDescr named by its standard name.
* a partial UPS-MIB: the fields it has and a poll issue naming what is missing.
"""

from __future__ import annotations

import pytest
from dcdata import corpus, int_at, ints_under, parse, read_kept, rec_id, ups_files
from pydantic import SecretStr

from collectors.ups_mib import UpsMibCollector
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.model import POLL_ISSUE, UPS, Sample
from netmon.poll import open_session
from netmon.snmp import SnmpClient

M = "1.3.6.1.2.1.33.1"


def target_for(host: str, port: int, community: str, **extra: object) -> Target:
    return Target.model_validate({
        "name": community, "site": "DC1", "tier": "datacentre", "province": "HN",
        "address": host, "port": port,
        "snmp": SnmpV2c(version="2c", community=SecretStr(community)),
        "timeout": 5.0, "retries": 1, **extra,
    })


async def collect(collector, sim, community: str) -> list[Sample]:
    target = target_for(sim.host, sim.port, community)
    async with SnmpClient() as client:
        return await collector.collect(open_session(client, target), target)


def only(samples: list[Sample], measurement: str) -> list[Sample]:
    return [s for s in samples if s.measurement == measurement]


# field -> (OID, scale to real units) for the scalars of UPS-MIB
SCALAR_FIELDS = {
    "on_battery_s": (f"{M}.2.2.0", 1),
    "runtime_s": (f"{M}.2.3.0", 60),
    "charge_pct": (f"{M}.2.4.0", 1),
    "battery_voltage_v": (f"{M}.2.5.0", 0.1),
    "battery_current_a": (f"{M}.2.6.0", 0.1),
    "battery_temperature_c": (f"{M}.2.7.0", 1),
    "output_frequency_hz": (f"{M}.4.2.0", 0.1),
    "alarms_present": (f"{M}.6.1.0", 1),
}
# per-line field -> (column OID, scale)
LINE_FIELDS = {
    "input_l{n}_frequency_hz": (f"{M}.3.3.1.2", 0.1),
    "input_l{n}_voltage_v": (f"{M}.3.3.1.3", 1),
    "input_l{n}_current_a": (f"{M}.3.3.1.4", 0.1),
    "input_l{n}_power_w": (f"{M}.3.3.1.5", 1),
    "output_l{n}_voltage_v": (f"{M}.4.4.1.2", 1),
    "output_l{n}_current_a": (f"{M}.4.4.1.3", 0.1),
    "output_l{n}_power_w": (f"{M}.4.4.1.4", 1),
    "output_l{n}_load_pct": (f"{M}.4.4.1.5", 1),
}
NOT_AVAILABLE_IF_NEGATIVE = {"on_battery_s", "runtime_s", "charge_pct", "alarms_present"}


def expected_fields(rec: dict[str, tuple[str, str]]) -> dict[str, object]:
    """What the recording holds, in netmon's field names and real units."""
    out: dict[str, object] = {}
    for field, (oid, scale) in SCALAR_FIELDS.items():
        value = int_at(rec, oid)
        if value is None or (value < 0 and field in NOT_AVAILABLE_IF_NEGATIVE):
            continue
        out[field] = value * scale
    for field, (column, scale) in LINE_FIELDS.items():
        values = ints_under(rec, column)
        indexes = sorted(values, key=lambda i: tuple(int(p) for p in i.split(".")))
        for n, index in enumerate(indexes, start=1):
            out[field.format(n=n)] = values[index] * scale
    loads = ints_under(rec, f"{M}.4.4.1.5")
    if loads:
        out["output_load_pct"] = max(loads.values())
    status = int_at(rec, f"{M}.2.1.0")
    if status is not None:
        out["battery_status"] = {1: "unknown", 2: "normal", 3: "low", 4: "depleted"}[status]
    source = int_at(rec, f"{M}.4.1.0")
    if source is not None:
        out["output_source"] = {1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery",
                                6: "booster", 7: "reducer"}[source]
    return out


def assert_matches(fields: dict[str, object], expected: dict[str, object]) -> None:
    for key, want in expected.items():
        assert key in fields, f"{key} missing; have {sorted(fields)}"
        assert fields[key] == pytest.approx(want), key
    # and nothing UPS-MIB-derived that the recording does not hold
    derived = {k for k in fields if k in SCALAR_FIELDS or k.startswith(("input_l", "output_l"))}
    assert derived <= set(expected), sorted(derived - set(expected))


async def test_abb_ups_matches_recording(snmpsim_corpus):
    rec = parse(read_kept(corpus("abbups_abbups")))
    samples = await collect(UpsMibCollector(), snmpsim_corpus, "abbups_abbups")
    (ups,) = only(samples, UPS)
    assert ups.tags == {"device": "abbups_abbups", "site": "DC1", "tier": "datacentre",
                        "province": "HN"}
    assert_matches(dict(ups.fields), expected_fields(rec))
    # spelled out once, in real units, from the recording's lines
    f = ups.fields
    assert f["battery_status"] == "normal"
    assert f["runtime_s"] == 452 * 60
    assert f["charge_pct"] == 100
    assert f["battery_voltage_v"] == pytest.approx(434.8)
    assert f["input_l1_frequency_hz"] == pytest.approx(50.0)
    assert f["input_l3_voltage_v"] == 238
    assert f["output_source"] == "normal"
    assert f["output_frequency_hz"] == pytest.approx(50.0)
    assert [f[f"output_l{n}_load_pct"] for n in (1, 2, 3)] == [6, 6, 4]
    assert f["output_load_pct"] == 6
    assert f["output_l2_current_a"] == pytest.approx(0.8)
    # the ABB agent has no alarm group: said once, not guessed
    issues = [s.fields["message"] for s in only(samples, POLL_ISSUE)]
    assert any("upsAlarmsPresent" in m for m in issues), issues
    assert "alarms" not in f


UPS_FILES = ups_files()


def test_snmpsim_data_has_ups_mib_recordings():
    with_mib = [p for p in UPS_FILES
                if any(line.startswith(M) for line in read_kept(p))]
    assert len(with_mib) >= 5


@pytest.mark.parametrize("path", UPS_FILES, ids=rec_id)
async def test_snmpsim_data_ups(snmpsim_dc, path):
    lines = read_kept(path)
    rec = parse(lines)
    samples = await collect(UpsMibCollector(), snmpsim_dc, rec_id(path))
    ups = only(samples, UPS)
    if not any(oid.startswith(M) for oid in rec):
        assert samples == []  # no UPS-MIB: nothing, not an error
        return
    assert len(ups) == 1
    assert_matches(dict(ups[0].fields), expected_fields(rec))


ALARMS = [
    (f"{M}.2.1.0", "2", "3"),
    (f"{M}.2.2.0", "2", "312"),
    (f"{M}.2.3.0", "2", "4"),
    (f"{M}.4.1.0", "2", "5"),
    (f"{M}.6.1.0", "66", "3"),
    (f"{M}.6.2.1.2.7", "6", f"{M}.6.3.2"),
    (f"{M}.6.2.1.2.8", "6", f"{M}.6.3.3"),
    (f"{M}.6.2.1.2.9", "6", "1.3.6.1.4.1.99999.1.2"),
    (f"{M}.6.2.1.3.7", "67", "100"),
    (f"{M}.7.3.0", "2", "3"),
    (f"{M}.7.4.0", "4", "battery string 2 weak"),
]


async def test_alarm_table_named_and_self_test(snmpsim_factory):
    sim = snmpsim_factory({"alarming": ALARMS})
    samples = await collect(UpsMibCollector(), sim, "alarming")
    (ups,) = only(samples, UPS)
    assert ups.fields["alarms_present"] == 3
    assert ups.fields["alarms"] == "onBattery,lowBattery,1.3.6.1.4.1.99999.1.2"
    assert ups.fields["battery_status"] == "low"
    assert ups.fields["output_source"] == "battery"
    assert ups.fields["on_battery_s"] == 312
    assert ups.fields["runtime_s"] == 240
    assert ups.fields["self_test"] == "error"
    assert ups.fields["self_test_detail"] == "battery string 2 weak"
    # no charge, no output table: said, not invented
    issues = " ".join(s.fields["message"] for s in only(samples, POLL_ISSUE))
    assert "upsEstimatedChargeRemaining" in issues and "upsOutputPercentLoad" in issues
    assert "charge_pct" not in ups.fields and "output_load_pct" not in ups.fields


async def test_negative_not_available_is_an_issue(snmpsim_factory):
    sim = snmpsim_factory({"huawei": [(f"{M}.2.1.0", "2", "2"), (f"{M}.2.3.0", "2", "-1"),
                                      (f"{M}.2.7.0", "2", "-5")]})
    samples = await collect(UpsMibCollector(), sim, "huawei")
    (ups,) = only(samples, UPS)
    assert "runtime_s" not in ups.fields
    assert ups.fields["battery_temperature_c"] == -5  # Integer32: a real temperature
    issues = " ".join(s.fields["message"] for s in only(samples, POLL_ISSUE))
    assert "upsEstimatedMinutesRemaining (reports -1)" in issues
