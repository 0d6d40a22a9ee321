"""Plane-pair rules: the reason for the 50% rule, judged per site.

Step: rates -> **alert engine (rules)** -> notifiers. A site with links on both
backbone planes (role ``plane-a`` / ``plane-b``, tag ``plane`` A / B) must
survive the loss of either plane. The planes may sit on different devices
of the same site: links are gathered by their ``site`` tag, keeping the
latest ``interface`` sample of each (device, ifName).

* plane_redundancy_lost: every link of one plane is down (oper down).
* failover_headroom_low: both planes' traffic together exceeds the threshold
  share of the smaller plane's capacity, i.e. if one plane failed the other
  would run above its threshold. Hysteresis as link_utilisation_high.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from alerts.rule import RuleBase, RuleOptions, RuleOverride, Severity
from alerts.rules.links import OPER_DOWN
from alerts.templates import bandwidth, render
from netmon.model import INTERFACE, Observation, Sample
from netmon.plugins import register_rule
from netmon.units import Duration, Percent

__all__ = ["FailoverHeadroomLow", "PlaneRedundancyLost"]


@dataclass(slots=True)
class _Link:
    name: str
    plane: str
    down: bool
    in_bps: float | None
    out_bps: float | None
    capacity_bps: float | None
    threshold_pct: float


class _Sites:
    """The latest state of each plane link, by site."""

    def __init__(self) -> None:
        self.links: dict[str, dict[tuple[str, str], _Link]] = {}
        self.tags: dict[str, dict[str, str]] = {}

    def update(self, samples: Sequence[Sample]) -> dict[str, Sample]:
        """Take in the plane links of ``samples``; returns the sites touched (-> a sample)."""
        touched: dict[str, Sample] = {}
        for s in samples:
            if s.measurement != INTERFACE:
                continue
            plane = s.tags.get("plane")
            site = s.tags.get("site")
            if not plane or not site:
                continue
            f = s.fields
            oper = f.get("oper_status")
            in_bps, out_bps, cap = f.get("in_bps"), f.get("out_bps"), f.get("capacity_bps")
            self.links.setdefault(site, {})[(s.target, s.tags.get("ifName", ""))] = _Link(
                s.tags.get("link") or s.tags.get("ifName", ""), plane, oper in OPER_DOWN,
                float(in_bps) if in_bps is not None else None,  # type: ignore[arg-type]
                float(out_bps) if out_bps is not None else None,  # type: ignore[arg-type]
                float(cap) if cap is not None else None,  # type: ignore[arg-type]
                float(f.get("threshold_pct", 50.0)),  # type: ignore[arg-type]
            )
            if site not in self.tags:
                self.tags[site] = {k: s.tags[k] for k in ("tier", "province") if s.tags.get(k)}
            touched[site] = s
        return touched

    def planes(self, site: str) -> dict[str, list[_Link]]:
        out: dict[str, list[_Link]] = {"A": [], "B": []}
        for link in self.links.get(site, {}).values():
            if link.plane in out:
                out[link.plane].append(link)
        return out


def _labels(name: str, severity: str, site: str, tags: dict[str, str],
            plane: str | None = None) -> dict[str, str]:
    labels = {"alertname": name, "severity": severity, "site": site, **tags}
    if plane:
        labels["plane"] = plane
    return labels


class RedundancyOptions(RuleOptions):
    severity: Severity = "critical"


class PlaneRedundancyLost(RuleBase):
    name: ClassVar[str] = "plane_redundancy_lost"

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        self.sites = _Sites()

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for site, sample in self.sites.update(samples).items():
            planes = self.sites.planes(site)
            if not planes["A"] or not planes["B"]:
                continue  # not a plane pair
            tags = self.sites.tags[site]
            for plane, other in (("A", "B"), ("B", "A")):
                key = (site, plane)
                labels = _labels(self.name, "", site, tags, plane)
                opts = self.options_for(key, labels)
                labels["severity"] = opts.severity
                links = planes[plane]
                lost = [x for x in links if x.down]
                firing = opts.enabled and len(lost) == len(links)
                if not self.report.should_report(key, firing):
                    continue
                annotations: dict[str, str] = {}
                if firing:
                    annotations = render(self.name, self.language, {
                        "site": site, "plane": plane, "other": other, "lost": len(lost),
                        "total": len(links), "links": ", ".join(sorted(x.name for x in lost))})
                out.append(Observation(self.name, key, labels, firing, float(len(lost)),
                                       sample.ts, annotations))
        return out


class HeadroomOverride(RuleOverride):
    threshold_pct: Percent | None = Field(None, alias="threshold")
    clear_below_pct: Percent | None = Field(None, alias="clear_below")


class HeadroomOptions(RuleOptions):
    for_s: Duration = Field(300.0, alias="for")
    threshold_pct: Percent | None = Field(None, alias="threshold")
    """None: the lowest threshold of the smaller plane's links (default 50%)."""
    clear_below_pct: Percent = Field(45.0, alias="clear_below")
    overrides: tuple[HeadroomOverride, ...] = ()


