"""Embedded local store (step: storage, when no InfluxDB is configured)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netmon.units import Duration


class LocalStoreOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_s: Duration = Field(30 * 86400.0, alias="retention")
