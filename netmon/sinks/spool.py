"""Durable on-disk spool (step: storage). Options model lives beside the code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netmon.units import ByteSize, Duration


class SpoolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: ByteSize = Field(1024**3, alias="max_size")
    max_age_s: Duration = Field(7 * 86400.0, alias="max_age")
