"""One poll of one target: session -> collectors -> rates.

Step: scheduler -> **collectors -> samples -> rates** (one target, one slot).

The scheduler (netmon.daemon) and ``netmon poll`` both come through here. A
device that fails yields a ``device`` sample with ``reachable=false`` and its
error; it never raises into the caller, so one dead router cannot stop the
others.

Collectors are isolated from each other within a poll: a collector whose
MIB the agent refuses (an SNMP error status, a malformed or too-big answer)
or whose data it cannot make sense of becomes a ``poll_issue`` naming the
collector, and the other collectors' samples are kept. An unreachable device
(timeout, authentication failure) still fails the whole poll, as does a poll
in which every collector failed.
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
from netmon.snmp import SnmpAuthError, SnmpClient, SnmpError, SnmpSession, SnmpTimeout

log = logging.getLogger(__name__)

_LOGGED_FAILURES: set[tuple[str, str, str]] = set()
"""(target, collector, exception type) whose traceback was logged already."""


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
    failed: list[tuple[str, str]] = []  # (collector, why)
    try:
        async with session.deadline():
            for collector in collectors:
                try:
                    raw.extend(await collector.collect(session, target))
                except (SnmpTimeout, SnmpAuthError):
                    raise  # the device is unreachable: nothing else will answer either
                except SnmpError as exc:
                    failed.append((collector.name, exc.reason))
                except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
                    # A collector that cannot make sense of this agent's answer: the
                    # bug is recorded with its traceback, the other collectors go on.
                    seen = (target.name, collector.name, type(exc).__name__)
                    if seen not in _LOGGED_FAILURES:  # once, not every poll
                        _LOGGED_FAILURES.add(seen)
                        log.exception("%s: collector %s failed", target.name, collector.name)
                    failed.append((collector.name, f"{type(exc).__name__}: {exc}"))
    except SnmpError as exc:
        error = str(exc)
        log.debug("poll failed: %s", error)  # callers report it (once, on change)
    if error is None and failed and len(failed) == len(collectors):
        error = f"{target.name}: {failed[0][1]}" if len(failed) == 1 else (
            f"{target.name}: every collector failed: "
            + "; ".join(f"{name}: {why}" for name, why in failed))
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
    else:
        for name, why in failed:
            message = f"collector {name} failed: {why}"
            kept.append(Sample(target.name, POLL_ISSUE, _device_tags(target),
                               {"message": message}, now))
    derived = engine.process(kept, slot)
    # Collectors report issues, and so does the rate step (speed_mismatch).
    issues = [str(s.fields.get("message", "")) for s in derived if s.measurement == POLL_ISSUE]
    derived.append(Sample(target.name, DEVICE, _device_tags(target), device_fields, stamp))
    return PollResult(target.name, stamp, duration, derived, error, issues)
