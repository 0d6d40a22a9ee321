"""HOST-RESOURCES-MIB collector (RFC 2790, 1.3.6.1.2.1.25): a server's uptime, CPU
load per processor, memory, and filesystem use.

Step: scheduler -> **collectors** -> samples (measurement ``host``), three kinds:

* the server: ``uptime_s`` (hrSystemUptime), ``cpu_count``, ``cpu_load_pct``
  (mean of the processors), ``memory_size_bytes`` (hrMemorySize), and from
  the hrStorageRam row ``memory_used_bytes``/``memory_used_pct``;
* one per processor (tag ``cpu``: its hrDeviceIndex): ``cpu_load_pct``
  (hrProcessorLoad, the last minute's average);
* one per hrStorageTable row (tags ``storage``, ``storage_type``):
  ``size_bytes`` and ``used_bytes`` (allocation units x hrStorageSize /
  hrStorageUsed) and ``used_pct``.

SNMP quirks:

* hrStorageSize and hrStorageUsed are Integer32: agents with big disks and
  small allocation units wrap them negative; they are read as unsigned.
* Windows appends `` Label:...  Serial Number ...`` to a drive's
  hrStorageDescr; the tag keeps only the drive (``C:\\``).
* A removable drive with no medium reports size 0: no ``used_pct``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from collectors.common import (
    as_int,
    as_text,
    device_tags,
    issue_samples,
    rows,
    stamp,
    unique_names,
)
from netmon.model import HOST, Sample
from netmon.plugins import register_collector
from netmon.snmp import SnmpSession

if TYPE_CHECKING:
    from netmon.config import Target

HR = "1.3.6.1.2.1.25"
UPTIME = f"{HR}.1.1.0"
MEMORY_SIZE = f"{HR}.2.2.0"
STORAGE = {
    f"{HR}.2.3.1.2": "hrStorageType",
    f"{HR}.2.3.1.3": "hrStorageDescr",
    f"{HR}.2.3.1.4": "hrStorageAllocationUnits",
    f"{HR}.2.3.1.5": "hrStorageSize",
    f"{HR}.2.3.1.6": "hrStorageUsed",
}
PROCESSOR = {f"{HR}.3.3.1.2": "hrProcessorLoad"}

# hrStorageTypes (1.3.6.1.2.1.25.2.1.N)
STORAGE_TYPES = {
    f"{HR}.2.1.{n}": name for n, name in enumerate((
        "other", "ram", "virtual_memory", "fixed_disk", "removable_disk", "floppy_disk",
        "compact_disc", "ram_disk", "flash_memory", "network_disk"), start=1)
}


def _unsigned32(value: int | None) -> int | None:
    return value + 2**32 if value is not None and value < 0 else value


def storage_name(descr: str) -> str:
    head, sep, _ = descr.partition(" Label:")
    return head.strip() if sep else descr


class HostResourcesCollector:
    name: ClassVar[str] = "host"

    def __init__(self, options: object = None) -> None:
        del options

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        table = await session.walk([*STORAGE, *PROCESSOR], scalars=[UPTIME, MEMORY_SIZE])
        storage = rows(table.columns, STORAGE)
        processors = rows(table.columns, PROCESSOR)
        uptime = as_int(table.scalars.get(UPTIME))
        memory_kb = as_int(table.scalars.get(MEMORY_SIZE))
        if not storage and not processors and uptime is None and memory_kb is None:
            return []  # no HOST-RESOURCES-MIB
        ts = stamp(table.ts)
        base = device_tags(target)
        issues: list[str] = []
        out: list[Sample] = []
        summary: dict[str, float | int | str | bool] = {}
        if uptime is not None:
            summary["uptime_s"] = uptime / 100.0
        if memory_kb is not None:
            summary["memory_size_bytes"] = memory_kb * 1024

        loads: list[int] = []
        for index, row in processors.items():
            load = as_int(row.get("hrProcessorLoad"))
            if load is None:
                continue
            loads.append(load)
            out.append(Sample(target.name, HOST, {**base, "cpu": index},
                              {"cpu_load_pct": load}, ts))
        if loads:
            summary["cpu_count"] = len(loads)
            summary["cpu_load_pct"] = round(sum(loads) / len(loads), 2)
        else:
            issues.append("HOST-RESOURCES-MIB: no hrProcessorLoad (CPU load unknown)")

        names = unique_names({i: storage_name(as_text(r.get("hrStorageDescr"))) or f"storage {i}"
                              for i, r in storage.items()})
        incomplete: list[str] = []
        for index, row in storage.items():
            kind = STORAGE_TYPES.get(as_text(row.get("hrStorageType")).lstrip("."), "other")
            units = as_int(row.get("hrStorageAllocationUnits"))
            size = _unsigned32(as_int(row.get("hrStorageSize")))
            used = _unsigned32(as_int(row.get("hrStorageUsed")))
            if units is None or size is None or used is None:
                incomplete.append(names[index])
                continue
            fields: dict[str, float | int | str | bool] = {
                "size_bytes": size * units, "used_bytes": used * units,
                "allocation_units_bytes": units}
            if size > 0:
                fields["used_pct"] = round(100.0 * used / size, 2)
            out.append(Sample(target.name, HOST,
                              {**base, "storage": names[index], "storage_type": kind},
                              fields, ts))
            if kind == "ram" and "memory_used_bytes" not in summary:
                summary["memory_used_bytes"] = used * units
                if size > 0:
                    summary["memory_used_pct"] = fields["used_pct"]
        if incomplete:
            issues.append(f"HOST-RESOURCES-MIB: hrStorageTable rows without allocation "
                          f"units, size or used: {', '.join(incomplete[:5])}"
                          + (" ..." if len(incomplete) > 5 else ""))
        if summary:
            out.insert(0, Sample(target.name, HOST, base, summary, ts))
        return out + issue_samples(target, issues, ts)


register_collector("host", HostResourcesCollector, tiers=("datacentre",))
