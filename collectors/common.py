"""Helpers the data-centre collectors share: device tags, value coercion and units, issue samples.

Step: scheduler -> **collectors** -> samples. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from netmon.model import POLL_ISSUE, SENSOR, SENSOR_KINDS, Sample, sensor_field
from netmon.snmp import NoSuch

if TYPE_CHECKING:
    from netmon.config import Target


def device_tags(target: Target) -> dict[str, str]:
    """The tags every sample of a device carries (the same as the interface samples)."""
    tags = {"device": target.name, "site": target.site, "tier": target.tier}
    if target.province:
        tags["province"] = target.province
    return tags


def as_int(value: object) -> int | None:
    """An INTEGER/Gauge/Counter value, or None for a missing or non-numeric one."""
    if isinstance(value, bool | NoSuch):
        return None
    return value if isinstance(value, int) else None


def as_text(value: object) -> str:
    """An OCTET STRING as text: UTF-8 where it decodes, trailing NULs and blanks dropped."""
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", errors="replace").strip()
    if isinstance(value, str):
        return value.strip()
    return ""


def f_to_c(value: float) -> float:
    """°F (probes set to Fahrenheit) to °C, to the hundredth."""
    return round((value - 32.0) * 5.0 / 9.0, 2)


def stamp(answered: float) -> datetime:
    return datetime.fromtimestamp(answered, UTC)


def issue_samples(target: Target, messages: Iterable[str], ts: datetime) -> list[Sample]:
    tags = device_tags(target)
    return [Sample(target.name, POLL_ISSUE, tags, {"message": m}, ts) for m in messages]


def rows(columns: Mapping[str, Mapping[str, object]], names: Mapping[str, str]
         ) -> dict[str, dict[str, object]]:
    """Pivot walked columns (column OID -> {index: value}) into {index: {name: value}}.

    ``names`` maps column OID -> MIB name. An index appears when any column has
    it: partial walks (a column the agent lacks) leave that name out of the row.
    """
    out: dict[str, dict[str, object]] = {}
    for oid, values in columns.items():
        name = names.get(oid)
        if name is None:
            continue
        for index, value in values.items():
            out.setdefault(index, {})[name] = value
    return dict(sorted(out.items(), key=lambda kv: index_key(kv[0])))


def index_key(index: str) -> tuple[int, ...]:
    return tuple(int(p) for p in index.split(".") if p.isdigit())


def sensor_sample(
    target: Target,
    *,
    kind: str,
    name: str,
    value: float | str | None,
    status: str,
    ts: datetime,
    limits: Mapping[str, float] | None = None,
    limits_from: str = "",
    mib: str = "",
) -> Sample:
    """A ``sensor`` sample: value and the device's own limits in one unit (netmon.model).

    ``status`` is the device's own verdict in netmon's words: ok, high_warning,
    high_critical, low_warning, low_critical, alarm (a contact), fault, unknown.
    ``limits_from`` names who set the limits (``probe``): rules quote it.
    """
    _suffix, unit, _shown = SENSOR_KINDS.get(kind, SENSOR_KINDS["other"])
    tags = device_tags(target)
    tags.update({"sensor": name, "kind": kind, "unit": unit})
    fields: dict[str, float | int | str | bool] = {"status": status}
    if value is not None:
        fields[sensor_field(kind)] = value
    for limit, limit_value in (limits or {}).items():
        fields[sensor_field(kind, limit)] = limit_value
    if limits:
        fields["limits_from"] = limits_from
    if mib:
        fields["mib"] = mib
    return Sample(target.name, SENSOR, tags, fields, ts)


def unique_names(names: Mapping[str, str]) -> dict[str, str]:
    """{index: name} with names made unique per device (``name#index``): two sensors
    with one name would overwrite each other's series."""
    count: dict[str, int] = {}
    for name in names.values():
        count[name] = count.get(name, 0) + 1
    return {i: (n if count[n] == 1 else f"{n}#{i}") for i, n in names.items()}
