"""Link rules: utilisation over the link's threshold, link down, repeated counter resets.

Step: rates -> **alert engine (rules)** -> notifiers. They read ``interface``
and ``counter_reset`` samples (netmon.rates) and judge one link each, keyed
by (device, ifName).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from alerts.rule import RuleBase, RuleOptions, RuleOverride, Severity
from alerts.templates import Lazy, bandwidth, duration, render
from netmon.model import COUNTER_RESET, INTERFACE, Observation, Sample
from netmon.plugins import register_rule
from netmon.units import Duration, Percent

__all__ = ["CounterAnomaly", "LinkDown", "LinkUtilisationHigh", "link_labels"]

OPER_DOWN = (2, 7)
"""ifOperStatus down(2) and lowerLayerDown(7); dormant(5) and testing(3) are not outages."""
ADMIN_UP = 1
OPER_UP = 1
OPER_NAMES = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent",
              7: "lowerLayerDown"}
_LABEL_TAGS = ("device", "site", "tier", "province", "link", "plane")


def link_labels(name: str, severity: str, tags: Mapping[str, str]) -> dict[str, str]:
    """alertname, severity and the link's own labels (those its tags have)."""
    labels = {"alertname": name, "severity": severity}
    for tag in _LABEL_TAGS:
        value = tags.get(tag)
        if value:
            labels[tag] = value
    return labels


def _key(s: Sample) -> tuple[str, str]:
    return (s.target, s.tags.get("ifName", ""))


# -- link_utilisation_high ----------------------------------------------------------------


class UtilisationOverride(RuleOverride):
    threshold_pct: Percent | None = Field(None, alias="threshold")
    clear_below_pct: Percent | None = Field(None, alias="clear_below")


class UtilisationOptions(RuleOptions):
    """Fires at or above the link's threshold; clears only below ``clear_below``."""

    for_s: Duration = Field(300.0, alias="for")
    threshold_pct: Percent | None = Field(None, alias="threshold")
    """None: each link's own threshold (``threshold:`` of the link, default 50%)."""
    clear_below_pct: Percent = Field(45.0, alias="clear_below")
    """Resolves only below this. A link whose threshold is at or under it clears 5 points
    below its threshold instead."""
    overrides: tuple[UtilisationOverride, ...] = ()


class LinkUtilisationHigh(RuleBase):
    name: ClassVar[str] = "link_utilisation_high"
    measurements: ClassVar[frozenset[str]] = frozenset({INTERFACE})
    options: UtilisationOptions

    def __init__(self, options: UtilisationOptions) -> None:
        super().__init__(options)
        self._labels: dict[tuple[str, ...], dict[str, str]] = {}
        # Overrides that change the verdict (not only `for` or severity) need the
        # per-link options before the quick "fine, and was fine" exit.
        self._per_link_verdict = any(o.enabled is not None or o.threshold_pct is not None
                                     for o in options.overrides)

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        firing_keys = self.report.firing
        firing_devices = self.report.devices()
        base_threshold = self.options.threshold_pct
        per_link = self._per_link_verdict
        for s in samples:
            f = s.fields
            util = f.get("util_pct")
            if util is None:
                continue  # no rate this poll (first poll, reset, unknown capacity)
            # The common case, kept cheap (no allocation): under the threshold, and
            # not firing before.
            if (not per_link and util < (base_threshold or f.get("threshold_pct", 50.0))  # type: ignore[operator]
                    and (s.target not in firing_devices
                         or (s.target, s.tags.get("ifName", "")) not in firing_keys)):
                continue
            key = (s.target, s.tags.get("ifName", ""))
            opts: UtilisationOptions = self.options_for(key, s.tags)  # type: ignore[assignment]
            threshold = float(opts.threshold_pct or f.get("threshold_pct", 50.0))  # type: ignore[arg-type]
            oper = f.get("oper_status")
            if not opts.enabled or (oper is not None and oper != OPER_UP):
                firing = False  # a link that is not up is link_down's business
            elif util >= threshold:  # type: ignore[operator]
                firing = True
            elif key in firing_keys:  # hysteresis: firing until under clear_below
                firing = util >= _clear(opts, threshold)  # type: ignore[operator]
            else:
                firing = False
            if not self.report.should_report(key, firing):
                continue
            labels = self._labels.get(key)
            if labels is None:
                labels = self._labels[key] = link_labels(self.name, opts.severity, s.tags)
            annotations: Mapping[str, str] = (
                Lazy(self._text, s, threshold, _clear(opts, threshold)) if firing else {})
            out.append(Observation(self.name, key, labels, firing, float(util), s.ts,  # type: ignore[arg-type]
                                   annotations))
        return out

    def _text(self, s: Sample, threshold: float, clear: float) -> dict[str, str]:
        f = s.fields
        return render(self.name, self.language, {
            **s.tags, "link": s.tags.get("link") or s.tags.get("ifName", ""), "device": s.target,
            "util_pct": f["util_pct"], "capacity": bandwidth(f.get("capacity_bps")),  # type: ignore[arg-type]
            "threshold_pct": threshold, "clear_pct": clear,
            "in_rate": bandwidth(f.get("in_bps")),  # type: ignore[arg-type]
            "out_rate": bandwidth(f.get("out_bps")),  # type: ignore[arg-type]
        })


