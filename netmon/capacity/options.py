"""The ``capacity:`` section of netmon.yaml (step: YAML).

Registered through ``netmon.plugins``; the defaults are the planning rule of
this network: traffic under 50% of capacity, judged on the daily p95 over the
last 90 days, projected 12 months ahead, on the usual circuit sizes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from netmon.plugins import register_section
from netmon.units import Bandwidth, Duration, Percent

DEFAULT_LADDER = ("50M", "100M", "200M", "400M", "1G", "1.2G", "2.5G", "10G")


class CapacityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    ladder_bps: tuple[Bandwidth, ...] = Field(DEFAULT_LADDER, alias="ladder",  # type: ignore[assignment]
                                              validate_default=True)
    threshold_pct: Percent = Field(50.0, alias="threshold")
    window_s: Duration = Field(90 * 86400.0, alias="window")
    horizon_months: int = Field(12, alias="horizon_months", ge=1, le=120)
    coverage_period_s: Duration = Field(30 * 86400.0, alias="coverage_period")
    complete_pct: Percent = Field(80.0, alias="complete")
    """A day whose 5-minute buckets cover less than this is marked incomplete."""
    min_days: int = Field(14, ge=3)
    """Complete days a trend needs; fewer is reported as "too little data"."""
    retention_s: Duration = Field(800 * 86400.0, alias="retention")
    """Daily roll-ups are kept this long (at least two years)."""
    five_minute_retention_s: Duration = Field(8 * 86400.0, alias="five_minute_retention")

    @field_validator("ladder_bps")
    @classmethod
    def _ascending(cls, ladder: tuple[int, ...]) -> tuple[int, ...]:
        if not ladder:
            raise ValueError("the capacity ladder needs at least one step (e.g. [100M, 1G])")
        if list(ladder) != sorted(set(ladder)):
            raise ValueError("the capacity ladder must be in ascending order, each step once")
        return ladder

    @field_validator("retention_s")
    @classmethod
    def _two_years(cls, value: float) -> float:
        if value < 730 * 86400:
            raise ValueError("daily roll-ups are kept at least 2 years (730d or more)")
        return value


register_section("capacity", CapacityOptions)
