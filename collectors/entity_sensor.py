"""ENTITY-SENSOR-MIB collector (RFC 3433, 1.3.6.1.2.1.99): any sensor the agent lists
in entPhySensorTable, scaled into real units.

Step: scheduler -> **collectors** -> samples (measurement ``sensor``).

value = entPhySensorValue x 10^(3 x (scale - units)) x 10^-precision, so a
celsius sensor with scale ``units`` (9) and precision 1 reporting -55 is
-5.5 °C, and a voltsDC sensor with scale ``milli`` (8) reporting 12034 is
12.034 V. The sensor's name is entPhysicalName (else entPhysicalDescr) of
the same entPhysicalIndex. This MIB carries no thresholds: the rules use
the configured ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from collectors.common import (
    as_int,
    as_text,
    issue_samples,
    rows,
    sensor_sample,
    stamp,
    unique_names,
)
from netmon.model import Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

SENSOR_TABLE = "1.3.6.1.2.1.99.1.1.1"
COLUMNS = {
    f"{SENSOR_TABLE}.1": "entPhySensorType",
    f"{SENSOR_TABLE}.2": "entPhySensorScale",
    f"{SENSOR_TABLE}.3": "entPhySensorPrecision",
    f"{SENSOR_TABLE}.4": "entPhySensorValue",
    f"{SENSOR_TABLE}.5": "entPhySensorOperStatus",
}
NAME_COLUMNS = {
    "1.3.6.1.2.1.47.1.1.1.1.2": "entPhysicalDescr",
    "1.3.6.1.2.1.47.1.1.1.1.7": "entPhysicalName",
}

# EntitySensorDataType -> netmon sensor kind (netmon.model.SENSOR_KINDS)
KIND = {1: "other", 2: "other", 3: "voltage", 4: "voltage", 5: "current", 6: "power",
        7: "frequency", 8: "temperature", 9: "humidity", 10: "fan", 11: "airflow",
        12: "contact"}
# EntitySensorStatus
STATUS = {1: "ok", 2: "unavailable", 3: "fault"}
UNITS_SCALE = 9  # EntitySensorDataScale units(9); yocto(1) .. yotta(17) in steps of 10^3


def scaled(value: int, scale: int | None, precision: int | None) -> float | None:
    """entPhySensorValue in real units (scale and precision default to units and 0);
    None when scale or precision is outside what the MIB allows (1..17, -8..9)."""
    scale = scale if scale is not None else UNITS_SCALE
    precision = precision or 0
    if not (1 <= scale <= 17 and -8 <= precision <= 9):
        return None
    exponent = 3 * (scale - UNITS_SCALE) - precision
    return round(value * 10.0 ** exponent, 9)


class EntitySensorCollector:
    name: ClassVar[str] = "entity_sensor"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk([*COLUMNS])
        sensors = rows(table.columns, COLUMNS)
        if not sensors:
            return []  # no ENTITY-SENSOR-MIB
        ts = stamp(table.ts)
        # entPhysical names only for the sensors' own indexes (a chassis can list thousands).
        names_answer = await session.get(
            [f"{col}.{i}" for i in sensors for col in NAME_COLUMNS])
        raw_names: dict[str, str] = {}
        for index in sensors:
            raw_names[index] = (
                as_text(names_answer.values.get(f"1.3.6.1.2.1.47.1.1.1.1.7.{index}"))
                or as_text(names_answer.values.get(f"1.3.6.1.2.1.47.1.1.1.1.2.{index}"))
                or f"sensor {index}")
        names = unique_names(raw_names)
        out: list[Sample] = []
        partial: list[str] = []
        for index, row in sensors.items():
            kind = KIND.get(as_int(row.get("entPhySensorType")) or 1, "other")
            status = STATUS.get(as_int(row.get("entPhySensorOperStatus")) or 0, "unknown")
            raw = as_int(row.get("entPhySensorValue"))
            value: float | str | None
            if status == "unavailable":
                # RFC 3433: the agent cannot read the sensor now; its value (often 0,
                # e.g. the fans Arista lists without readings) means nothing.
                value = None
            elif raw is None:
                value = None
                partial.append(names[index])
            elif kind == "contact":
                value = "true" if raw == 1 else "false"  # TruthValue: 1 true, 2 false
            else:
                value = scaled(raw, as_int(row.get("entPhySensorScale")),
                               as_int(row.get("entPhySensorPrecision")))
                if value is None:
                    partial.append(names[index])
            out.append(sensor_sample(target, kind=kind, name=names[index], value=value,
                                     status=status, ts=ts, mib="ENTITY-SENSOR-MIB"))
        if partial:
            shown = ", ".join(partial[:5]) + (" ..." if len(partial) > 5 else "")
            out += issue_samples(target, [f"ENTITY-SENSOR-MIB: {len(partial)} sensor(s) "
                                          f"without a usable entPhySensorValue, scale or "
                                          f"precision ({shown})"], ts)
        return out


register_collector("entity_sensor", EntitySensorCollector, tiers=("datacentre",))
