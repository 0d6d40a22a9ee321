"""The on-disk spool: order, bounds, restart and kill -9."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netmon.sinks.spool import Spool, SpoolOptions, decode_body, encode_body

REPO = Path(__file__).resolve().parents[3]


def lines(tag: str, n: int) -> list[str]:
    t0 = 1_700_000_000_000_000_000
    return [f"interface,device={tag} in_bps={i}.5 {t0 + i}" for i in range(n)]


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_batches_come_back_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    assert spool.peek_oldest() is None and spool.depth_points == 0 and spool.oldest_age_s == 0
    spool.append(lines("a", 3))
    spool.append(lines("b", 2))
    assert (spool.depth_points, spool.depth_batches) == (5, 2)
    assert spool.depth_bytes > 0

    batch_id, got = spool.peek_oldest()
    assert got == lines("a", 3)
    spool.ack(batch_id)
    batch_id, got = spool.peek_oldest()
    assert got == lines("b", 2)
    spool.ack(batch_id)
    spool.ack(batch_id)  # twice is harmless
    assert spool.peek_oldest() is None
    assert (spool.depth_points, spool.depth_bytes, spool.depth_batches) == (0, 0, 0)


def test_append_front_goes_before_the_backlog(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(lines("newer", 2))
    spool.append_front_body(encode_body(lines("older", 1)), 1)
    spool.append_front_body(encode_body(lines("oldest", 1)), 1)
    spool.append(lines("newest", 1))
    order = []
    while (item := spool.peek_oldest()) is not None:
        order.append(item[1][0].split(",")[1].split()[0])
        spool.ack(item[0])
    assert order == ["device=oldest", "device=older", "device=newer", "device=newest"]


def test_payload_is_the_gzip_request_body(tmp_path: Path) -> None:
    body = encode_body(lines("x", 4))
    assert body[:2] == b"\x1f\x8b"
    assert decode_body(body) == lines("x", 4)


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "spool.sqlite"
    spool = Spool(path)
    spool.append(lines("a", 3))
    spool.close()
    again = Spool.in_state_dir(tmp_path / "state")
    assert again.depth_points == 3
    assert again.peek_oldest()[1] == lines("a", 3)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_over_max_bytes_drops_oldest_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    one = len(encode_body(lines("b0", 50)))
    spool = Spool(tmp_path / "spool.sqlite", SpoolOptions(max_size=int(one * 3.5)))
    for i in range(6):
        spool.append(lines(f"b{i}", 50))
    assert spool.depth_bytes <= one * 3.5 + 64
    kept = []
    while (item := spool.peek_oldest()) is not None:
        kept.append(item[1][0].split(",")[1].split()[0])
        spool.ack(item[0])
    assert kept == ["device=b3", "device=b4", "device=b5"]
    assert spool.dropped_points == 150 and spool.dropped_batches == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "50 points" in warnings[0] and "dropped" in warnings[0]


def test_over_max_age_drops_old_batches(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    spool = Spool(tmp_path / "spool.sqlite", SpoolOptions(max_age="1h"), clock=clock)
    spool.append(lines("old", 10))
    clock.t += 1800
    spool.append(lines("mid", 10))
    assert spool.oldest_age_s == 1800
    clock.t += 2400
    spool.append(lines("new", 10))
    assert spool.depth_points == 20 and spool.dropped_points == 10
    assert spool.peek_oldest()[1] == lines("mid", 10)
    assert "10 points" in caplog.text


def test_committed_batches_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from netmon.sinks.spool import Spool
        spool = Spool(__import__("pathlib").Path({str(path)!r}))
        for i in range(20):
            spool.append([f"m,b={{i}} v={{j}}i {{j}}" for j in range(100)])
        print("APPENDED", flush=True)
        while True:  # keep writing until killed, mid-transaction or not
            spool.append(["m,b=late v=1i 1"])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"APPENDED"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)

    spool = Spool(path)
    assert spool.depth_points >= 2000
    for i in range(20):
        batch_id, got = spool.peek_oldest()
        assert got[0] == f"m,b={i} v=0i 0" and len(got) == 100
        spool.ack(batch_id)
    integrity = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"
