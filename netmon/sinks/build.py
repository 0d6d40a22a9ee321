"""The ``storage:`` section -> the sinks the daemon writes to (step: rates -> storage)."""

from __future__ import annotations

from pathlib import Path

from netmon.model import Sink
from netmon.sinks.influx import InfluxSink
from netmon.sinks.local import LocalStore
from netmon.sinks.options import StorageOptions
from netmon.sinks.spool import Spool


def build_sinks(storage: StorageOptions, state_dir: Path) -> list[Sink]:
    """InfluxDB (with its spool in ``state_dir``) when configured, else the local store.

    Opening the SQLite files is quick and synchronous; background tasks start
    on the first ``write`` (or ``InfluxSink.start()``, which replays a spool
    left by the previous run right away).
    """
    state_dir = Path(state_dir)
    if storage.influxdb is not None:
        return [InfluxSink(storage.influxdb, Spool.in_state_dir(state_dir, storage.spool))]
    return [LocalStore.in_state_dir(state_dir, storage.local)]
