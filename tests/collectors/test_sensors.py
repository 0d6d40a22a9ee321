"""Environment sensor collectors on real and generated recordings served by snmpsim.

* AKCP sensorProbe8 (``shared/corpus``): every online temperature, humidity
  and dry-contact sensor, with the probe's own limits, as the recording has them.
* ENTITY-SENSOR-MIB: scale and precision into real units (a negative
  temperature, millivolts); the real Arista and Palo Alto recordings.
* Geist Watchdog (snmpsim-data iot/): temperature and humidity within what
  the recording's numeric variation serves.
* partial walks: the sensors found and a poll issue, never an exception.
"""

from __future__ import annotations

import pytest
from dcdata import corpus, entity_files, ints_under, iot_files, parse, read_kept, rec_id
from test_ups_mib import collect, only

from collectors.akcp import AkcpCollector
from collectors.entity_sensor import EntitySensorCollector
from collectors.geist import GeistCollector
from netmon.model import POLL_ISSUE, SENSOR

SP = "1.3.6.1.4.1.3854.1.2.2.1"


def by_name(samples):
    return {s.tags["sensor"]: s for s in only(samples, SENSOR)}


async def test_akcp_probe_matches_recording(snmpsim_corpus):
    rec = parse(read_kept(corpus("akcp_serverprobe8")))
    samples = await collect(AkcpCollector(), snmpsim_corpus, "akcp_serverprobe8")
    got = by_name(samples)
    for kind, table, field in (("temperature", f"{SP}.16.1", "temperature_c"),
                               ("humidity", f"{SP}.17.1", "humidity_pct")):
        online = {i for i, v in ints_under(rec, f"{table}.5").items() if v == 1}
        for index in online:
            name = rec[f"{table}.1.{index}"][1]
            s = got[name]
            assert s.tags["kind"] == kind
            if kind == "temperature":
                assert s.fields[field] == pytest.approx(int(rec[f"{table}.14.{index}"][1]) / 10)
            else:
                assert s.fields[field] == int(rec[f"{table}.3.{index}"][1])
            suffix = field.rsplit("_", 1)[1]
            for col, limit in ((7, "high_warning"), (8, "high_critical"),
                               (9, "low_warning"), (10, "low_critical")):
                assert s.fields[f"{limit}_{suffix}"] == int(rec[f"{table}.{col}.{index}"][1])
            assert s.fields["limits_from"] == "probe"
            assert s.fields["status"] == "ok"
    temps = sorted(s.fields["temperature_c"] for s in got.values()
                   if s.tags["kind"] == "temperature")
    assert temps == [19.9, 20.0, 22.1]  # the raw tenths, not the whole degrees
    assert got["Temp.Sensor 1"].fields["high_warning_c"] == 27
    assert got["Temp.Sensor 1"].tags["unit"] == "C"
    contacts = [s for s in got.values() if s.tags["kind"] == "contact"]
    online = {i for i, v in ints_under(rec, f"{SP}.18.1.4").items() if v == 1}
    assert len(contacts) == len(online) > 0
    assert got["48V Gleichrichter 230V ausgefallen"].fields["status"] == "ok"


def akcp_temp(index: int, *, raw: int | None, degree: int, status: int = 2,
              fahrenheit: bool = False, limits=(28, 32, 15, 5), online: int = 1):
    t = f"{SP}.16.1"
    records = [(f"{t}.1.{index}", "4", f"probe {index}"), (f"{t}.3.{index}", "2", str(degree)),
               (f"{t}.4.{index}", "2", str(status)), (f"{t}.5.{index}", "2", str(online)),
               (f"{t}.12.{index}", "2", "0" if fahrenheit else "1")]
    records += [(f"{t}.{col}.{index}", "2", str(v)) for col, v in zip((7, 8, 9, 10), limits,
                                                                     strict=True)]
    if raw is not None:
        records.append((f"{t}.14.{index}", "2", str(raw)))
    return records


