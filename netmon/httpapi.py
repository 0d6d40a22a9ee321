"""HTTP status API (aiohttp): health, Prometheus metrics, latest link state."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from netmon.secrets import Secret


class HttpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    listen: str = "127.0.0.1:9161"
    token: Secret | None = None
