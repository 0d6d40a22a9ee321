"""One poll of one target: session -> collectors -> rates.

Step: scheduler -> **collectors -> samples -> rates** (one target, one slot).

The scheduler (netmon.daemon) and ``netmon poll`` both come through here. A
device that fails yields a ``device`` sample with ``reachable=false`` and its
error; it never raises into the caller, so one dead router cannot stop the
others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from netmon import plugins
from netmon.config import Target
from netmon.model import DEVICE, INTERFACE, POLL_ISSUE, Collector, Sample
from netmon.rates import RateEngine
from netmon.snmp import SnmpClient, SnmpError, SnmpSession

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PollResult:
    target: str
    ts: datetime
    duration_s: float
    samples: list[Sample]
    error: str | None = None
    issues: list[str] = field(default_factory=list)

    @property
    def links(self) -> list[Sample]:
        return [s for s in self.samples if s.measurement == INTERFACE]


def build_collectors(settings: object) -> dict[str, Collector]:
    """One instance of every registered collector, built with its settings section."""
    built: dict[str, Collector] = {}
    for name, plugin in plugins.collectors().items():
        options = getattr(settings, plugin.section) if plugin.section else None
        built[name] = plugin.factory(options)
    return built


def collectors_for(target: Target, built: dict[str, Collector]) -> list[Collector]:
    """The collectors ``target`` names, in its order (names were checked by the config)."""
    return [built[name] for name in target.collectors]


def open_session(client: SnmpClient, target: Target) -> SnmpSession:
    return client.session(
        device=target.name,
        host=target.address,
        port=target.port,
        credentials=target.snmp,
        timeout_s=target.timeout_s,
        retries=target.retries,
        max_repetitions=target.max_repetitions,
        deadline_s=target.effective_deadline_s,
    )


def _device_tags(target: Target) -> dict[str, str]:
    tags = {"device": target.name, "site": target.site, "tier": target.tier}
    if target.province:
        tags["province"] = target.province
    return tags


async def poll_target(
    session: SnmpSession,
    target: Target,
    collectors: Sequence[Collector],
    engine: RateEngine,
    slot: datetime | None = None,
) -> PollResult:
    """Poll ``target`` once with every collector and derive rates.

    SNMP errors are caught here, per device, and reported in the result and
    as a ``device`` sample with ``reachable=false``.
    """
    started = time.monotonic()
    raw: list[Sample] = []
    error: str | None = None
    try:
        async with session.deadline():
            for collector in collectors:
                raw.extend(await collector.collect(session, target))
    except SnmpError as exc:
        error = str(exc)
        log.debug("poll failed: %s", error)  # callers report it (once, on change)
    duration = time.monotonic() - started
    now = datetime.now(UTC)
    stamp = slot or now

    device_fields: dict[str, float | int | str | bool] = {
        "reachable": error is None,
        "poll_duration_s": duration,
    }
    kept: list[Sample] = []
    for s in raw:
        if s.measurement == DEVICE:
            device_fields.update(s.fields)
        else:
            kept.append(s)
    if error is not None:
        device_fields["error"] = error
        kept = []  # a partial set of counters from a failed poll is not trusted
    derived = engine.process(kept, slot)
    # Collectors report issues, and so does the rate step (speed_mismatch).
    issues = [str(s.fields.get("message", "")) for s in derived if s.measurement == POLL_ISSUE]
    derived.append(Sample(target.name, DEVICE, _device_tags(target), device_fields, stamp))
    return PollResult(target.name, stamp, duration, derived, error, issues)
