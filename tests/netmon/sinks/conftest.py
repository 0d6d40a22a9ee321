"""Fixtures for the storage tests: sample factories (``vm`` comes from tests/netmon/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netmon.model import Sample


def interface_samples(
    n: int,
    *,
    device: str = "hni-core-01",
    start: datetime | None = None,
    step_s: float = 1.0,
    links: int = 4,
) -> list[Sample]:
    """``n`` interface samples spread over ``links`` links, one timestamp per round.

    By default the last round is a minute ago: VictoriaMetrics does not export
    points from the future.
    """
    rounds = -(-n // links)
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(
        seconds=rounds * step_s + 60
    )
    out = []
    for i in range(n):
        link = i % links
        ts = start + timedelta(seconds=step_s * (i // links))
        out.append(
            Sample(
                target=device,
                measurement="interface",
                tags={
                    "site": "HNI", "tier": "core", "province": "Ha Noi", "plane": "A",
                    "device": device, "ifName": f"xe-0/0/{link}", "role": "uplink",
                    "link": f"HNI-HCM-{link}",
                },
                fields={
                    "in_bps": 1_000_000.0 + i * 0.5,
                    "out_bps": 2_000_000.0 + i,
                    "util_pct": (i % 1000) / 10,
                    "capacity_bps": 10_000_000_000,
                    "oper_status": 1,
                    "status": "up",
                },
                ts=ts,
            )
        )
    return out


@pytest.fixture
def make_samples():
    return interface_samples
