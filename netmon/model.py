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
