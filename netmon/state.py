"""What the running daemon knows about its targets and links, for the HTTP API.

Step: a window on the scheduler -> collectors -> rates steps. The daemon
(netmon.daemon) writes it; the HTTP API (netmon.httpapi) and /metrics read it.
Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from netmon.config import Target
from netmon.model import Sample, Sink

if TYPE_CHECKING:
    from alerts.service import AlertService


@dataclass(slots=True)
class TargetState:
    """What the HTTP API and /metrics show about one target."""

    target: Target
    last_attempt_mono: float | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    reachable: bool | None = None
    poll_duration_s: float = 0.0
    polls: int = 0
    errors: int = 0
    failing: int = 0  # consecutive failed polls
    overruns: int = 0
    issues: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DaemonState:
    started_mono: float = field(default_factory=time.monotonic)
    targets: dict[str, TargetState] = field(default_factory=dict)
    links: dict[tuple[str, str], Sample] = field(default_factory=dict)
    datacentre: dict[tuple[str, str, tuple[tuple[str, str], ...]], Sample] = field(
        default_factory=dict)
    """Latest ups/sensor/host sample per (target, measurement, tags): /api/datacentre."""
    periodic: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    """(target, collector) -> the latest samples of a collector on its own interval (ipv6)."""
    sinks: Sequence[Sink] = ()
    alerts: AlertService | None = None
    scheduler_running: bool = False
    reloads: int = 0
    reload_errors: int = 0
    config_path: str = ""

    def health(self) -> tuple[bool, str]:
        """Healthy while the scheduler runs, every sink can store (its last attempt
        worked), and every target was tried within 2 x interval."""
        if not self.scheduler_running:
            return False, "scheduler is not running"
        failing = [stats.failing for stats in (getattr(s, "stats", None) for s in self.sinks)
                   if stats is not None and stats.failing]
        if failing:
            return False, "; ".join(failing)
        now = time.monotonic()
        late = []
        for name, ts in self.targets.items():
            limit = 2 * ts.target.interval_s
            last = ts.last_attempt_mono if ts.last_attempt_mono is not None else self.started_mono
            if now - last > limit:
                late.append(f"{name} not attempted for {now - last:.0f}s (limit {limit:.0f}s)")
        if late:
            more = f" (+{len(late) - 10} more)" if len(late) > 10 else ""
            return False, "; ".join(late[:10]) + more
        return True, f"ok: {len(self.targets)} targets"
