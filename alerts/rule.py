"""What every alert rule shares: its options base and the Rule protocol it implements.

Step: rates -> **alert engine (rules)** -> notifiers. A rule turns derived
samples into observations (``netmon.model.Observation``): for each thing it
judged in these samples, whether its condition holds now (with the rule's own
hysteresis applied) and the value that decided it. The engine owns time: the
``for`` delay, the pending/firing/resolved lifecycle, identity, silences,
inhibition and repeats. Rules register with ``netmon.plugins.register_rule``.

Per tier, site or link, an operator overrides a rule's options with
``overrides:`` (a list of ``match:`` label sets; the last matching entry wins
for each option it sets). ``RuleOptions.effective(labels)`` applies them.

Language: the engine sets ``rule.language`` ("en" or "vi", from
``alerts.language``) right after ``factory(options)``; rules pick their
annotation templates with it (``alerts.templates``). In annotations the
placeholder ``{for}`` is replaced by the engine with how long the condition
has held ("7m"), which only the engine knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netmon.model import Rule
from netmon.units import Duration

__all__ = ["MATCH_LABELS", "Reporter", "Rule", "RuleBase", "RuleOptions", "RuleOverride",
           "Severity"]

Severity = Literal["info", "warning", "critical"]
Language = Literal["en", "vi"]

MatchLabel = Literal["tier", "site", "province", "device", "link", "ifName", "plane", "role",
                     "sink"]
MATCH_LABELS: tuple[str, ...] = MatchLabel.__args__  # type: ignore[attr-defined]


class RuleOverride(BaseModel):
    """One entry of ``overrides:``: options for the things whose labels match all of ``match``.

    A rule with options of its own subclasses this to allow them here too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    match: dict[str, str] = Field(min_length=1)
    enabled: bool | None = None
    for_s: Duration | None = Field(None, alias="for")
    severity: Severity | None = None

    @field_validator("match")
    @classmethod
    def _known_labels(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MATCH_LABELS))
        if unknown:
            raise ValueError(f"cannot match on {', '.join(map(repr, unknown))} "
                             f"(labels: {', '.join(MATCH_LABELS)})")
        return value

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items())


class RuleOptions(BaseModel):
    """``alerts.rules.<name>:`` in netmon.yaml; each rule's options model extends this."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: bool = True
    for_s: Duration = Field(0.0, alias="for")
    """How long the condition must hold before the alert fires (0: at once)."""
    severity: Severity = "warning"
    overrides: tuple[RuleOverride, ...] = ()

    def effective(self, labels: Mapping[str, str]) -> RuleOptions:
        """These options with every matching override applied (later entries win).

        Returns ``self`` when nothing matches, so callers may cache by identity.
        """
        update: dict[str, Any] = {}
        for override in self.overrides:
            if override.matches(labels):
                for name, value in override:
                    if name != "match" and value is not None:
                        update[name] = value
        return self.model_copy(update=update) if update else self


class Reporter:
    """Keeps a rule's observations cheap at 100,000 links: what to report.

    A rule reports a thing when it fires (every time: the engine needs the
    current value), when its verdict changes, and the first time it is judged
    (the engine may hold a state for it from before a restart). A thing that
    was fine and is still fine needs no observation: the engine's state for it
    would not change.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[tuple[str, ...], bool] = {}

    def should_report(self, key: tuple[str, ...], firing: bool) -> bool:
        last = self._last.get(key)
        if firing:
            self._last[key] = True
            return True
        if last is False:
            return False
        self._last[key] = False
        return True

    def was_firing(self, key: tuple[str, ...]) -> bool:
        """What this rule last said about ``key`` (its hysteresis state)."""
        return self._last.get(key, False)

    def restore(self, keys: Iterable[tuple[str, ...]]) -> None:
        """The engine holds these keys pending or firing (from before a restart or reload)."""
        for key in keys:
            self._last[key] = True

    def forget(self, key: tuple[str, ...]) -> None:
        self._last.pop(key, None)


class RuleBase:
    """Optional base of a rule: its name, options, language and a per-labels options cache."""

    name: ClassVar[str]
    language: str = "en"

    def __init__(self, options: RuleOptions) -> None:
        self.options = options
        self.report = Reporter()
        self._effective: dict[tuple[str, ...], RuleOptions] = {}

    def restore(self, keys: Iterable[tuple[str, ...]]) -> None:
        """Called by the engine once, after building the rule: the keys it holds as pending
        or firing, so that hysteresis continues across a restart or reload."""
        self.report.restore(keys)

    def options_for(self, key: tuple[str, ...], labels: Mapping[str, str]) -> RuleOptions:
        """``options.effective(labels)``, computed once per thing."""
        found = self._effective.get(key)
        if found is None:
            found = self.options.effective(labels) if self.options.overrides else self.options
            self._effective[key] = found
        return found
