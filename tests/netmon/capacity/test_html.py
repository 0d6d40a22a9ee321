"""The HTML capacity report, rendered by headless Chromium (Debian ``chromium``): the page
shows the ranked table, trend charts with the threshold line and the plane-headroom table.

The screenshot is kept as a test artifact: in ``$NETMON_TEST_ARTIFACTS`` when set (CI
uploads that folder), else in the test's pytest tmp dir; its path is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from caphelpers import History, plane_pair

from netmon.capacity.html import render_html
from netmon.capacity.options import CapacityOptions
from netmon.capacity.report import build_capacity_report
from netmon.capacity.store import DAY_S, RollupStore

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


@pytest.fixture
def report_html(history: History, tmp_path: Path) -> Path:
    for n in range(25):  # more links than charts: only the top 20 get one
        grow = history.growing(20.0 + n, 0.3 * n)
        history.link(f"prov-{n:02d}", "uplink", 400_000_000, grow, tier="province")
    history.link("dist-hot", "uplink", 200_000_000, lambda i: 60.0 + (i % 5), tier="district")
    history.link("dist-dark", "uplink", None, lambda i: 0.0, p95_bps=lambda i: 5e6)
    plane_pair(history.store, "HNI", history.today, days=20, pct=35.0)
    store = RollupStore.in_state_dir(history.state_dir, readonly=True)
    report = build_capacity_report(store, CapacityOptions(), now=history.today * DAY_S + 60)
    store.close()
    path = tmp_path / "capacity.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_html_is_self_contained(report_html: Path) -> None:
    text = report_html.read_text()
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "<script" not in text and "@import" not in text and "url(" not in text
    # the only URL is the SVG namespace, which is a name, never fetched
    assert set(re.findall(r"https?://[^\"' ]+", text)) == {"http://www.w3.org/2000/svg"}


def test_chromium_renders_table_charts_and_planes(report_html: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run ./scripts/install-deps.sh")
    url = report_html.as_uri()
    dom = chromium(["--dump-dom", url], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    ranked = re.search(r'<table id="ranked">.*?</table>', html, re.S)
    assert ranked, html[:500]
    rows = re.findall(r"<tr class=\"([^\"]*)\"><td class=\"n\">(\d+)</td><td>([^<]+)</td>",
                      ranked.group(0))
    assert len(rows) == 29  # 25 + 2 district links + the 2 plane links
    assert [int(n) for _, n, _ in rows] == list(range(1, 30))
    urgent = [link for cls, _, link in rows if cls == "urgent"]
    assert "dist-hot/uplink" in urgent
    assert [cls for cls, _, _ in rows[: len(urgent)]] == ["urgent"] * len(urgent)  # first
    assert rows[-1][2] == "dist-dark/uplink"  # no capacity: last
    charts = re.findall(r'<svg[^>]*class="trend"', html)
    assert len(charts) == 20
    assert html.count('class="threshold"') == 20 and html.count('class="p95"') == 20
    planes = re.search(r'<table id="planes">.*?</table>', html, re.S)
    assert planes and "HNI" in planes.group(0) and "OVER" in planes.group(0)

    shot = tmp_path / "capacity-report.png"
    done = chromium([f"--screenshot={shot}", "--window-size=1400,2400", url],
                    tmp_path / "profile")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == (1400, 2400)
    assert len(data) > 50_000  # tables and 20 charts, not a blank page
    keep = os.environ.get("NETMON_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
        shot = Path(keep) / shot.name
    print(f"screenshot: {shot}")
