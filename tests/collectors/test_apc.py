"""APC PowerNet collector: an APC UPS in the same fields as UPS-MIB, and rack-PDU probes
with the PDU's configured limits; the APC recordings of snmpsim-data (rack PDUs)."""

from __future__ import annotations

import pytest
from dcdata import parse, read_kept, rec_id, ups_files
from test_ups_mib import collect, only

from collectors.apc import ApcCollector
from netmon.model import POLL_ISSUE, SENSOR, UPS

U = "1.3.6.1.4.1.318.1.1.1"
P = "1.3.6.1.4.1.318.1.1.26.10.2"

APC_UPS = [
    (f"{U}.1.1.1.0", "4", "Smart-UPS X 3000"),
    (f"{U}.2.1.1.0", "2", "2"),            # batteryNormal
    (f"{U}.2.1.2.0", "67", "0"),
    (f"{U}.2.2.1.0", "66", "97"),
    (f"{U}.2.2.2.0", "66", "24"),
    (f"{U}.2.2.3.0", "67", "222000"),      # 2220 s
    (f"{U}.2.2.4.0", "2", "2"),            # batteryNeedsReplacing
    (f"{U}.2.3.1.0", "66", "975"),         # 97.5 %
    (f"{U}.2.3.2.0", "66", "243"),         # 24.3 °C
    (f"{U}.3.2.1.0", "66", "229"),
    (f"{U}.3.2.4.0", "66", "50"),
    (f"{U}.4.1.1.0", "2", "12"),           # onSmartTrim
    (f"{U}.4.2.3.0", "66", "41"),
    (f"{U}.4.3.3.0", "66", "412"),         # 41.2 %
    (f"{U}.4.2.1.0", "66", "230"),
    (f"{U}.7.2.3.0", "2", "2"),            # failed
]


async def test_apc_ups_same_fields_as_ups_mib(snmpsim_factory):
    sim = snmpsim_factory({"smartups": APC_UPS})
    samples = await collect(ApcCollector(), sim, "smartups")
    (ups,) = only(samples, UPS)
    f = ups.fields
    assert f["mib"] == "PowerNet"
    assert f["model"] == "Smart-UPS X 3000"
    assert f["battery_status"] == "normal"
    assert f["runtime_s"] == 2220
    assert f["on_battery_s"] == 0
    assert f["charge_pct"] == 97.5          # high precision preferred
    assert f["battery_temperature_c"] == 24.3
    assert f["input_l1_voltage_v"] == 229
    assert f["input_l1_frequency_hz"] == 50
    assert f["output_source"] == "reducer"
    assert f["output_load_pct"] == 41.2
    assert f["output_l1_voltage_v"] == 230
    assert f["self_test"] == "error"
    assert f["alarms"] == "batteryBad" and f["alarms_present"] == 1
    assert only(samples, POLL_ISSUE) == []


def probe(index, *, temp_tenths, temp_status=4, humidity=45, humidity_status=4, comm=2,
          high=30, maximum=35, low=20, minimum=10, name="rack 12 inlet"):
    return [
        (f"{P}.1.1.3.{index}", "4", name), (f"{P}.1.1.10.{index}", "2", str(maximum)),
        (f"{P}.1.1.11.{index}", "2", str(high)), (f"{P}.1.1.13.{index}", "2", str(low)),
        (f"{P}.1.1.14.{index}", "2", str(minimum)),
        (f"{P}.2.1.3.{index}", "4", name), (f"{P}.2.1.6.{index}", "2", str(comm)),
        (f"{P}.2.1.8.{index}", "2", str(temp_tenths)),
        (f"{P}.2.1.9.{index}", "2", str(temp_status)),
        (f"{P}.2.1.10.{index}", "2", str(humidity)),
        (f"{P}.2.1.11.{index}", "2", str(humidity_status)),
    ]


async def test_pdu_probe_with_configured_limits(snmpsim_factory):
    records = probe(1, temp_tenths=312, temp_status=5) + probe(
        2, temp_tenths=-1, comm=1, name="empty port")
    sim = snmpsim_factory({"pdu": records})
    samples = await collect(ApcCollector(), sim, "pdu")
    assert only(samples, UPS) == []
    sensors = {(s.tags["sensor"], s.tags["kind"]): s for s in only(samples, SENSOR)}
    assert set(sensors) == {("rack 12 inlet", "temperature"), ("rack 12 inlet", "humidity")}
    t = sensors["rack 12 inlet", "temperature"].fields
    assert t["temperature_c"] == 31.2
    assert t["status"] == "high_warning"
    assert (t["high_warning_c"], t["high_critical_c"]) == (30, 35)
    assert t["limits_from"] == "pdu"
    h = sensors["rack 12 inlet", "humidity"].fields
    assert (h["humidity_pct"], h["low_warning_pct"], h["low_critical_pct"]) == (45, 20, 10)


APC_FILES = [p for p in ups_files() if p.name.startswith("apc-")]


def test_snmpsim_data_has_apc():
    assert len(APC_FILES) == 3


@pytest.mark.parametrize("path", APC_FILES, ids=rec_id)
async def test_snmpsim_data_apc(snmpsim_dc, path):
    """These are rack PDUs (AP7902B, AP8641, AP8932): no UPS objects and no probe
    installed, and netmon reports exactly that: nothing, and no error."""
    rec = parse(read_kept(path))
    samples = await collect(ApcCollector(), snmpsim_dc, rec_id(path))
    has_ups = any(oid.startswith(U + ".") for oid in rec)
    assert len(only(samples, UPS)) == int(has_ups)
    installed = [oid for oid, (_tag, value) in rec.items()
                 if oid.startswith(f"{P}.2.1.6.") and value != "1"]
    assert len({s.tags["sensor"] for s in only(samples, SENSOR)}) == len(installed)
    assert only(samples, POLL_ISSUE) == []
