"""Rule ``ipv6_readiness_regressed``: a device's IPv6 level dropped, or a service left green.

Step: rates -> **alert engine (rules)** -> notifiers. Reads the ``ipv6_readiness``
and ``ipv6_service`` samples of the ipv6 collector (never the collector itself).

State per thing, kept between evaluations (the rule is built once):

* a device's **reference level**: the level it was last judged fine at. A
  lower level fires; the alert keeps firing until the device is back at (or
  above) the reference, which then follows it. A rise is never an alert.
* a service's reference is whether it was green. Leaving green fires until it
  is green again. Grey (deliberately not offered, from the config) is judged
  fine and clears the reference: taking a service off IPv6 on purpose is not
  a regression.

The first time a thing is seen it is judged fine (nothing to compare with),
unless the engine restored it as firing from before a restart (``restore``):
a service then fires until it is green again, a device until its level rises
(its old reference level was not kept). Samples without a level or colour
(the device or the resolver did not answer) are not judged: the thing keeps
its state in the engine, and an unreachable device is ``device_unreachable``'s
business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from alerts.rule import RuleBase, RuleOptions
from netmon.model import IPV6_READINESS, IPV6_SERVICE, Observation, Sample
from netmon.plugins import register_rule

NAME = "ipv6_readiness_regressed"
LEVEL_NAMES = ("none", "enabled", "addressed", "routed", "in_service")
COLOUR_VALUE = {"red": 0.0, "yellow": 1.0, "green": 2.0}
DEVICE_LABELS = ("device", "site", "tier", "province", "agency")
SERVICE_LABELS = ("device", "site", "tier", "province", "agency", "service", "kind")

TEXT = {
    "en": {
        "device_summary": "IPv6 readiness of {device} dropped to level {new} ({new_name})",
        "device_description": ("{device} (site {site}) went from IPv6 level {old} ({old_name}) "
                               "to level {new} ({new_name}). Missing now: {reasons}. "
                               "Missing before: {old_reasons}."),
        "service_summary": "{kind} {service} of {agency} no longer works over IPv6 ({colour})",
        "service_description": ("{kind} {service} of {agency} (device {device}) was green over "
                                "IPv6 and is now {colour}: {reasons}."),
        "nothing": "nothing",
        "colours": {"green": "green", "yellow": "yellow", "red": "red", "grey": "grey"},
        "kinds": {"portal": "portal", "dns": "DNS", "mail": "mail"},
    },
    "vi": {
        "device_summary": "Mức sẵn sàng IPv6 của {device} giảm xuống mức {new} ({new_name})",
        "device_description": ("{device} (điểm {site}) giảm từ mức IPv6 {old} ({old_name}) "
                               "xuống mức {new} ({new_name}). Hiện còn thiếu: {reasons}. "
                               "Trước đó thiếu: {old_reasons}."),
        "service_summary": "Dịch vụ {kind} {service} của {agency} không còn hoạt động qua "
                           "IPv6 ({colour})",
        "service_description": ("Dịch vụ {kind} {service} của {agency} (thiết bị {device}) "
                                "trước đây xanh qua IPv6, nay {colour}: {reasons}."),
        "nothing": "không có",
        "colours": {"green": "xanh", "yellow": "vàng", "red": "đỏ", "grey": "xám"},
        "kinds": {"portal": "cổng thông tin", "dns": "DNS", "mail": "thư điện tử"},
    },
}


class Ipv6RegressedOptions(RuleOptions):
    """``alerts.rules.ipv6_readiness_regressed:`` in netmon.yaml."""

    services: bool = True
    """Also alert when an agency service leaves green (devices are always judged)."""


@dataclass(frozen=True, slots=True)
class _Level:
    level: int
    reasons: str


class Ipv6ReadinessRegressed(RuleBase):
    """Fires while a device is below the IPv6 level it had, or a service is no longer green."""

    name: ClassVar[str] = NAME
    measurements: ClassVar[frozenset[str] | None] = frozenset({IPV6_READINESS, IPV6_SERVICE})
    options: Ipv6RegressedOptions

    def __init__(self, options: Ipv6RegressedOptions | None = None, *,
                 language: str = "en") -> None:
        super().__init__(options or Ipv6RegressedOptions())
        self.language = language
        self._levels: dict[str, _Level] = {}
        self._green: dict[tuple[str, str], str] = {}  # service -> reasons when last green
        self._restored: set[tuple[str, ...]] = set()

    def restore(self, keys: Iterable[tuple[str, ...]]) -> None:
        keys = list(keys)
        super().restore(keys)
        self._restored.update(keys)

    def _labels(self, key: tuple[str, ...], tags: Mapping[str, str],
                names: Sequence[str]) -> tuple[dict[str, str], bool]:
        labels = {k: tags[k] for k in names if tags.get(k)}
        opts = self.options_for(key, labels)
        return {"alertname": NAME, "severity": opts.severity, **labels}, opts.enabled

    def _observation(self, key: tuple[str, ...], labels: dict[str, str], firing: bool,
                     value: float | None, s: Sample, annotations: dict[str, str] | None = None
                     ) -> Observation | None:
        if not self.report.should_report(key, firing):
            return None  # fine before and fine now: nothing changes in the engine
        return Observation(NAME, key, labels, firing, value, s.ts, annotations or {})

    def _text(self) -> dict:  # "en" or "vi", set by the engine from alerts.language
        return TEXT.get(self.language, TEXT["en"])

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for s in samples:
            if s.measurement == IPV6_READINESS:
                obs = self._device(s)
            elif s.measurement == IPV6_SERVICE and self.options.services:
                obs = self._service(s)
            else:
                continue
            if obs is not None:
                out.append(obs)
        return out

    def _device(self, s: Sample) -> Observation | None:
        level = s.fields.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 4:
            return None
        device = s.tags.get("device", s.target)
        reasons = str(s.fields.get("reasons", ""))
        key = ("device", device)
        labels, enabled = self._labels(key, s.tags, DEVICE_LABELS)
        ref = self._levels.get(device)
        if ref is None and key in self._restored:
            # Firing before a restart; the level it fell from is not known: hold the
            # alert until the device improves.
            ref = self._levels[device] = _Level(min(level + 1, 4), "")
        self._restored.discard(key)
        if not enabled or ref is None or level >= ref.level:
            self._levels[device] = _Level(level, reasons)
            return self._observation(key, labels, False, float(level), s)
        t = self._text()
        values = {
            "device": device, "site": s.tags.get("site", ""), "old": ref.level,
            "old_name": LEVEL_NAMES[ref.level], "new": level, "new_name": LEVEL_NAMES[level],
            "reasons": reasons or t["nothing"], "old_reasons": ref.reasons or t["nothing"],
        }
        annotations = {"summary": t["device_summary"].format(**values),
                       "description": t["device_description"].format(**values),
                       "old_level": str(ref.level), "new_level": str(level)}
        return self._observation(key, labels, True, float(level), s, annotations)

    def _service(self, s: Sample) -> Observation | None:
        colour = s.fields.get("colour")
        if colour not in ("green", "yellow", "red", "grey"):
            return None
        device = s.tags.get("device", s.target)
        service = s.tags.get("service", "")
        key = ("service", device, service)
        labels, enabled = self._labels(key, s.tags, SERVICE_LABELS)
        value = COLOUR_VALUE.get(str(colour))
        if key in self._restored:
            self._restored.discard(key)
            self._green.setdefault((device, service), "")  # it was green before the restart
        if colour == "grey" or not enabled:
            self._green.pop((device, service), None)
            return self._observation(key, labels, False, value, s)
        if colour == "green":
            self._green[(device, service)] = str(s.fields.get("reasons", ""))
            return self._observation(key, labels, False, value, s)
        if (device, service) not in self._green:
            return self._observation(key, labels, False, value, s)  # never was green
        t = self._text()
        values = {
            "device": device, "service": service,
            "agency": s.tags.get("agency", s.tags.get("site", "")),
            "kind": t["kinds"].get(s.tags.get("kind", ""), s.tags.get("kind", "")),
            "colour": t["colours"][str(colour)],
            "reasons": str(s.fields.get("reasons", "")) or t["nothing"],
        }
        annotations = {"summary": t["service_summary"].format(**values),
                       "description": t["service_description"].format(**values),
                       "old_colour": "green", "new_colour": str(colour)}
        return self._observation(key, labels, True, value, s, annotations)


def _build(options: Ipv6RegressedOptions) -> Ipv6ReadinessRegressed:
    return Ipv6ReadinessRegressed(options)


register_rule(NAME, Ipv6RegressedOptions, _build)
