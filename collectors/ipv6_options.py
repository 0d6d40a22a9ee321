"""``ipv6:`` in netmon.yaml: the options of the IPv6 readiness collector and its service checks.

Step: YAML, for collectors -> samples. Apart from collectors/ipv6.py so that the
collector and collectors/ipv6_services.py both read it without importing each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netmon.units import Duration, Percent


class Ipv6Options(BaseModel):
    """``ipv6:`` in netmon.yaml (read by the ``ipv6`` collector and its service checks)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    interval_s: Duration = Field(3600.0, alias="interval")
    """How often readiness and services are checked, apart from traffic polling."""
    traffic_floor_pct: Percent = Field(0.1, alias="traffic_floor")
    """Level 4 needs IPv6 to carry at least this share of the device's IP traffic."""
    resolvers: tuple[str, ...] = ()
    """DNS servers for the service checks (``192.0.2.53``, ``127.0.0.1:5353``,
    ``[2001:db8::53]:53``); empty: the system's (/etc/resolv.conf)."""
    dns_timeout_s: Duration = Field(3.0, alias="dns_timeout")
    connect_timeout_s: Duration = Field(5.0, alias="connect_timeout")
    ca_file: str | None = None
    """CA bundle that HTTPS certificates must validate against; default: the system's."""
    concurrency: int = Field(20, ge=1, le=1000)
    """Service checks run at once per target."""
