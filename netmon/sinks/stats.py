"""Counters every sink keeps (step: storage), read by /metrics and ``netmon status``."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class SinkStats:
    points_written: int = 0  # accepted by the database
    points_spooled: int = 0  # ever put in the on-disk spool
    points_dropped: int = 0  # lost on purpose: rejected data, or spool over its bounds
    spool_depth_points: int = 0
    spool_oldest_age_s: float = 0.0
    queue_points: int = 0  # waiting in memory
    write_errors: int = 0  # failed write requests of any kind
    config_errors: int = 0  # 4xx other than 429: token, org, bucket
    last_error: str | None = None  # never contains a secret
    last_error_at: float | None = None  # unix time
    last_success_at: float | None = None  # unix time
    # Why the sink cannot store right now (its last attempt failed), for /healthz;
    # None once an attempt succeeds again. Never contains a secret.
    failing: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
