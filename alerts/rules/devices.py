"""Device and storage rules: a device that stops answering, a spool that keeps growing old.

Step: rates -> **alert engine (rules)** -> notifiers. device_unreachable reads
the ``device`` sample every poll produces (netmon.poll: ``reachable``,
``error``); spool_backlog reads the ``spool`` samples the alert service adds
from the sinks' statistics each evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from alerts.rule import RuleBase, RuleOptions, Severity
from alerts.templates import duration, render
from netmon.model import DEVICE, SPOOL, Observation, Sample
from netmon.plugins import register_rule
from netmon.units import Duration

__all__ = ["DeviceUnreachable", "SpoolBacklog"]


class UnreachableOptions(RuleOptions):
    severity: Severity = "critical"
    failed_polls: int = Field(3, ge=1)
    """Consecutive failed polls before the device counts as unreachable."""


class DeviceUnreachable(RuleBase):
    """N polls in a row failed. While it fires, the device's other alerts are inhibited."""

    name: ClassVar[str] = "device_unreachable"
    options: UnreachableOptions

    def __init__(self, options: UnreachableOptions) -> None:
        super().__init__(options)
        self._failed: dict[str, int] = {}

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for s in samples:
            if s.measurement != DEVICE:
                continue
            key = (s.target,)
            opts: UnreachableOptions = self.options_for(key, s.tags)  # type: ignore[assignment]
            if s.fields.get("reachable"):
                failed = self._failed[s.target] = 0
            else:
                failed = self._failed[s.target] = self._failed.get(s.target, 0) + 1
            firing = opts.enabled and failed >= opts.failed_polls
            if not self.report.should_report(key, firing):
                continue
            labels = {"alertname": self.name, "severity": opts.severity, "device": s.target}
            for tag in ("site", "tier", "province"):
                if s.tags.get(tag):
                    labels[tag] = s.tags[tag]
            annotations: dict[str, str] = {}
            if firing:
                annotations = render(self.name, self.language, {
                    **s.tags, "device": s.target, "failed": failed,
                    "error": s.fields.get("error", "")})
            out.append(Observation(self.name, key, labels, firing, float(failed), s.ts,
                                   annotations))
        return out


class SpoolOptions(RuleOptions):
    max_age_s: Duration = Field(3600.0, alias="max_age")
    """Fires while the spool holds a point older than this."""


class SpoolBacklog(RuleBase):
    """The storage spool holds points older than ``max_age``: the database is not keeping up."""

    name: ClassVar[str] = "spool_backlog"
    options: SpoolOptions

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for s in samples:
            if s.measurement != SPOOL:
                continue
            sink = s.tags.get("sink", "")
            key = (sink,)
            opts: SpoolOptions = self.options_for(key, s.tags)  # type: ignore[assignment]
            age = float(s.fields.get("spool_oldest_age_s", 0.0))
            depth = int(s.fields.get("spool_depth_points", 0))
            firing = opts.enabled and depth > 0 and age >= opts.max_age_s
            if not self.report.should_report(key, firing):
                continue
            annotations: dict[str, str] = {}
            if firing:
                annotations = render(self.name, self.language, {
                    "sink": sink, "age": duration(age), "depth": depth,
                    "max_age": duration(opts.max_age_s),
                    "error": s.fields.get("last_error") or "-"})
            labels = {"alertname": self.name, "severity": opts.severity, "sink": sink}
            out.append(Observation(self.name, key, labels, firing, age, s.ts, annotations))
        return out


register_rule(DeviceUnreachable.name, UnreachableOptions, DeviceUnreachable)
register_rule(SpoolBacklog.name, SpoolOptions, SpoolBacklog)
