"""``netmon run --demo`` raises link_utilisation_high for its over-threshold links.

Step: the demo's embedded defaults -> daemon -> alert engine, as an operator
runs it (the real command, the real simulated network). The demo's `for` is
two poll intervals; a 1 s interval keeps the test short.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vmetrics import free_port
from waiting import http_get, wait_for

from netmon import simnet

INTERVAL_S = 1.0
DEMO_LINKS = 16  # configured links of the example network (netmon.simnet)


def test_demo_fires_for_its_over_threshold_links(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    demo_dir = simnet.world_dir("netmon-demo-test-")  # snmpsim runs as nobody
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netmon.cli", "run", "--demo", "--demo-dir",
             str(demo_dir), "--demo-interval", f"{INTERVAL_S:g}s",
             "--demo-listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    config = demo_dir / "config" / "netmon.yaml"
    try:
        def links() -> list[dict] | None:
            try:
                rows = json.loads(http_get(f"http://127.0.0.1:{port}/api/links").body)["links"]
            except (OSError, ValueError):
                return None
            # Every configured link polled twice: rates, so no status is unknown.
            done = len(rows) == DEMO_LINKS and all(r["status"] != "unknown" for r in rows)
            return rows if done else None

        rows = wait_for(links, 30, "the demo's links")
        started = time.monotonic()
        over = {(r["target"], r["link"]) for r in rows if r["status"] == "over_threshold"}
        assert len(over) >= 4, rows

        def alerted() -> set[tuple[str, str]]:
            done = subprocess.run(
                [sys.executable, "-m", "netmon.cli", "alerts", "--config", str(config),
                 "--state", "firing", "--json"], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            return {(a["labels"]["device"], a["labels"]["link"])
                    for a in json.loads(done.stdout)["alerts"]
                    if a["labels"]["alertname"] == "link_utilisation_high"}

        # `for` (two intervals) + two intervals, plus one CLI start-up.
        wait_for(lambda: alerted() == over, 4 * INTERVAL_S + 3, "alerts for every link over")
        assert time.monotonic() - started <= 4 * INTERVAL_S + 3
        text = log.read_text(encoding="utf-8")
        fired = {line.split("device=")[1].split()[0] for line in text.splitlines()
                 if "alert firing: link_utilisation_high" in line}
        assert fired == {device for device, _ in over}
        table = subprocess.run([sys.executable, "-m", "netmon.cli", "alerts", "--config",
                                str(config)], capture_output=True, text=True, timeout=30)
        assert "demo: alerts with: netmon alerts --config" in log.read_text(encoding="utf-8")
        assert sum("link_utilisation_high" in x for x in table.stdout.splitlines()) == len(over)
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(demo_dir, ignore_errors=True)
