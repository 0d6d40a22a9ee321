"""IF-MIB interface collector: what a device's links carry, as raw counter samples.

Step: scheduler -> **collectors** -> samples -> rates.

Two kinds of reads, on two clocks (as NAV ipdevpoll and snmp_exporter do):

* metadata (names, aliases, speeds, which counters exist) is walked on the
  first poll and then every ``meta_refresh`` or when the device restarted or
  an interface vanished;
* every cycle only what changes is read: octet, error and discard counters,
  oper/admin status, ifCounterDiscontinuityTime and sysUpTime. Configured
  links are read with GET of exactly their OIDs; ``discover: true`` walks the
  counter columns for every interface instead.

The samples carry the MIB values unchanged (``ifHCInOctets`` ...); the rate
step turns them into ``in_bps``/``util_pct``. Problems that do not stop the
poll (an unmatched link selector, a column the device lacks, duplicate names)
become ``poll_issue`` samples so they are recorded and shown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from netmon.model import DEVICE, IF_COUNTERS, POLL_ISSUE, Sample
from netmon.plugins import register_collector, register_section
from netmon.rates import port_speed_bps
from netmon.snmp import NoSuch, SnmpSession
from netmon.units import Duration

if TYPE_CHECKING:
    from netmon.config import Link, Target

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

# IF-MIB ifTable (1.3.6.1.2.1.2.2.1) and ifXTable (1.3.6.1.2.1.31.1.1.1) columns.
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"
COL = {
    "ifIndex": f"{IF_TABLE}.1",
    "ifDescr": f"{IF_TABLE}.2",
    "ifType": f"{IF_TABLE}.3",
    "ifSpeed": f"{IF_TABLE}.5",
    "ifAdminStatus": f"{IF_TABLE}.7",
    "ifOperStatus": f"{IF_TABLE}.8",
    "ifInOctets": f"{IF_TABLE}.10",
    "ifInDiscards": f"{IF_TABLE}.13",
    "ifInErrors": f"{IF_TABLE}.14",
    "ifOutOctets": f"{IF_TABLE}.16",
    "ifOutDiscards": f"{IF_TABLE}.19",
    "ifOutErrors": f"{IF_TABLE}.20",
    "ifName": f"{IF_X_TABLE}.1",
    "ifHCInOctets": f"{IF_X_TABLE}.6",
    "ifHCOutOctets": f"{IF_X_TABLE}.10",
    "ifHighSpeed": f"{IF_X_TABLE}.15",
    "ifAlias": f"{IF_X_TABLE}.18",
    "ifCounterDiscontinuityTime": f"{IF_X_TABLE}.19",
}
_BY_OID = {oid: name for name, oid in COL.items()}

# Walked on metadata refresh. Index discovery takes the union over all of
# them: partial walks are normal (recordings and real agents alike may lack
# the ifIndex column itself).
META_COLUMNS = (
    "ifIndex", "ifDescr", "ifType", "ifSpeed", "ifOperStatus", "ifInOctets",
    "ifName", "ifHCInOctets", "ifHighSpeed", "ifAlias", "ifCounterDiscontinuityTime",
)
# Read every cycle, besides the octet counters of the right width.
CYCLE_COLUMNS = (
    "ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards", "ifOperStatus", "ifAdminStatus",
)

_PLANE = {"plane-a": "A", "plane-b": "B"}


class InterfaceOptions(BaseModel):
    """``interfaces:`` in netmon.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    meta_refresh_s: Duration = Field(900.0, alias="meta_refresh")


def display_string(value: object) -> str:
    """An OCTET STRING as text: UTF-8 where it decodes, trailing NULs and blanks dropped.

    Agents pad names with NULs and some send Latin-1 or raw bytes; recordings
    carry those as hex. Undecodable bytes are replaced, never fatal.
    """
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", errors="replace").strip()
    if isinstance(value, str):
        return value.strip()
    return ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _index_key(index: str) -> tuple[int, ...]:
    return tuple(int(p) for p in index.split(".") if p.isdigit())


