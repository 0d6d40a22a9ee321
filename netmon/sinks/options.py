"""The ``storage:`` section of netmon.yaml, assembled from each sink's own options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netmon.plugins import register_section
from netmon.sinks.influx import InfluxOptions
from netmon.sinks.local import LocalStoreOptions
from netmon.sinks.spool import SpoolOptions


class StorageOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    influxdb: InfluxOptions | None = None
    spool: SpoolOptions = Field(default_factory=SpoolOptions)
    local: LocalStoreOptions = Field(default_factory=LocalStoreOptions)


register_section("storage", StorageOptions)
