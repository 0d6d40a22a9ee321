"""The ``alerts:`` section of netmon.yaml: language, evaluation, rules, silences, inhibition.

Step: YAML, for the alert engine. ``alerts.rules.<name>`` is validated by the
options model each rule registered (netmon.plugins.register_rule), so adding
a rule touches only its own module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from alerts.silences import parse_matcher
from netmon import plugins
from netmon.units import Duration

__all__ = ["AlertsOptionsBase", "SilenceOptions", "alerts_section"]

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SilenceOptions(BaseModel):
    """A maintenance window planned in the config: matchers, start, end, comment."""

    model_config = _MODEL

    matchers: tuple[str, ...] = Field(min_length=1)
    start: AwareDatetime
    end: AwareDatetime
    comment: str = Field(min_length=1)
    created_by: str = "netmon.yaml"

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_matcher(text)
        return value

    @model_validator(mode="after")
    def _order(self) -> SilenceOptions:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class AlertsOptionsBase(BaseModel):
    model_config = _MODEL

    language: Literal["en", "vi"] = "en"
    """Language of the annotations (summary, description) and notifications."""
    eval_interval_s: Duration = Field(10.0, alias="eval_interval")
    """How often the engine evaluates the samples gathered since its last run."""
    resolved_keep_s: Duration = Field(900.0, alias="resolved_keep")
    """Resolved alerts stay listed (and are handed to the dispatcher) this long."""
    inhibition: bool = True
    """While device_unreachable fires for a device, its other alerts are inhibited."""
    external_url: str = ""
    """Base of each alert's generatorURL (e.g. http://netmon.example:9161); empty: none."""
    silences: tuple[SilenceOptions, ...] = ()


def alerts_section() -> type[AlertsOptionsBase]:
    """The section model, with one ``rules.<name>`` per registered rule (defaults included)."""
    fields: dict[str, Any] = {
        name: (plugin.options, plugin.options()) for name, plugin in sorted(plugins.rules().items())
    }
    rules_model = create_model("AlertRules", __config__=_MODEL, **fields)  # type: ignore[call-overload]
    return create_model(  # type: ignore[call-overload, no-any-return]
        "AlertsOptions", __base__=AlertsOptionsBase,
        rules=(rules_model, rules_model()),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