@dataclass(slots=True)
class Interface:
    index: str
    name: str
    descr: str
    alias: str
    if_speed: int | None
    if_high_speed: int | None
    hc: bool
    has_octets: bool
    has_discontinuity: bool


@dataclass(slots=True)
class Binding:
    """One polled interface and the link config it serves (None when discovered)."""

    iface: Interface
    link: Link | None
    tags: dict[str, str]
    oids: list[tuple[str, str]]  # (field name, OID) read every cycle


@dataclass(slots=True)
class DeviceMeta:
    fetched: float
    uptime_cs: int | None
    interfaces: dict[str, Interface]
    bindings: list[Binding]
    issues: list[str] = field(default_factory=list)
    walk_columns: list[str] = field(default_factory=list)
    get_oids: list[str] = field(default_factory=list)  # what one GET-mode cycle reads


def discover_interfaces(columns: Mapping[str, Mapping[str, object]]) -> dict[str, Interface]:
    """Build the interface list from walked metadata columns (keyed by MIB name)."""
    indexes: set[str] = set()
    for rows in columns.values():
        indexes.update(rows)
    found: dict[str, Interface] = {}
    for index in sorted(indexes, key=_index_key):
        def get(name: str, index: str = index) -> object:
            return columns.get(name, {}).get(index)

        name = display_string(get("ifName"))
        descr = display_string(get("ifDescr"))
        found[index] = Interface(
            index=index,
            name=name or descr or f"ifIndex{index}",
            descr=descr,
            alias=display_string(get("ifAlias")),
            if_speed=_int(get("ifSpeed")),
            if_high_speed=_int(get("ifHighSpeed")),
            hc=_int(get("ifHCInOctets")) is not None,
            has_octets=_int(get("ifHCInOctets")) is not None or _int(get("ifInOctets")) is not None,
            has_discontinuity=_int(get("ifCounterDiscontinuityTime")) is not None,
        )
    return found


def match_links(
    links: Iterable[Link], interfaces: Mapping[str, Interface]
) -> tuple[list[tuple[Link, Interface]], list[str]]:
    """Match configured link selectors to interfaces; report what does not match.

    ifName matches ifName, or ifDescr on agents without ifXTable. A name that
    several interfaces share is ambiguous and matches none: polling the wrong
    port is worse than polling none. An ifAlias regex may match several.
    """
    matched: list[tuple[Link, Interface]] = []
    issues: list[str] = []
    taken: dict[str, str] = {}
    for link in links:
        if link.if_index is not None:
            hits = [i for i in interfaces.values() if i.index == str(link.if_index)]
        elif link.if_name is not None:
            hits = [i for i in interfaces.values() if i.name == link.if_name]
            if not hits:
                hits = [i for i in interfaces.values() if i.descr == link.if_name]
        elif link.if_alias is not None:
            pattern: re.Pattern[str] = link.if_alias
            hits = [i for i in interfaces.values() if pattern.search(i.alias)]
        else:  # the config model requires exactly one selector
            continue
        if not hits:
            issues.append(
                f"link {link.selector} matches no interface ({len(interfaces)} on the device)"
            )
            continue
        if link.if_name is not None and len(hits) > 1:
            where = ", ".join(i.index for i in hits)
            issues.append(
                f"link {link.selector} is ambiguous: ifIndex {where} share that name; "
                "select by ifIndex"
            )
            continue
        for iface in hits:
            if iface.index in taken:
                issues.append(
                    f"link {link.selector} selects ifIndex {iface.index} ({iface.name}), "
                    f"already taken by link {taken[iface.index]}"
                )
                continue
            taken[iface.index] = link.selector
            matched.append((link, iface))
    return matched, issues


