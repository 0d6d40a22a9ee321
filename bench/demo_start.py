"""How long a newcomer waits: ``scripts/demo.sh`` from nothing installed to rates.

    python3 bench/demo_start.py [--runs 3]

Each run gives demo.sh fresh, empty venv paths (NETMON_SNMPSIM_VENV,
NETMON_VENV) and demo directory, as on a fresh machine, and times from the
command to: the simulated network answering, the daemon running, the first
poll of any target and of every target (``/api/targets``; each target has its
own offset in the 10 s interval) and the first rate (``/api/links``).
Debian's python3-venv is already installed here, and pip reads this machine's
package indexes: a fresh machine adds its apt and download time.

Not part of the test suite. Uses the demo's HTTP port, 127.0.0.1:9161.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import machine_line  # noqa: E402  (bench/ is on sys.path when run as a script)

API = "http://127.0.0.1:9161"
LIMIT_S = 180.0


def get_json(path: str) -> dict | None:
    try:
        with urllib.request.urlopen(API + path, timeout=1.0) as reply:
            return json.load(reply)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def one_run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="netmon-demo-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # snmpsim runs as nobody and must reach its venv and data
        env = {**os.environ, "NETMON_SNMPSIM_VENV": str(root / "sim"),
               "NETMON_VENV": str(root / "venv")}
        marks: dict[str, float] = {}
        start = time.monotonic()
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "demo.sh"), "--demo-dir", str(root / "demo")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("demo: simulated network"):
                    marks.setdefault("agent answering", time.monotonic() - start)
                if "netmon running" in line:
                    marks.setdefault("daemon running", time.monotonic() - start)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while time.monotonic() - start < LIMIT_S and proc.poll() is None:
                targets = (get_json("/api/targets") or {}).get("targets") or []
                if any(t["polls"] for t in targets):
                    marks.setdefault("first poll", time.monotonic() - start)
                if targets and all(t["polls"] for t in targets):
                    marks.setdefault("every target polled", time.monotonic() - start)
                links = (get_json("/api/links") or {}).get("links") or []
                if any(link.get("in_bps") is not None for link in links):
                    marks["first rate"] = time.monotonic() - start
                    break
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            reader.join(timeout=5)
        return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if get_json("/api/targets") is not None:
        raise SystemExit(f"something already answers on {API}: stop it first")
    runs = [one_run() for _ in range(args.runs)]
    steps = ["agent answering", "daemon running", "first poll", "every target polled",
             "first rate"]
    print(f"scripts/demo.sh from empty venvs: seconds from the command, median of {args.runs} runs")
    print(machine_line())
    print(f"{'step':<22}  {'median':>7}  {'runs':<24}  goal")
    for step in steps:
        got = [r[step] for r in runs if step in r]
        median = f"{statistics.median(got):.1f}" if len(got) == len(runs) else "missed"
        goal = "< 60" if step == "first poll" else ""
        print(f"{step:<22}  {median:>7}  {' '.join(f'{g:.1f}' for g in got):<24}  {goal}")


if __name__ == "__main__":
    main()
