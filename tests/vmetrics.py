"""A real VictoriaMetrics process on loopback: the write target of the storage tests.

VictoriaMetrics accepts the InfluxDB v2 write API (``/api/v2/write``) and
exports what it stored as JSON lines (``/api/v1/export``): the metric name is
``<measurement>_<field>``, tags become labels, timestamps are milliseconds.
What this build does with the rest (checked by hand against
``/usr/bin/victoria-metrics``):

* the ``org`` and ``bucket`` query parameters are accepted and ignored (no
  ``db`` label is added; only ``?db=`` of the v1 API would add one);
* string fields are stored as the number 0 (newer releases skip them): tests
  compare numeric fields only;
* an unparseable line is logged and skipped, and the request still gets 204.

``stop()`` then ``start()`` reuses the port and the data directory, which is
how the tests simulate an outage.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from waiting import free_port, stop_process

__all__ = ["BINARY", "VictoriaMetrics", "free_port"]

BINARY = "/usr/bin/victoria-metrics"


class VictoriaMetrics:
    def __init__(self, data_dir: Path, port: int | None = None, binary: str = BINARY) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"victoria-metrics-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 15.0) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"-storageDataPath={self.data_dir}",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    "-retentionPeriod=100y",
                    "-search.disableCache",
                    "-search.latencyOffset=0s",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited; see {self.log_path}")
            try:
                if self._get("/health") == b"OK":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"victoria-metrics not healthy after {timeout_s}s; see {self.log_path}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): what it acknowledged stays on disk."""
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def _get(self, path: str, timeout_s: float = 10.0) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as resp:
            return resp.read()

    def force_flush(self) -> None:
        self._get("/internal/force_flush")

    def export(self, match: str = '{__name__=~".+"}') -> list[dict]:
        """Every series matching ``match``: dicts with metric, values, timestamps (ms)."""
        self.force_flush()
        query = urllib.parse.urlencode({"match[]": match})
        body = self._get(f"/api/v1/export?{query}")
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def series(self, match: str = '{__name__=~".+"}') -> dict[tuple, list[tuple[int, float]]]:
        """``{(name, sorted labels...): [(ts_ms, value), ...]}`` sorted by timestamp."""
        out: dict[tuple, list[tuple[int, float]]] = {}
        for row in self.export(match):
            metric = dict(row["metric"])
            name = metric.pop("__name__")
            key = (name, *sorted(metric.items()))
            points = out.setdefault(key, [])
            points.extend(zip(row["timestamps"], row["values"], strict=True))
        for points in out.values():
            points.sort()
        return out

    def count(self, match: str = '{__name__=~".+"}') -> int:
        return sum(len(row["values"]) for row in self.export(match))

    def __enter__(self) -> VictoriaMetrics:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