class InterfaceCollector:
    """Collects IF-MIB counters for a target's links (and all interfaces with ``discover``)."""

    name: ClassVar[str] = "interfaces"

    def __init__(self, options: InterfaceOptions | None = None) -> None:
        self.options = options or InterfaceOptions()
        self._meta: dict[str, DeviceMeta] = {}

    def forget(self, target: str) -> None:
        self._meta.pop(target, None)

    async def collect(self, session: SnmpSession, target: Target) -> list[Sample]:
        meta = self._meta.get(target.name)
        if meta is None or time.monotonic() - meta.fetched > self.options.meta_refresh_s:
            meta = await self._refresh(session, target)
        samples, stale = await self._poll(session, target, meta)
        if stale:
            # The device restarted or interfaces changed: re-read names and
            # indexes now rather than attribute counters to the wrong link.
            meta = await self._refresh(session, target)
            samples, _ = await self._poll(session, target, meta)
        return samples

    async def _refresh(self, session: SnmpSession, target: Target) -> DeviceMeta:
        table = await session.walk([COL[n] for n in META_COLUMNS], scalars=[SYS_UPTIME])
        columns = {_BY_OID[oid]: rows for oid, rows in table.columns.items() if rows}
        interfaces = discover_interfaces(columns)
        issues: list[str] = []
        if not interfaces:
            issues.append("no interfaces found: the IF-MIB ifTable and ifXTable walks were empty")
        else:
            if "ifName" not in columns:
                issues.append("no ifName column (ifXTable missing); names come from ifDescr")
            no_hc = [i for i in interfaces.values() if i.has_octets and not i.hc]
            if no_hc:
                issues.append(_no_hc_message(no_hc))
        if target.discover or not target.links:
            pairs: list[tuple[Link | None, Interface]] = [
                (None, i) for i in interfaces.values() if i.has_octets
            ]
        else:
            pairs = []
        if target.links:
            matched, link_issues = match_links(target.links, interfaces)
            issues.extend(link_issues)
            by_index = {i.index: link for link, i in matched}
            if pairs:
                pairs = [(by_index.get(i.index), i) for _, i in pairs]
            else:
                pairs = [(link, i) for link, i in matched]
            for link, iface in matched:
                if not iface.has_octets:
                    issues.append(f"link {link.selector} selects ifIndex {iface.index} "
                                  f"({iface.name}), which has no octet counters")
            pairs = [(link, i) for link, i in pairs if i.has_octets]
        bindings = [self._bind(target, link, iface) for link, iface in pairs]
        _deduplicate_names(bindings, interfaces)
        uptime = table.scalars.get(SYS_UPTIME)
        walk_columns = sorted({COL[name] for b in bindings for name, _ in b.oids})
        meta = DeviceMeta(
            fetched=time.monotonic(),
            uptime_cs=_int(uptime),
            interfaces=interfaces,
            bindings=bindings,
            issues=issues,
            walk_columns=walk_columns,
            get_oids=[SYS_UPTIME, *(oid for b in bindings for _, oid in b.oids)],
        )
        self._meta[target.name] = meta
        return meta

    @staticmethod
    def _bind(target: Target, link: Link | None, iface: Interface) -> Binding:
        tags = {
            "device": target.name,
            "site": target.site,
            "tier": target.tier,
            "ifIndex": iface.index,
            "ifName": iface.name,
        }
        if target.province:
            tags["province"] = target.province
        if link is not None:
            tags["role"] = link.role
            tags["link"] = link.name or iface.name
            if link.role in _PLANE:
                tags["plane"] = _PLANE[link.role]
        names = ["ifHCInOctets", "ifHCOutOctets"] if iface.hc else ["ifInOctets", "ifOutOctets"]
        names += CYCLE_COLUMNS
        if iface.has_discontinuity:
            names.append("ifCounterDiscontinuityTime")
        oids = [(n, f"{COL[n]}.{iface.index}") for n in names]
        return Binding(iface, link, tags, oids)

    async def _poll(
        self, session: SnmpSession, target: Target, meta: DeviceMeta
    ) -> tuple[list[Sample], bool]:
        values: dict[str, object]
        if target.discover:
            table = await session.walk(meta.walk_columns, scalars=[SYS_UPTIME])
            values = {
                f"{col}.{index}": v
                for col, rows in table.columns.items()
                for index, v in rows.items()
            }
            uptime_value: object = table.scalars.get(SYS_UPTIME)
            answered = table.ts
        else:
            response = await session.get(meta.get_oids)
            values = response.values
            uptime_value = values.get(SYS_UPTIME)
            answered = response.ts
        uptime = _int(uptime_value)
        ts = datetime.fromtimestamp(answered, UTC)
        if (
            uptime is not None
            and meta.uptime_cs is not None
            and uptime < meta.uptime_cs
            and time.monotonic() - meta.fetched > 1.0
        ):
            # Possibly a reboot (indexes may be renumbered) or the 497-day
            # sysUpTime rollover: either way, re-read the metadata once.
            return [], True
        meta.uptime_cs = uptime if uptime is not None else meta.uptime_cs

        samples: list[Sample] = []
        vanished = 0
        for b in meta.bindings:
            fields: dict[str, float | int | str | bool] = {}
            for name, oid in b.oids:
                v = values.get(oid)
                if isinstance(v, int) and not isinstance(v, bool):
                    fields[name] = v
            if "ifOperStatus" not in fields and not any(
                n in fields for n in ("ifHCInOctets", "ifInOctets")
            ):
                vanished += 1
                continue
            if uptime is not None:
                fields["sysUpTime"] = uptime
            if b.iface.if_high_speed is not None:
                fields["ifHighSpeed"] = b.iface.if_high_speed
            if b.iface.if_speed is not None:
                fields["ifSpeed"] = b.iface.if_speed
            fields["ifIndex"] = int(b.iface.index) if b.iface.index.isdigit() else 0
            if b.iface.alias:
                fields["ifAlias"] = b.iface.alias
            if b.link is not None:
                if b.link.capacity_bps:
                    fields["capacity_cfg_bps"] = b.link.capacity_bps
                fields["threshold_pct"] = b.link.threshold_pct
            samples.append(Sample(target.name, IF_COUNTERS, b.tags, fields, ts))
        if vanished and time.monotonic() - meta.fetched > 1.0:
            return [], True
        device_fields: dict[str, float | int | str | bool] = {"interfaces": len(meta.interfaces)}
        if uptime is not None:
            device_fields["sysUpTime_s"] = uptime / 100.0
        base = {"device": target.name, "site": target.site, "tier": target.tier}
        if target.province:
            base["province"] = target.province
        samples.append(Sample(target.name, DEVICE, base, device_fields, ts))
        issues = list(meta.issues)
        if isinstance(uptime_value, NoSuch) or uptime_value is None:
            issues.append("no sysUpTime.0: reboots are detected from counters alone")
        if vanished:
            issues.append(f"{vanished} polled interface(s) returned no counters")
        samples.extend(
            Sample(target.name, POLL_ISSUE, base, {"message": text}, ts) for text in issues
        )
        return samples, False


