"""Builders of derived samples and a recorder of Dispatcher.update calls, for the alert tests.

Step: test peers around the alert engine. Samples are what netmon.rates and
netmon.poll produce (same measurements, tags and fields); the recorder is the
seam the engine hands its alerts to (alerts.dispatch.Dispatcher.update).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from netmon.model import COUNTER_RESET, DEVICE, INTERFACE, Alert, Sample

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def link(device: str, if_name: str, util_pct: float | None, *, ts: datetime,
         capacity_bps: int = 400_000_000, threshold_pct: float = 50.0, site: str = "HNI",
         tier: str = "province", province: str = "Ha Noi", role: str = "uplink",
         name: str | None = None, oper: int = 1, admin: int = 1) -> Sample:
    tags = {"device": device, "site": site, "tier": tier, "province": province, "role": role,
            "link": name or if_name, "ifName": if_name}
    if role in ("plane-a", "plane-b"):
        tags["plane"] = role[-1].upper()
    fields: dict[str, float | int | str | bool] = {
        "capacity_bps": capacity_bps, "threshold_pct": threshold_pct,
        "oper_status": oper, "admin_status": admin, "ifIndex": 1,
    }
    if util_pct is not None:
        bps = util_pct * capacity_bps / 100
        fields.update(in_bps=bps, out_bps=bps * 0.5, util_pct=util_pct,
                      util_in_pct=util_pct, util_out_pct=util_pct / 2)
    return Sample(device, INTERFACE, tags, fields, ts)


def device(name: str, reachable: bool, *, ts: datetime, site: str = "HNI",
           tier: str = "province", error: str = "timeout after 2 tries") -> Sample:
    fields: dict[str, float | int | str | bool] = {"reachable": reachable,
                                                   "poll_duration_s": 0.1}
    if not reachable:
        fields["error"] = error
    return Sample(name, DEVICE, {"device": name, "site": site, "tier": tier,
                                 "province": "Ha Noi"}, fields, ts)


def reset(dev: str, if_name: str, *, ts: datetime, reason: str = "reboot") -> Sample:
    tags = {"device": dev, "site": "HNI", "tier": "province", "province": "Ha Noi",
            "role": "uplink", "link": if_name, "ifName": if_name}
    return Sample(dev, COUNTER_RESET, tags, {"reason": reason, "ifIndex": 1}, ts)


@dataclass
class Recorder:
    """Stands where alerts.dispatch.Dispatcher sits: keeps every update() call."""

    calls: list[tuple[list[Alert], datetime]] = field(default_factory=list)

    def update(self, alerts: Sequence[Alert], now: datetime) -> None:
        self.calls.append((list(alerts), now))

    @property
    def latest(self) -> dict[str, Alert]:
        return {a.fingerprint: a for a in self.calls[-1][0]} if self.calls else {}

    def episodes(self) -> set[tuple[str, datetime]]:
        """Distinct firing episodes seen: (fingerprint, starts_at)."""
        return {(a.fingerprint, a.starts_at) for alerts, _ in self.calls for a in alerts
                if a.state == "firing"}