async def test_akcp_negative_fahrenheit_fault_and_partial(snmpsim_factory):
    records = (akcp_temp(0, raw=-123, degree=-12)  # a cold room: -12.3 °C
               + akcp_temp(1, raw=None, degree=50, fahrenheit=True, limits=(86, 95, 50, 41))
               + akcp_temp(2, raw=215, degree=21, status=7)  # sensorError
               + akcp_temp(3, raw=0, degree=0, online=2))  # nothing plugged in
    # a humidity row with only its description: partial walk
    records.append((f"{SP}.17.1.1.0", "4", "lonely"))
    sim = snmpsim_factory({"probe": records})
    samples = await collect(AkcpCollector(), sim, "probe")
    got = by_name(samples)
    assert got["probe 0"].fields["temperature_c"] == -12.3
    assert got["probe 1"].fields["temperature_c"] == 10.0
    assert got["probe 1"].fields["high_warning_c"] == 30.0
    assert got["probe 1"].fields["low_critical_c"] == 5.0
    assert got["probe 2"].fields["status"] == "fault"
    assert "probe 3" not in got
    assert got["lonely"].fields["status"] == "unknown"
    assert "humidity_pct" not in got["lonely"].fields
    issues = [s.fields["message"] for s in only(samples, POLL_ISSUE)]
    assert issues == ["AKCP humidity sensor 'lonely': no value column (partial walk)"]


E = "1.3.6.1.2.1.99.1.1.1"


def entity(index: int, type_: int, scale: int, precision: int, value: int, status: int = 1,
           name: str | None = None):
    records = [(f"{E}.1.{index}", "2", str(type_)), (f"{E}.2.{index}", "2", str(scale)),
               (f"{E}.3.{index}", "2", str(precision)), (f"{E}.4.{index}", "2", str(value)),
               (f"{E}.5.{index}", "2", str(status))]
    if name:
        records.append((f"1.3.6.1.2.1.47.1.1.1.1.7.{index}", "4", name))
    return records


async def test_entity_sensor_scaled_into_real_units(snmpsim_factory):
    records = (entity(1, 8, 9, 1, -55, name="inlet")            # -5.5 °C
               + entity(2, 4, 8, 0, 12034, name="12V rail")     # 12.034 V
               + entity(3, 9, 9, 0, 45, name="room")            # 45 %RH
               + entity(4, 5, 8, 1, 15, status=3, name="psu")   # 1.5 mA, nonoperational
               + entity(5, 8, 9, 0, 30))                        # no name
    records.append((f"{E}.1.6", "2", "8"))                     # a value-less row
    sim = snmpsim_factory({"chassis": records})
    samples = await collect(EntitySensorCollector(), sim, "chassis")
    got = by_name(samples)
    assert got["inlet"].fields["temperature_c"] == -5.5
    assert got["inlet"].tags["unit"] == "C"
    assert got["12V rail"].fields["voltage_v"] == pytest.approx(12.034)
    assert got["room"].fields["humidity_pct"] == 45
    assert got["psu"].fields["current_a"] == pytest.approx(0.0015)
    assert got["psu"].fields["status"] == "fault"
    assert got["sensor 5"].fields["temperature_c"] == 30
    assert "temperature_c" not in got["sensor 6"].fields
    issues = [s.fields["message"] for s in only(samples, POLL_ISSUE)]
    assert len(issues) == 1 and "without a usable entPhySensorValue" in issues[0]


@pytest.mark.parametrize("path", entity_files(), ids=rec_id)
async def test_entity_sensor_real_recordings(snmpsim_dc, path):
    rec = parse(read_kept(path))
    samples = await collect(EntitySensorCollector(), snmpsim_dc, rec_id(path))
    sensors = only(samples, SENSOR)
    types = ints_under(rec, f"{E}.1")
    values = ints_under(rec, f"{E}.4")
    readable = {i for i, v in ints_under(rec, f"{E}.5").items() if v != 2}  # not unavailable
    assert len(sensors) == len(types) > 0
    with_value = [s for s in sensors if set(s.fields) - {"status", "mib"}]
    assert len(with_value) == len(set(types) & set(values) & readable)
    for s in sensors:
        if s.fields["status"] == "unavailable":
            assert set(s.fields) == {"status", "mib"}


@pytest.mark.parametrize("path", iot_files(), ids=rec_id)
async def test_geist_within_recording(snmpsim_dc, path):
    samples = await collect(GeistCollector(), snmpsim_dc, rec_id(path))
    got = by_name(samples)
    # snmpsim's numeric variation with wrap serves min <= v < min + max once it wraps:
    # temperatures min=100, max=300 (tenths), humidity min=25, max=50 (%RH)
    temps = {n: s.fields["temperature_c"] for n, s in got.items()
             if s.tags["kind"] == "temperature" and "dew" not in n}
    assert set(temps) == {"Watchdog Rack 01", "Above Rack 02", "Above Rack 03"}
    assert all(10.0 <= v < 40.0 for v in temps.values()), temps
    assert all(abs(v * 10 - round(v * 10)) < 1e-6 for v in temps.values())  # tenths
    assert 25 <= got["Watchdog Rack 01 humidity"].fields["humidity_pct"] < 75
    assert got["Watchdog Rack 01 dew point"].fields["temperature_c"] == 0.8
