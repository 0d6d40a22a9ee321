"""The types every step of the flow shares: samples and the plugin protocols.

YAML -> scheduler -> collectors -> **samples** -> rates -> (sinks, alerts) -> notifiers.
Nothing here does I/O; collectors, sinks, rules and notifiers depend on these
types and never on each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from netmon.config import Target

FieldValue = float | int | str | bool

# Measurement names, shared by collectors, rates, the daemon and the sinks.
IF_COUNTERS = "if_counters"
"""Raw interface counters as collectors read them; the rate step consumes them."""
INTERFACE = "interface"
COUNTER_RESET = "counter_reset"
DEVICE = "device"
POLL_ISSUE = "poll_issue"
LINK_DAILY = "link_daily"
"""Daily roll-up per link (p95, max, mean, bytes), written by netmon.capacity."""
IPV6_READINESS = "ipv6_readiness"
"""A device's IPv6 readiness level (0-4) and what is missing (collectors/ipv6.py)."""
IPV6_LINK = "ipv6_link"
"""IPv6 traffic on a configured uplink or plane link (ipIfStatsTable)."""
IPV6_SERVICE = "ipv6_service"
"""An agency service's colour over IPv6: green, yellow, red or grey."""
ALERT = "alert"
"""Alert events (fired, resolved), written to the sinks for history."""
SPOOL = "spool"
"""A sink's spool figures, handed to the alert engine each evaluation (never stored)."""
UPS = "ups"
"""One UPS: battery, input/output lines, source, load, alarms (UPS-MIB or APC PowerNet)."""
SENSOR = "sensor"
"""One environment sensor (temperature, humidity, contact ...), tagged sensor and unit."""
HOST = "host"
"""A server's CPU, memory and filesystems (HOST-RESOURCES-MIB)."""

# Sensor kinds: kind -> (field suffix, unit tag, unit as people write it). The
# value field is ``<kind>_<suffix>`` (``temperature_c``) and the device's own
# limits ``high_warning_<suffix>``, ``high_critical_<suffix>``,
# ``low_warning_<suffix>``, ``low_critical_<suffix>``, all in the same unit.
SENSOR_KINDS: dict[str, tuple[str, str, str]] = {
    "temperature": ("c", "C", "°C"),
    "humidity": ("pct", "%RH", "%RH"),
    "voltage": ("v", "V", "V"),
    "current": ("a", "A", "A"),
    "power": ("w", "W", "W"),
    "frequency": ("hz", "Hz", "Hz"),
    "fan": ("rpm", "rpm", "rpm"),
    "airflow": ("cmm", "cmm", "m³/min"),
    "contact": ("state", "", ""),
    "other": ("value", "", ""),
}
SENSOR_LIMITS = ("high_warning", "high_critical", "low_warning", "low_critical")
FILESYSTEM_STORAGE_TYPES = frozenset({"fixed_disk", "network_disk", "removable_disk",
                                      "flash_memory", "ram_disk"})
"""``host`` samples' ``storage_type`` values that are filesystems (not RAM or swap)."""


def sensor_field(kind: str, prefix: str = "") -> str:
    """The field holding a sensor's value (``temperature_c``) or, with ``prefix``
    (``high_warning``), one of its limits (``high_warning_c``)."""
    suffix = SENSOR_KINDS.get(kind, SENSOR_KINDS["other"])[0]
    return f"{prefix or kind}_{suffix}"


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement of one thing at one instant.

    ``ts`` is when the device answered (timezone-aware UTC), never when the
    scheduler planned the poll: rates divide by the real elapsed time.
    """

    target: str
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    ts: datetime


@dataclass(frozen=True, slots=True)
class Observation:
    """What a rule saw in one evaluation: a condition that holds (or cleared) now."""

    rule: str
    key: tuple[str, ...]
    labels: Mapping[str, str]
    firing: bool
    value: float | None
    ts: datetime
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the dispatcher and notifiers see it (Alertmanager's model).

    ``fingerprint`` is a stable hash of the rule name and ``labels``: the
    identity of an episode across restarts. ``ends_at`` is set once resolved.
    Silenced and inhibited alerts stay visible (API, CLI) but are not sent.
    """

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str  # "firing" | "resolved"
    starts_at: datetime
    ends_at: datetime | None = None
    value: float | None = None
    generator_url: str = ""
    silenced: bool = False
    inhibited: bool = False

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class Collector(Protocol):
    """Reads one kind of thing from one device (collectors/)."""

    name: ClassVar[str]

    async def collect(self, session: Any, target: Target) -> list[Sample]: ...


class Sink(Protocol):
    """Stores samples (netmon.sinks). ``aclose`` flushes everything: nothing is lost."""

    async def write(self, samples: Sequence[Sample]) -> None: ...

    async def aclose(self) -> None: ...


class Rule(Protocol):
    """Turns samples into observations (alerts/)."""

    name: ClassVar[str]

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]: ...


class Notifier(Protocol):
    """Delivers alerts to people (alerts/notifiers)."""

    name: ClassVar[str]

    async def notify(self, alerts: Sequence[Alert]) -> None: ...