def _clear(opts: UtilisationOptions, threshold: float) -> float:
    """clear_below, or 5 points under a link threshold that is not above it."""
    return opts.clear_below_pct if opts.clear_below_pct < threshold else threshold - 5.0


# -- link_down ----------------------------------------------------------------------------


class LinkDownOptions(RuleOptions):
    severity: Severity = "critical"


class LinkDown(RuleBase):
    """ifOperStatus down (or lowerLayerDown) while ifAdminStatus is up: not a planned shut."""

    name: ClassVar[str] = "link_down"
    measurements: ClassVar[frozenset[str]] = frozenset({INTERFACE})

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        firing_keys = self.report.firing
        firing_devices = self.report.devices()
        for s in samples:
            f = s.fields
            oper = f.get("oper_status")
            if (oper == OPER_UP or oper is None) and s.target not in firing_devices:
                continue  # up, and nothing of this device was down: the common case
            admin = f.get("admin_status")
            if oper is None or admin is None:
                continue
            key = _key(s)
            if oper not in OPER_DOWN and key not in firing_keys:
                continue  # a link up on a device with a link down: fine, as before
            opts = self.options_for(key, s.tags)
            firing = opts.enabled and admin == ADMIN_UP and oper in OPER_DOWN
            if not self.report.should_report(key, firing):
                continue
            annotations: dict[str, str] = {}
            if firing:
                annotations = render(self.name, self.language, {
                    **s.tags, "link": s.tags.get("link") or key[1], "device": s.target,
                    "oper": OPER_NAMES.get(int(oper), str(oper)),
                })
            out.append(Observation(self.name, key, link_labels(self.name, opts.severity, s.tags),
                                   firing, float(oper), s.ts, annotations))
        return out


# -- counter_anomaly ----------------------------------------------------------------------


class CounterAnomalyOptions(RuleOptions):
    count: int = Field(3, ge=1)
    """Resets within ``window`` that make an anomaly."""
    window_s: Duration = Field(3600.0, alias="window")


class CounterAnomaly(RuleBase):
    """Counter resets (reboots, discontinuities, impossible rates) repeating on one interface."""

    name: ClassVar[str] = "counter_anomaly"
    measurements: ClassVar[frozenset[str]] = frozenset({INTERFACE, COUNTER_RESET})
    options: CounterAnomalyOptions

    def __init__(self, options: CounterAnomalyOptions) -> None:
        super().__init__(options)
        self._resets: dict[tuple[str, ...], deque[tuple[datetime, str]]] = {}

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        judged: dict[tuple[str, ...], Sample] = {}
        resets = [s for s in samples if s.measurement == COUNTER_RESET]
        for s in resets:
            key = _key(s)
            self._resets.setdefault(key, deque()).append((s.ts, str(s.fields.get("reason"))))
            judged[key] = s
        devices = {key[0] for key in self._resets}
        for s in samples if devices else ():
            # Interfaces with resets in the window are judged again at each poll.
            if s.target in devices and s.measurement == INTERFACE:
                key = _key(s)
                if key in self._resets:
                    judged[key] = s
        for key, s in judged.items():
            opts: CounterAnomalyOptions = self.options_for(key, s.tags)  # type: ignore[assignment]
            resets = self._resets[key]
            while resets and (s.ts - resets[0][0]).total_seconds() > opts.window_s:
                resets.popleft()
            if not resets:
                del self._resets[key]
            firing = opts.enabled and len(resets) >= opts.count
            if not self.report.should_report(key, firing):
                continue
            annotations: dict[str, str] = {}
            if firing:
                reasons = sorted({r for _, r in resets})
                annotations = render(self.name, self.language, {
                    **s.tags, "link": s.tags.get("link") or key[1], "device": s.target,
                    "count": len(resets), "window": duration(opts.window_s),
                    "reasons": ", ".join(reasons),
                })
            out.append(Observation(self.name, key, link_labels(self.name, opts.severity, s.tags),
                                   firing, float(len(resets)), s.ts, annotations))
        return out


register_rule(LinkUtilisationHigh.name, UtilisationOptions, LinkUtilisationHigh)
register_rule(LinkDown.name, LinkDownOptions, LinkDown)
register_rule(CounterAnomaly.name, CounterAnomalyOptions, CounterAnomaly)
