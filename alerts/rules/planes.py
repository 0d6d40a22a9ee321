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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from alerts.rule import RuleBase, RuleOptions, RuleOverride, Severity
from alerts.rules.links import OPER_DOWN
from alerts.templates import Lazy, bandwidth, render
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
    """The latest state of each plane link, by site and plane (updated in place)."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], _Link] = {}
        self.planes: dict[str, dict[str, list[_Link]]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self._last: tuple[object, int, dict[str, Sample]] | None = None

    def update_once(self, samples: Sequence[Sample], evaluation: object) -> dict[str, Sample]:
        """``update``, once per evaluation: both plane rules read the same interface
        samples, and gathering them is most of what each costs (~20 ms at 100,000 links)."""
        last = self._last
        if last is not None and last[0] is evaluation and last[1] == len(samples):
            return last[2]
        touched = self.update(samples)
        self._last = (evaluation, len(samples), touched)
        return touched

    def update(self, samples: Sequence[Sample]) -> dict[str, Sample]:
        """Take in the plane links of ``samples``; returns the sites touched (-> a sample)."""
        touched: dict[str, Sample] = {}
        links = self.links
        for s in samples:
            tags = s.tags
            plane = tags.get("plane")
            if not plane:
                continue
            site = tags.get("site")
            if not site:
                continue
            f = s.fields
            key = (s.target, tags.get("ifName", ""))
            link = links.get(key)
            if link is None or link.plane != plane:
                old = link
                link = links[key] = _Link(tags.get("link") or key[1], plane, False, None, None,
                                          None, 50.0)
                self._place(site, link, old, tags)
            link.down = f.get("oper_status") in OPER_DOWN
            link.in_bps = f.get("in_bps")  # type: ignore[assignment]
            link.out_bps = f.get("out_bps")  # type: ignore[assignment]
            link.capacity_bps = f.get("capacity_bps")  # type: ignore[assignment]
            link.threshold_pct = f.get("threshold_pct", 50.0)  # type: ignore[assignment]
            touched[site] = s
        return touched

    def _place(self, site: str, link: _Link, old: _Link | None,
               tags: Mapping[str, str]) -> None:
        by_plane = self.planes.setdefault(site, {"A": [], "B": []})
        if old is not None:  # its role changed in the config: it leaves its old plane
            for members in by_plane.values():
                members[:] = [x for x in members if x is not old]
        by_plane.setdefault(link.plane, []).append(link)
        if site not in self.tags:
            self.tags[site] = {k: tags[k] for k in ("tier", "province") if tags.get(k)}


def _labels(name: str, severity: str, site: str, tags: dict[str, str],
            plane: str | None = None) -> dict[str, str]:
    labels = {"alertname": name, "severity": severity, "site": site, **tags}
    if plane:
        labels["plane"] = plane
    return labels


class _PlaneRule(RuleBase):
    """Holds the plane links, shared with the other plane rule of the same engine."""

    sites: _Sites

    def share(self, context: dict[str, object]) -> None:
        """Called by the engine after building its rules, with one dict for them all;
        ``context["evaluation"]`` is a new object at each evaluation."""
        self.sites = context.setdefault("plane_sites", self.sites)  # type: ignore[assignment]
        self._context = context

    def _touched(self, samples: Sequence[Sample]) -> dict[str, Sample]:
        context = getattr(self, "_context", None)
        if context is None:
            return self.sites.update(samples)
        return self.sites.update_once(samples, context.get("evaluation"))


class RedundancyOptions(RuleOptions):
    severity: Severity = "critical"


class PlaneRedundancyLost(_PlaneRule):
    name: ClassVar[str] = "plane_redundancy_lost"
    measurements: ClassVar[frozenset[str]] = frozenset({INTERFACE})

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        self.sites = _Sites()

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        firing_keys = self.report.firing
        for site, sample in self._touched(samples).items():
            planes = self.sites.planes[site]
            a, b = planes["A"], planes["B"]
            if not a or not b:
                continue  # not a plane pair
            for plane, other, links in (("A", "B", a), ("B", "A", b)):
                key = (site, plane)
                lost = 0
                for x in links:
                    if x.down:
                        lost += 1
                if lost < len(links) and key not in firing_keys:
                    continue  # the common case: the plane has a link up, as before
                labels = _labels(self.name, "", site, self.sites.tags[site], plane)
                opts = self.options_for(key, labels)
                labels["severity"] = opts.severity
                firing = opts.enabled and lost == len(links)
                if not self.report.should_report(key, firing):
                    continue
                annotations: dict[str, str] = {}
                if firing:
                    annotations = render(self.name, self.language, {
                        "site": site, "plane": plane, "other": other, "lost": lost,
                        "total": len(links), "links": ", ".join(sorted(x.name for x in links))})
                out.append(Observation(self.name, key, labels, firing, float(lost),
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


class FailoverHeadroomLow(_PlaneRule):
    name: ClassVar[str] = "failover_headroom_low"
    measurements: ClassVar[frozenset[str]] = frozenset({INTERFACE})
    options: HeadroomOptions

    def __init__(self, options: HeadroomOptions) -> None:
        super().__init__(options)
        self.sites = _Sites()

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        firing_keys = self.report.firing
        base = self.options
        for site, sample in self._touched(samples).items():
            planes = self.sites.planes[site]
            if not planes["A"] or not planes["B"]:
                continue
            figures: dict[str, tuple[float, float, float, float]] = {}
            rated = True
            for plane, links in planes.items():
                cap = in_bps = out_bps = 0.0
                threshold_pct = 100.0
                any_rate = False
                for x in links:
                    if x.in_bps is not None:
                        any_rate = True
                        in_bps += x.in_bps
                        out_bps += x.out_bps or 0.0
                    if not x.down and x.capacity_bps:
                        cap += x.capacity_bps
                    threshold_pct = min(threshold_pct, x.threshold_pct)
                rated = rated and any_rate
                figures[plane] = (cap, in_bps, out_bps, threshold_pct)
            if not rated:
                continue  # no rates yet on a whole plane: not judged
            cap_a, cap_b = figures["A"][0], figures["B"][0]
            if not cap_a or not cap_b:
                continue  # a plane with no link up: plane_redundancy_lost's case
            smaller = "A" if cap_a <= cap_b else "B"
            capacity = figures[smaller][0]
            load = max(figures["A"][1] + figures["B"][1], figures["A"][2] + figures["B"][2])
            load_pct = load * 100.0 / capacity
            key = (site,)
            if (not base.overrides and key not in firing_keys
                    and load_pct <= (base.threshold_pct or figures[smaller][3])):
                continue  # the common case: headroom, as before
            tags = self.sites.tags[site]
            labels = _labels(self.name, "", site, tags)
            opts: HeadroomOptions = self.options_for(key, labels)  # type: ignore[assignment]
            labels["severity"] = opts.severity
            threshold = opts.threshold_pct or figures[smaller][3]
            clear = opts.clear_below_pct if opts.clear_below_pct < threshold else threshold - 5
            if load_pct > threshold:
                firing = True
            elif key in firing_keys:
                firing = load_pct >= clear
            else:
                firing = False
            firing = firing and opts.enabled
            if not self.report.should_report(key, firing):
                continue
            annotations: Mapping[str, str] = Lazy(
                self._text, site, load, load_pct, capacity, threshold, figures) if firing else {}
            out.append(Observation(self.name, key, labels, firing, load_pct, sample.ts,
                                   annotations))
        return out


    def _text(self, site: str, load: float, load_pct: float, capacity: float,
              threshold: float, figures: dict[str, tuple[float, float, float, float]]
              ) -> dict[str, str]:
        a, b = figures["A"], figures["B"]
        return render(self.name, self.language, {
            "site": site, "load": bandwidth(load), "load_pct": load_pct,
            "capacity": bandwidth(capacity), "threshold_pct": threshold,
            "a_load": bandwidth(max(a[1], a[2])), "a_capacity": bandwidth(a[0]),
            "b_load": bandwidth(max(b[1], b[2])), "b_capacity": bandwidth(b[0])})


register_rule(PlaneRedundancyLost.name, RedundancyOptions, PlaneRedundancyLost)
register_rule(FailoverHeadroomLow.name, HeadroomOptions, FailoverHeadroomLow)
