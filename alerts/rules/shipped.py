"""What the data-centre rules share: defaults shipped in YAML, labels, limits and their source.

Step: rates -> **alert engine (rules)** -> notifiers. Reads samples only
(``ups``, ``sensor``, ``host``); never imports collectors/.

Defaults live in ``alerts/rules/datacentre.yaml``: ``shipped(Options, name)``
returns the options model with its defaults read (and validated) from there,
so the YAML is the one place an engineer reads and changes them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import create_model

from alerts.rule import RuleBase, RuleOptions, RuleOverride
from alerts.templates import render
from netmon.model import Observation, Sample

__all__ = ["DEFAULTS_FILE", "DcMatch", "DcOptions", "DcOverride", "DcRule", "configured",
           "dc_labels", "limit_from", "number", "shipped"]

DEFAULTS_FILE = Path(__file__).with_name("datacentre.yaml")
DcMatch = Literal["tier", "site", "province", "device", "sensor", "kind", "storage"]
_LABEL_TAGS = ("device", "site", "tier", "province")

OptionsT = TypeVar("OptionsT", bound=RuleOptions)


@cache
def _defaults() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))


def shipped(model: type[OptionsT], rule: str) -> type[OptionsT]:
    """``model`` with the defaults of ``rule`` from datacentre.yaml (validated by it)."""
    values = model.model_validate(_defaults()[rule])
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in values.model_fields_set:
            changed = copy.copy(info)
            changed.default = getattr(values, name)
            fields[name] = (info.annotation, changed)
    return create_model(model.__name__, __base__=model, __module__=model.__module__,
                        **fields)


def dc_labels(rule: str, severity: str, tags: Mapping[str, str],
              extra: Sequence[str] = ()) -> dict[str, str]:
    labels = {"alertname": rule, "severity": severity}
    for tag in (*_LABEL_TAGS, *extra):
        value = tags.get(tag)
        if value:
            labels[tag] = value
    return labels


def configured(options: RuleOptions, labels: Mapping[str, str], attr: str
               ) -> tuple[float | None, str]:
    """The configured value of ``attr`` for these labels and where it was set:
    ``""`` (the rule's own option) or ``"site DC-HN"`` / ``"device ups1"`` (an override)."""
    value = getattr(options, attr)
    source = ""
    for override in options.overrides:
        if override.matches(labels) and getattr(override, attr, None) is not None:
            value = getattr(override, attr)
            source = ", ".join(f"{k} {v}" for k, v in override.match.items())
    return value, source


def limit_from(source: str, default_en: str, default_vi: str, article: str = ""
               ) -> dict[str, str]:
    """Template values naming where a configured limit was set: the override's match
    (``source`` from :func:`configured`), else the rule's own option (the defaults)."""
    if source:
        return {"limit_from": f"{article}limit configured for {source}",
                "limit_from_vi": f"ngưỡng cấu hình cho {source}"}
    return {"limit_from": default_en, "limit_from_vi": default_vi}


def number(fields: Mapping[str, object], name: str) -> float | None:
    """A numeric field as float; None when absent or not a number (a bool is not one)."""
    value = fields.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


class DcOverride(RuleOverride):
    """``overrides:`` entries of the data-centre rules may also match a sensor or storage."""

    match: dict[DcMatch, str]  # type: ignore[assignment]


class DcOptions(RuleOptions):
    """Options of a data-centre rule without options of its own."""

    overrides: tuple[DcOverride, ...] = ()  # type: ignore[assignment]


class DcRule(RuleBase):
    """One observation per thing in the samples of ``measurement``; subclasses judge."""

    measurement: ClassVar[str]
    key_tags: ClassVar[tuple[str, ...]] = ()
    templates: ClassVar[Mapping[str, Mapping[str, tuple[str, str]]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The engine then hands the rule only its measurement: ten data-centre rules
        # each skipping 100,000 interface samples cost ~25 ms per evaluation.
        measurement = cls.__dict__.get("measurement")
        if measurement is not None:
            cls.measurements = frozenset({measurement})

    def key(self, s: Sample) -> tuple[str, ...]:
        return (s.target, *(s.tags.get(t, "") for t in self.key_tags))

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        """(firing, value, template values), or None when this sample cannot be judged."""
        raise NotImplementedError

    def band(self, opts: RuleOptions, labels: Mapping[str, str], key: tuple[str, ...],
             value: float, limit_attr: str, clear_attr: str, *, rising: bool = True
             ) -> tuple[bool, float, float, str]:
        """Hysteresis on a configured limit: (firing, limit, clear, where the limit was set).

        rising: firing at or above the limit, and once firing until under ``clear``
        (never above the limit); else firing under the limit, and once firing until
        at or above ``clear`` (never under the limit)."""
        limit, source = configured(opts, labels, limit_attr)
        clear, _ = configured(opts, labels, clear_attr)
        assert limit is not None and clear is not None
        if rising:
            clear = min(clear, limit)
            firing = value >= limit or (self.report.was_firing(key) and value >= clear)
        else:
            clear = max(clear, limit)
            firing = value < limit or (self.report.was_firing(key) and value < clear)
        return firing, limit, clear, source

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for s in samples:
            if s.measurement != self.measurement:
                continue
            key = self.key(s)
            labels = dc_labels(self.name, self.options.severity, s.tags, self.key_tags)
            opts = self.options_for(key, labels)
            if not opts.enabled:
                continue
            verdict = self.judge(s, opts, key)
            if verdict is None:
                continue
            firing, value, values = verdict
            if not self.report.should_report(key, firing):
                continue
            labels["severity"] = opts.severity
            annotations: dict[str, str] = {}
            if firing:
                annotations = render(self.name, self.language,
                                     {**s.tags, "device": s.target, **values}, self.templates)
            out.append(Observation(self.name, key, labels, firing, value, s.ts, annotations))
        return out