def _no_hc_message(no_hc: list[Interface]) -> str:
    """Say which interfaces fall back to Counter32 and how soon it wraps at line rate."""
    text = (f"{len(no_hc)} interface(s) lack 64-bit ifHCInOctets; using 32-bit ifInOctets")
    speeds = [(port_speed_bps(i.if_high_speed, i.if_speed) or 0, i.name) for i in no_hc]
    fastest, name = max(speeds)
    if fastest:
        # Counter32 of octets: 2**32 * 8 bits / line rate. A poll interval longer
        # than this can miss a whole wrap and under-report the traffic.
        text += (f", which wraps every {2**35 / fastest:.1f} s at line rate on {name} "
                 f"({fastest / 1e6:g} Mbit/s)")
    return text


def _deduplicate_names(bindings: list[Binding], interfaces: Mapping[str, Interface]) -> None:
    """Make ifName tags unique per device: real agents repeat names (sub-interfaces,
    stacked switches), and two series with the same tags would overwrite each other.
    Counted over all the device's interfaces, so a tag does not depend on which are polled."""
    seen: dict[str, int] = {}
    for iface in interfaces.values():
        seen[iface.name] = seen.get(iface.name, 0) + 1
    for b in bindings:
        name = b.tags["ifName"]
        if seen.get(name, 0) > 1:
            b.tags["ifName"] = f"{name}#{b.iface.index}"
            if b.link is not None and not b.link.name:
                b.tags["link"] = b.tags["ifName"]


register_section("interfaces", InterfaceOptions)
register_collector("interfaces", InterfaceCollector, section="interfaces")
