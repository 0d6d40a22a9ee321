"""What every alert rule shares: its options base and the Rule protocol it implements.

Step: rates -> **alert engine (rules)** -> notifiers. A rule turns derived
samples into observations (``netmon.model.Observation``): for each thing it
judged in these samples, whether its condition holds now (with the rule's own
hysteresis applied) and the value that decided it. The engine owns time: the
``for`` delay, the pending/firing/resolved lifecycle, identity, silences,
inhibition and repeats. Rules register with ``netmon.plugins.register_rule``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from netmon.model import Rule
from netmon.units import Duration

__all__ = ["Rule", "RuleOptions", "Severity"]

Severity = Literal["info", "warning", "critical"]


class RuleOptions(BaseModel):
    """``alerts.rules.<name>:`` in netmon.yaml; each rule's options model extends this."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: bool = True
    for_s: Duration = Field(0.0, alias="for")
    """How long the condition must hold before the alert fires (0: at once)."""
    severity: Severity = "warning"
