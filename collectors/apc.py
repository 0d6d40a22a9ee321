"""APC PowerNet collector (PowerNet-MIB, 1.3.6.1.4.1.318): APC UPSes in the same ``ups``
fields as UPS-MIB, and the temperature/humidity probes of APC rack PDUs with the
limits configured on the PDU.

Step: scheduler -> **collectors** -> samples (measurements ``ups`` and ``sensor``).

UPS (upsBasic*/upsAdv*/upsHighPrec* under 318.1.1.1): the high-precision
objects (tenths) are preferred where the card has them, else the advanced
ones (whole units). Mapped onto collectors/ups_mib.py's fields:

* battery_status: upsBasicBatteryStatus (batteryInFaultCondition -> ``fault``);
* runtime_s / on_battery_s: upsAdvBatteryRunTimeRemaining /
  upsBasicBatteryTimeOnBattery (TimeTicks);
* output_source: upsBasicOutputStatus (onLine -> normal, onBattery and
  onBatteryTest -> battery, onSmartBoost -> booster, onSmartTrim -> reducer,
  the bypass states -> bypass, off -> none);
* alarms: PowerNet has no alarm table; the conditions it does report are
  named as UPS-MIB's well-known alarms (batteryBad for a battery that needs
  replacing or is in fault, onBattery, lowBattery, onBypass), so ups_alarm
  works the same on both MIBs;
* self_test: upsAdvTestDiagnosticsResults (ok -> passed, failed -> error,
  invalidTest -> aborted, testInProgress -> in_progress).

Rack PDU probes (rPDU2SensorTempHumidity*, 318.1.1.26.10.2): temperature in
tenths of °C with the PDU's own high and max thresholds (high warning and
high critical), humidity with its low and min thresholds. A probe that is not
installed (comm status notInstalled) is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from collectors.common import (
    as_int,
    as_text,
    device_tags,
    issue_samples,
    rows,
    sensor_sample,
    stamp,
    unique_names,
)
from netmon.model import UPS, Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

U = "1.3.6.1.4.1.318.1.1.1"
SCALARS = {
    f"{U}.1.1.1.0": "upsBasicIdentModel",
    f"{U}.2.1.1.0": "upsBasicBatteryStatus",
    f"{U}.2.1.2.0": "upsBasicBatteryTimeOnBattery",
    f"{U}.2.2.1.0": "upsAdvBatteryCapacity",
    f"{U}.2.2.2.0": "upsAdvBatteryTemperature",
    f"{U}.2.2.3.0": "upsAdvBatteryRunTimeRemaining",
    f"{U}.2.2.4.0": "upsAdvBatteryReplaceIndicator",
    f"{U}.2.2.8.0": "upsAdvBatteryActualVoltage",
    f"{U}.2.3.1.0": "upsHighPrecBatteryCapacity",
    f"{U}.2.3.2.0": "upsHighPrecBatteryTemperature",
    f"{U}.2.3.4.0": "upsHighPrecBatteryActualVoltage",
    f"{U}.3.2.1.0": "upsAdvInputLineVoltage",
    f"{U}.3.2.4.0": "upsAdvInputFrequency",
    f"{U}.3.3.1.0": "upsHighPrecInputLineVoltage",
    f"{U}.3.3.4.0": "upsHighPrecInputFrequency",
    f"{U}.4.1.1.0": "upsBasicOutputStatus",
    f"{U}.4.2.1.0": "upsAdvOutputVoltage",
    f"{U}.4.2.2.0": "upsAdvOutputFrequency",
    f"{U}.4.2.3.0": "upsAdvOutputLoad",
    f"{U}.4.2.4.0": "upsAdvOutputCurrent",
    f"{U}.4.3.1.0": "upsHighPrecOutputVoltage",
    f"{U}.4.3.2.0": "upsHighPrecOutputFrequency",
    f"{U}.4.3.3.0": "upsHighPrecOutputLoad",
    f"{U}.4.3.4.0": "upsHighPrecOutputCurrent",
    f"{U}.7.2.3.0": "upsAdvTestDiagnosticsResults",
}

# (field, high-precision name in tenths, advanced name in whole units)
PAIRS = (
    ("charge_pct", "upsHighPrecBatteryCapacity", "upsAdvBatteryCapacity"),
    ("battery_temperature_c", "upsHighPrecBatteryTemperature", "upsAdvBatteryTemperature"),
    ("battery_voltage_v", "upsHighPrecBatteryActualVoltage", "upsAdvBatteryActualVoltage"),
    ("input_l1_voltage_v", "upsHighPrecInputLineVoltage", "upsAdvInputLineVoltage"),
    ("input_l1_frequency_hz", "upsHighPrecInputFrequency", "upsAdvInputFrequency"),
    ("output_l1_voltage_v", "upsHighPrecOutputVoltage", "upsAdvOutputVoltage"),
    ("output_frequency_hz", "upsHighPrecOutputFrequency", "upsAdvOutputFrequency"),
    ("output_l1_load_pct", "upsHighPrecOutputLoad", "upsAdvOutputLoad"),
    ("output_l1_current_a", "upsHighPrecOutputCurrent", "upsAdvOutputCurrent"),
)

BATTERY_STATUS = {1: "unknown", 2: "normal", 3: "low", 4: "fault"}
OUTPUT_SOURCE = {1: "other", 2: "normal", 3: "battery", 4: "booster", 5: "none",
                 6: "bypass", 7: "none", 8: "other", 9: "bypass", 10: "bypass", 11: "none",
                 12: "reducer", 13: "normal", 14: "normal", 15: "battery", 16: "bypass",
                 17: "normal", 18: "normal", 20: "normal"}
TEST_RESULT = {1: "passed", 2: "error", 3: "aborted", 4: "in_progress"}
CORE = ("upsBasicBatteryStatus", "upsAdvBatteryRunTimeRemaining", "upsBasicOutputStatus")

P = "1.3.6.1.4.1.318.1.1.26.10.2"
PROBE_CONFIG = {f"{P}.1.1.3": "name", f"{P}.1.1.10": "temp_max_c",
                f"{P}.1.1.11": "temp_high_c", f"{P}.1.1.13": "humidity_low",
                f"{P}.1.1.14": "humidity_min"}
PROBE_STATUS = {f"{P}.2.1.3": "name", f"{P}.2.1.6": "comm", f"{P}.2.1.8": "temp_tenths_c",
                f"{P}.2.1.9": "temp_status", f"{P}.2.1.10": "humidity",
                f"{P}.2.1.11": "humidity_status"}
NOT_INSTALLED = 1
# rPDU2SensorTempHumidityStatusTempStatus / HumidityStatus
PROBE_VERDICT = {1: None, 2: "low_critical", 3: "low_warning", 4: "ok", 5: "high_warning",
                 6: "high_critical"}


def apc_ups_fields(values: dict[str, int]) -> tuple[dict[str, float | int | str | bool],
                                                    list[str]]:
    fields: dict[str, float | int | str | bool] = {"mib": "PowerNet"}
    missing = [n for n in CORE if n not in values]
    status = values.get("upsBasicBatteryStatus")
    if status is not None:
        fields["battery_status"] = BATTERY_STATUS.get(status, "unknown")
    if "upsBasicBatteryTimeOnBattery" in values:
        fields["on_battery_s"] = values["upsBasicBatteryTimeOnBattery"] // 100
    if "upsAdvBatteryRunTimeRemaining" in values:
        fields["runtime_s"] = values["upsAdvBatteryRunTimeRemaining"] // 100
    for field, precise, coarse in PAIRS:
        if precise in values:
            fields[field] = values[precise] / 10.0
        elif coarse in values:
            fields[field] = values[coarse]
    if "output_l1_load_pct" in fields:
        fields["output_load_pct"] = fields["output_l1_load_pct"]
    source = values.get("upsBasicOutputStatus")
    if source is not None:
        fields["output_source"] = OUTPUT_SOURCE.get(source, "other")
    test = values.get("upsAdvTestDiagnosticsResults")
    if test is not None:
        fields["self_test"] = TEST_RESULT.get(test, "none")
    alarms: list[str] = []
    if values.get("upsAdvBatteryReplaceIndicator") == 2 or status == 4:
        alarms.append("batteryBad")
    if fields.get("output_source") == "battery":
        alarms.append("onBattery")
    if status == 3:
        alarms.append("lowBattery")
    if fields.get("output_source") == "bypass":
        alarms.append("onBypass")
    fields["alarms_present"] = len(alarms)
    fields["alarms"] = ",".join(alarms)
    return fields, missing


class ApcCollector:
    name: ClassVar[str] = "apc"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk([*PROBE_CONFIG, *PROBE_STATUS], scalars=list(SCALARS))
        ts = stamp(table.ts)
        out: list[Sample] = []
        issues: list[str] = []
        values = {SCALARS[oid]: v for oid, raw in table.scalars.items()
                  if (v := as_int(raw)) is not None}
        if values:
            fields, missing = apc_ups_fields(values)
            model = as_text(table.scalars.get(f"{U}.1.1.1.0"))
            if model:
                fields["model"] = model
            out.append(Sample(target.name, UPS, device_tags(target), fields, ts))
            if missing:
                issues.append(f"PowerNet UPS lacks {', '.join(missing)} (partial agent)")
        out += self._probes(target, table.columns, ts, issues)
        return out + issue_samples(target, issues, ts)

    @staticmethod
    def _probes(target: Target, columns: dict[str, dict[str, object]], ts: datetime,
                issues: list[str]) -> list[Sample]:
        config = rows(columns, PROBE_CONFIG)
        status = rows(columns, PROBE_STATUS)
        present = {i: r for i, r in status.items() if as_int(r.get("comm")) != NOT_INSTALLED}
        names = unique_names({i: as_text(r.get("name")) or f"probe {i}"
                              for i, r in present.items()})
        out: list[Sample] = []
        for index, row in present.items():
            limits_row = config.get(index, {})

            def limit(key: str, row: dict[str, object] = limits_row) -> float | None:
                value = as_int(row.get(key))
                return float(value) if value is not None and value >= 0 else None

            tenths = as_int(row.get("temp_tenths_c"))
            temp_status = PROBE_VERDICT.get(as_int(row.get("temp_status")) or 0, "unknown")
            if tenths is None:
                issues.append(f"APC probe {names[index]!r}: no temperature (partial walk)")
            temp_limits = {k: v for k, v in (("high_warning", limit("temp_high_c")),
                                             ("high_critical", limit("temp_max_c")))
                           if v is not None}
            out.append(sensor_sample(
                target, kind="temperature", name=names[index],
                value=tenths / 10.0 if tenths is not None else None,
                status=temp_status or "unknown", ts=ts,
                limits=temp_limits, limits_from="pdu", mib="PowerNet"))
            humidity = as_int(row.get("humidity"))
            humidity_status = PROBE_VERDICT.get(as_int(row.get("humidity_status")) or 0)
            if humidity is not None and humidity >= 0 and humidity_status is not None:
                hum_limits = {k: v for k, v in (("low_warning", limit("humidity_low")),
                                                ("low_critical", limit("humidity_min")))
                              if v is not None}
                out.append(sensor_sample(
                    target, kind="humidity", name=names[index], value=float(humidity),
                    status=humidity_status, ts=ts,
                    limits=hum_limits, limits_from="pdu", mib="PowerNet"))
        return out


register_collector("apc", ApcCollector, tiers=("datacentre",))
