"""AKCP sensorProbe collector (SPAGENT-MIB, 1.3.6.1.4.1.3854): temperature, humidity,
dry contacts, each with the probe's own status and limits.

Step: scheduler -> **collectors** -> samples (measurement ``sensor``).

The probe keeps its own thresholds per sensor (high/low warning and critical)
and its own verdict (sensorProbe*Status); both are reported, so the rules
judge against the limits the site engineer set on the probe, never a guess.
Sensors the probe marks offline (nothing plugged into the port) are skipped.

SNMP quirks:

* sensorProbeTempDegree is whole degrees; sensorProbeTempDegreeRaw (newer
  firmware) is tenths. Raw is preferred when the agent has it.
* sensorProbeTempDegreeType says whether the probe works in Fahrenheit (0)
  or Celsius (1); values and limits are converted to °C.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from collectors.common import (
    as_int,
    as_text,
    f_to_c,
    issue_samples,
    rows,
    sensor_sample,
    stamp,
    unique_names,
)
from netmon.model import SENSOR_LIMITS, Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

SP = "1.3.6.1.4.1.3854.1.2.2.1"
TEMP = f"{SP}.16.1"
HUMIDITY = f"{SP}.17.1"
SWITCH = f"{SP}.18.1"

# The three tables share their first columns' layout.
_COMMON = {1: "descr", 3: "value", 4: "status", 5: "online", 7: "high_warning",
           8: "high_critical", 9: "low_warning", 10: "low_critical"}
TEMP_COLUMNS = {f"{TEMP}.{n}": name for n, name in _COMMON.items()}
TEMP_COLUMNS.update({f"{TEMP}.12": "degree_type", f"{TEMP}.14": "raw"})
HUMIDITY_COLUMNS = {f"{HUMIDITY}.{n}": name for n, name in _COMMON.items()}
# sensorProbeSwitchTable: description, status, online (no value, no limits).
SWITCH_COLUMNS = {f"{SWITCH}.1": "descr", f"{SWITCH}.3": "status", f"{SWITCH}.4": "online"}

# sensorProbe*Status
STATUS = {1: "unknown", 2: "ok", 3: "high_warning", 4: "high_critical", 5: "low_warning",
          6: "low_critical", 7: "fault"}
ONLINE, OFFLINE = 1, 2


class AkcpCollector:
    name: ClassVar[str] = "akcp"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk([*TEMP_COLUMNS, *HUMIDITY_COLUMNS, *SWITCH_COLUMNS])
        ts = stamp(table.ts)
        out: list[Sample] = []
        issues: list[str] = []
        for kind, columns in (("temperature", TEMP_COLUMNS), ("humidity", HUMIDITY_COLUMNS),
                              ("contact", SWITCH_COLUMNS)):
            found = rows({c: table.columns.get(c, {}) for c in columns}, columns)
            present = {i: r for i, r in found.items() if as_int(r.get("online")) != OFFLINE}
            names = unique_names({
                i: as_text(r.get("descr")) or f"{kind} {i}" for i, r in present.items()})
            for index, row in present.items():
                sample, problem = self._sensor(target, kind, names[index], row, ts)
                if problem:
                    issues.append(f"AKCP {kind} sensor {names[index]!r}: {problem}")
                if sample is not None:
                    out.append(sample)
        return out + issue_samples(target, issues, ts)

    @staticmethod
    def _sensor(target: Target, kind: str, name: str, row: dict[str, object], ts: datetime
                ) -> tuple[Sample | None, str]:
        status_code = as_int(row.get("status"))
        status = STATUS.get(status_code, "unknown") if status_code is not None else "unknown"
        if kind == "contact":
            # A dry contact has no value of its own: its state is the probe's verdict
            # against the contact's configured normal state.
            if status in ("high_warning", "high_critical", "low_warning", "low_critical"):
                status = "alarm"
            return sensor_sample(target, kind=kind, name=name, value=status, status=status,
                                 ts=ts, mib="SPAGENT-MIB"), ""
        value: float | None
        raw = as_int(row.get("raw"))
        whole = as_int(row.get("value"))
        if kind == "temperature" and raw is not None:
            value = raw / 10.0
        else:
            value = float(whole) if whole is not None else None
        limits = {k: float(v) for k in SENSOR_LIMITS
                  if (v := as_int(row.get(k))) is not None}
        if kind == "temperature" and as_int(row.get("degree_type")) == 0:
            value = f_to_c(value) if value is not None else None
            limits = {k: f_to_c(v) for k, v in limits.items()}
        problem = ""
        if value is None:
            problem = "no value column (partial walk)"
            if status == "ok":
                status = "unknown"
        return sensor_sample(target, kind=kind, name=name, value=value, status=status,
                             ts=ts, limits=limits, limits_from="probe" if limits else "",
                             mib="SPAGENT-MIB"), problem


register_collector("akcp", AkcpCollector, tiers=("datacentre",))
