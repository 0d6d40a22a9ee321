"""UPS-MIB (RFC 1628) collector: battery, input/output lines, source, load, alarms, self-test.

Step: scheduler -> **collectors** -> samples (measurement ``ups``). The sample
fields are the vendor-neutral names that collectors/apc.py fills too, so
rules and reports do not care which MIB answered:

=========================  ==============================================
field                      from (UPS-MIB, 1.3.6.1.2.1.33.1)
=========================  ==============================================
battery_status             upsBatteryStatus: unknown, normal, low, depleted
on_battery_s               upsSecondsOnBattery (0 when on mains)
runtime_s                  upsEstimatedMinutesRemaining x 60
charge_pct                 upsEstimatedChargeRemaining
battery_temperature_c      upsBatteryTemperature
battery_voltage_v          upsBatteryVoltage (0.1 V)
battery_current_a          upsBatteryCurrent (0.1 A)
input_lN_voltage_v ...     upsInputTable per line: voltage (V), frequency
                           (0.1 Hz), current (0.1 A), true power (W)
output_source              upsOutputSource: other, none, normal, bypass,
                           battery, booster, reducer
output_frequency_hz        upsOutputFrequency (0.1 Hz)
output_lN_voltage_v ...    upsOutputTable per line: voltage, current,
                           power, load_pct (upsOutputPercentLoad)
output_load_pct            the highest line load
alarms_present             upsAlarmsPresent
alarms                     the upsAlarmTable rows, each upsAlarmDescr OID
                           named by upsWellKnownAlarms (onBattery ...),
                           comma-separated; unknown OIDs as themselves
self_test                  upsTestResultsSummary: passed, warning, error,
                           aborted, in_progress, none
=========================  ==============================================

A device without UPS-MIB gives nothing (the data-centre tier runs this
collector on every device). A UPS-MIB that is present but partial (a column
or group the agent lacks) gives the fields it has and a ``poll_issue`` naming
what is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from collectors.common import as_int, as_text, device_tags, issue_samples, rows, stamp
from netmon.model import UPS, Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

UPS_MIB = "1.3.6.1.2.1.33.1"

SCALARS = {
    f"{UPS_MIB}.1.1.0": "upsIdentManufacturer",
    f"{UPS_MIB}.1.2.0": "upsIdentModel",
    f"{UPS_MIB}.1.5.0": "upsIdentName",
    f"{UPS_MIB}.2.1.0": "upsBatteryStatus",
    f"{UPS_MIB}.2.2.0": "upsSecondsOnBattery",
    f"{UPS_MIB}.2.3.0": "upsEstimatedMinutesRemaining",
    f"{UPS_MIB}.2.4.0": "upsEstimatedChargeRemaining",
    f"{UPS_MIB}.2.5.0": "upsBatteryVoltage",
    f"{UPS_MIB}.2.6.0": "upsBatteryCurrent",
    f"{UPS_MIB}.2.7.0": "upsBatteryTemperature",
    f"{UPS_MIB}.4.1.0": "upsOutputSource",
    f"{UPS_MIB}.4.2.0": "upsOutputFrequency",
    f"{UPS_MIB}.6.1.0": "upsAlarmsPresent",
    f"{UPS_MIB}.7.3.0": "upsTestResultsSummary",
    f"{UPS_MIB}.7.4.0": "upsTestResultsDetail",
}

INPUT_COLUMNS = {
    f"{UPS_MIB}.3.3.1.2": "upsInputFrequency",
    f"{UPS_MIB}.3.3.1.3": "upsInputVoltage",
    f"{UPS_MIB}.3.3.1.4": "upsInputCurrent",
    f"{UPS_MIB}.3.3.1.5": "upsInputTruePower",
}
OUTPUT_COLUMNS = {
    f"{UPS_MIB}.4.4.1.2": "upsOutputVoltage",
    f"{UPS_MIB}.4.4.1.3": "upsOutputCurrent",
    f"{UPS_MIB}.4.4.1.4": "upsOutputPower",
    f"{UPS_MIB}.4.4.1.5": "upsOutputPercentLoad",
}
ALARM_COLUMNS = {f"{UPS_MIB}.6.2.1.2": "upsAlarmDescr"}

BATTERY_STATUS = {1: "unknown", 2: "normal", 3: "low", 4: "depleted"}
OUTPUT_SOURCE = {1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery",
                 6: "booster", 7: "reducer"}
TEST_RESULT = {1: "passed", 2: "warning", 3: "error", 4: "aborted", 5: "in_progress",
               6: "none"}

# upsWellKnownAlarms (1.3.6.1.2.1.33.1.6.3.N): the OIDs upsAlarmDescr points at.
WELL_KNOWN_ALARMS = {
    f"{UPS_MIB}.6.3.{n}": name for n, name in enumerate((
        "batteryBad", "onBattery", "lowBattery", "depletedBattery", "tempBad", "inputBad",
        "outputBad", "outputOverload", "onBypass", "bypassBad", "outputOffAsRequested",
        "upsOffAsRequested", "chargerFailed", "upsOutputOff", "upsSystemOff", "fanFailure",
        "fuseFailure", "generalFault", "diagnosticTestFailed", "communicationsLost",
        "awaitingPower", "shutdownPending", "shutdownImminent", "testInProgress",
    ), start=1)
}

# What a UPS that speaks UPS-MIB must have for the rules to work; absence is an issue.
CORE = ("upsBatteryStatus", "upsEstimatedMinutesRemaining", "upsEstimatedChargeRemaining",
        "upsOutputSource", "upsAlarmsPresent")


NON_NEGATIVE = ("upsSecondsOnBattery", "upsEstimatedMinutesRemaining",
                "upsEstimatedChargeRemaining", "upsAlarmsPresent")


def alarm_name(descr: object) -> str:
    oid = as_text(descr).lstrip(".")
    return WELL_KNOWN_ALARMS.get(oid, oid or "unknown")


def _tenths(value: int | None) -> float | None:
    return None if value is None else value / 10.0


def ups_fields(scalars: dict[str, object], inputs: dict[str, dict[str, object]],
               outputs: dict[str, dict[str, object]], alarms: list[str]
               ) -> tuple[dict[str, float | int | str | bool], list[str]]:
    """The ``ups`` sample fields from UPS-MIB values (by MIB name), and what is missing."""
    def num(name: str) -> int | None:
        return as_int(scalars.get(name))

    fields: dict[str, float | int | str | bool] = {"mib": "UPS-MIB"}
    scalars = dict(scalars)
    missing: list[str] = [n for n in CORE if num(n) is None]

    status = num("upsBatteryStatus")
    if status is not None:
        fields["battery_status"] = BATTERY_STATUS.get(status, "unknown")
    for name in NON_NEGATIVE:
        value = num(name)
        if value is not None and value < 0:
            # Some agents (Huawei GSE200M) answer -1 for "not available" where
            # the MIB allows only 0..: absent, not a value.
            scalars.pop(name)
            missing.append(f"{name} (reports {value})")
    for name, field, scale in (
        ("upsSecondsOnBattery", "on_battery_s", 1),
        ("upsEstimatedMinutesRemaining", "runtime_s", 60),
        ("upsEstimatedChargeRemaining", "charge_pct", 1),
        ("upsBatteryTemperature", "battery_temperature_c", 1),
        ("upsAlarmsPresent", "alarms_present", 1),
    ):
        value = num(name)
        if value is not None:
            fields[field] = value * scale
    for name, field in (("upsBatteryVoltage", "battery_voltage_v"),
                        ("upsBatteryCurrent", "battery_current_a"),
                        ("upsOutputFrequency", "output_frequency_hz")):
        value = _tenths(num(name))
        if value is not None:
            fields[field] = value
    source = num("upsOutputSource")
    if source is not None:
        fields["output_source"] = OUTPUT_SOURCE.get(source, "other")
    test = num("upsTestResultsSummary")
    if test is not None:
        fields["self_test"] = TEST_RESULT.get(test, "none")
        detail = as_text(scalars.get("upsTestResultsDetail"))
        if detail:
            fields["self_test_detail"] = detail

    _per_line(fields, "input", inputs, (("upsInputVoltage", "voltage_v", 1.0),
                                        ("upsInputFrequency", "frequency_hz", 0.1),
                                        ("upsInputCurrent", "current_a", 0.1),
                                        ("upsInputTruePower", "power_w", 1.0)))
    _per_line(fields, "output", outputs, (("upsOutputVoltage", "voltage_v", 1.0),
                                          ("upsOutputCurrent", "current_a", 0.1),
                                          ("upsOutputPower", "power_w", 1.0),
                                          ("upsOutputPercentLoad", "load_pct", 1.0)))
    loads = [load for row in outputs.values()
             if (load := as_int(row.get("upsOutputPercentLoad"))) is not None]
    if loads:
        fields["output_load_pct"] = max(loads)
    else:
        missing.append("upsOutputPercentLoad")
    if "alarms_present" in fields:
        fields["alarms"] = ",".join(alarms)
    return fields, missing


def _per_line(fields: dict[str, float | int | str | bool], prefix: str,
              lines: dict[str, dict[str, object]],
              columns: tuple[tuple[str, str, float], ...]) -> None:
    """``<prefix>_l<n>_<field>`` for each line (row) of upsInputTable / upsOutputTable,
    numbered from 1 in index order, and ``<prefix>_num_lines``."""
    for n, row in enumerate(lines.values(), start=1):
        for name, field, scale in columns:
            value = as_int(row.get(name))
            if value is not None:
                fields[f"{prefix}_l{n}_{field}"] = value / 10.0 if scale == 0.1 else value
    if lines:
        fields[f"{prefix}_num_lines"] = len(lines)


class UpsMibCollector:
    """Reads one UPS through UPS-MIB: one GETBULK walk of its tables, scalars riding along."""

    name: ClassVar[str] = "ups"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk(
            [*INPUT_COLUMNS, *OUTPUT_COLUMNS, *ALARM_COLUMNS], scalars=list(SCALARS))
        ts = stamp(table.ts)
        scalars = {SCALARS[oid]: v for oid, v in table.scalars.items()
                   if as_int(v) is not None or isinstance(v, bytes | str)}
        inputs = rows(table.columns, INPUT_COLUMNS)
        outputs = rows(table.columns, OUTPUT_COLUMNS)
        alarm_rows = rows(table.columns, ALARM_COLUMNS)
        if not scalars and not inputs and not outputs and not alarm_rows:
            return []  # no UPS-MIB on this device
        alarms = [alarm_name(r.get("upsAlarmDescr")) for r in alarm_rows.values()]
        fields, missing = ups_fields(scalars, inputs, outputs, alarms)
        tags = device_tags(target)
        model = as_text(scalars.get("upsIdentModel"))
        if model:
            fields["model"] = model
        samples = [Sample(target.name, UPS, tags, fields, ts)]
        if missing:
            samples += issue_samples(
                target, [f"UPS-MIB lacks {', '.join(missing)} (partial agent)"], ts)
        return samples


register_collector("ups", UpsMibCollector, tiers=("datacentre",))