class FailoverHeadroomLow(RuleBase):
    name: ClassVar[str] = "failover_headroom_low"
    options: HeadroomOptions

    def __init__(self, options: HeadroomOptions) -> None:
        super().__init__(options)
        self.sites = _Sites()

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for site, sample in self.sites.update(samples).items():
            planes = self.sites.planes(site)
            if not planes["A"] or not planes["B"]:
                continue
            figures = {}
            for plane, links in planes.items():
                up = [x for x in links if not x.down and x.capacity_bps]
                figures[plane] = (
                    sum(x.capacity_bps or 0.0 for x in up),
                    sum(x.in_bps or 0.0 for x in links),
                    sum(x.out_bps or 0.0 for x in links),
                    min((x.threshold_pct for x in links), default=50.0),
                )
            if any(all(x.in_bps is None for x in links) for links in planes.values()):
                continue  # no rates yet on a whole plane: not judged
            cap_a, cap_b = figures["A"][0], figures["B"][0]
            if not cap_a or not cap_b:
                continue  # a plane with no link up: plane_redundancy_lost's case
            smaller = "A" if cap_a <= cap_b else "B"
            capacity = figures[smaller][0]
            load = max(figures["A"][1] + figures["B"][1], figures["A"][2] + figures["B"][2])
            load_pct = load * 100.0 / capacity
            key = (site,)
            tags = self.sites.tags[site]
            labels = _labels(self.name, "", site, tags)
            opts: HeadroomOptions = self.options_for(key, labels)  # type: ignore[assignment]
            labels["severity"] = opts.severity
            threshold = opts.threshold_pct or figures[smaller][3]
            clear = opts.clear_below_pct if opts.clear_below_pct < threshold else threshold - 5
            if load_pct > threshold:
                firing = True
            elif self.report.was_firing(key):
                firing = load_pct >= clear
            else:
                firing = False
            firing = firing and opts.enabled
            if not self.report.should_report(key, firing):
                continue
            annotations: dict[str, str] = {}
            if firing:
                annotations = render(self.name, self.language, {
                    "site": site, "load": bandwidth(load), "load_pct": load_pct,
                    "capacity": bandwidth(capacity), "threshold_pct": threshold,
                    "a_load": bandwidth(max(figures["A"][1], figures["A"][2])),
                    "a_capacity": bandwidth(cap_a),
                    "b_load": bandwidth(max(figures["B"][1], figures["B"][2])),
                    "b_capacity": bandwidth(cap_b)})
            out.append(Observation(self.name, key, labels, firing, load_pct, sample.ts,
                                   annotations))
        return out


register_rule(PlaneRedundancyLost.name, RedundancyOptions, PlaneRedundancyLost)
register_rule(FailoverHeadroomLow.name, HeadroomOptions, FailoverHeadroomLow)
