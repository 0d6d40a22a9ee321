"""InfluxDB v2 sink (step: rates -> storage). Options model lives beside the code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netmon.secrets import Secret
from netmon.units import Duration


class InfluxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    org: str
    bucket: str
    token: Secret
    batch_size: int = Field(5000, ge=1, le=5000)
    flush_interval_s: Duration = Field(1.0, alias="flush_interval")
    timeout_s: Duration = Field(10.0, alias="timeout")
