"""Geist Watchdog collector (GEIST-V5-MIB, 1.3.6.1.4.1.21239.5.1): the unit's internal
temperature, humidity and dew point, and its remote temperature sensors.

Step: scheduler -> **collectors** -> samples (measurement ``sensor``).

Temperatures and dew points are in tenths of a degree, in the unit the
device is set to (productTemperatureUnits: 0 Fahrenheit, 1 Celsius);
humidity is whole %RH. The MIB holds no thresholds (the Watchdog keeps its
alarms elsewhere), so the rules use the configured ones. A sensor whose
*Avail column is 0 is not connected and is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from collectors.common import as_int, as_text, f_to_c, rows, sensor_sample, stamp, unique_names
from netmon.model import Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

GEIST = "1.3.6.1.4.1.21239.5.1"
TEMP_UNITS = f"{GEIST}.1.7.0"
INTERNAL = {f"{GEIST}.2.1.3": "name", f"{GEIST}.2.1.4": "avail",
            f"{GEIST}.2.1.5": "temp", f"{GEIST}.2.1.6": "humidity",
            f"{GEIST}.2.1.7": "dewpoint"}
REMOTE = {f"{GEIST}.4.1.3": "name", f"{GEIST}.4.1.4": "avail", f"{GEIST}.4.1.5": "temp"}


def _celsius(tenths: int, fahrenheit: bool) -> float:
    value = tenths / 10.0
    return f_to_c(value) if fahrenheit else value


class GeistCollector:
    name: ClassVar[str] = "geist"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk([*INTERNAL, *REMOTE], scalars=[TEMP_UNITS])
        internal = rows(table.columns, INTERNAL)
        remote = rows(table.columns, REMOTE)
        if not internal and not remote:
            return []
        ts = stamp(table.ts)
        fahrenheit = as_int(table.scalars.get(TEMP_UNITS)) == 0
        found: list[tuple[str, str, float | None]] = []  # (kind, name, value)
        for source, label in ((internal, "internal"), (remote, "remote")):
            for index, row in source.items():
                if as_int(row.get("avail")) == 0:
                    continue
                name = as_text(row.get("name")) or f"{label} {index}"
                temp = as_int(row.get("temp"))
                found.append(("temperature", name,
                              _celsius(temp, fahrenheit) if temp is not None else None))
                if source is internal:
                    humidity = as_int(row.get("humidity"))
                    if humidity is not None:
                        found.append(("humidity", name, float(humidity)))
                    dew = as_int(row.get("dewpoint"))
                    if dew is not None:
                        found.append(("temperature", f"{name} dew point",
                                      _celsius(dew, fahrenheit)))
        keyed = {f"{kind}/{name}/{n}": (kind, name, value)
                 for n, (kind, name, value) in enumerate(found)}
        names = unique_names({k: f"{v[1]} {v[0]}" if v[0] == "humidity" else v[1]
                              for k, v in keyed.items()})
        return [
            sensor_sample(target, kind=kind, name=names[k], value=value,
                          status="ok" if value is not None else "unknown", ts=ts,
                          mib="GEIST-V5-MIB")
            for k, (kind, _name, value) in keyed.items()
        ]


register_collector("geist", GeistCollector, tiers=("datacentre",))
