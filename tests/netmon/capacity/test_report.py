"""``netmon report capacity`` on a synthetic 120-day history injected into the roll-up store:
days until 50%, outliers, flat links, urgent links with their ladder step, plane headroom,
empty stores and links without capacity; and the CLI in every format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from caphelpers import History, plane_pair, write_config

from netmon.capacity.forecast import DAYS_PER_MONTH
from netmon.capacity.options import CapacityOptions
from netmon.capacity.report import NO_CAPACITY, build_capacity_report, render_table
from netmon.capacity.store import DAY_S, RollupStore

NETMON = [sys.executable, "-m", "netmon.cli"]
M200, M400, G1 = 200_000_000, 400_000_000, 1_000_000_000


def report_of(history: History, **kw):
    store = RollupStore.in_state_dir(history.state_dir, readonly=True)
    try:
        return build_capacity_report(store, CapacityOptions(), now=history.today * DAY_S + 3600,
                                     **kw)
    finally:
        store.close()


def rows_by_key(report) -> dict:
    return {r.key: r for r in report.links}


def true_days_until(start: float, pp_month: float, days: int = 120) -> float:
    now = start + pp_month * days / DAYS_PER_MONTH  # the line's value today (i = days)
    return (50.0 - now) / (pp_month / DAYS_PER_MONTH)


def wobble(i: int) -> float:
    """Deterministic day-to-day noise of +-1.5 points with a weekly shape."""
    return (-1.5, 0.5, 1.0, 1.5, 0.0, -0.5, -1.0)[i % 7]


def test_growing_link_days_until_within_ten_percent(history: History) -> None:
    grow = history.growing(30.0, 2.0)
    history.link("r1", "up0", M400, lambda i: grow(i) + wobble(i))
    row = rows_by_key(report_of(history))["r1/up0"]
    assert row.days_until == pytest.approx(true_days_until(30.0, 2.0), rel=0.10)
    assert row.growth_pp_per_month == pytest.approx(2.0, rel=0.15)
    assert row.note == "rising" and not row.urgent
    assert row.complete_days == 90  # the default window
    assert row.projected is not None
    # 12 months of 2 pp/month from ~38% passes 50%: one step up keeps it under
    assert row.upgrade_to_bps == G1


def test_three_outlier_days_move_days_until_less_than_five_percent(tmp_path: Path) -> None:
    clean = History(tmp_path / "clean", today=20_500)
    spiky = History(tmp_path / "spiky", today=20_500)
    grow = clean.growing(30.0, 2.0)
    clean.link("r1", "up0", M400, lambda i: grow(i) + wobble(i))
    spiky.link("r1", "up0", M400,
               lambda i: 98.0 if i in (40, 75, 110) else grow(i) + wobble(i))
    base = rows_by_key(report_of(clean))["r1/up0"].days_until
    moved = rows_by_key(report_of(spiky))["r1/up0"].days_until
    assert base is not None and moved is not None
    assert abs(moved - base) <= 0.05 * base, (base, moved)


def test_flat_link_is_not_projected_to_cross(history: History) -> None:
    history.link("r1", "flat", M400, lambda i: 22.0 + wobble(i))
    row = rows_by_key(report_of(history))["r1/flat"]
    assert row.days_until is None and row.projected is None
    assert row.note == "flat: not projected to cross"
    assert row.upgrade_to_bps is None and row.advice == "no upgrade needed within the horizon"


def test_link_over_threshold_is_urgent_first_with_next_ladder_step(history: History) -> None:
    grow = history.growing(30.0, 2.0)
    history.link("r1", "up0", M400, lambda i: grow(i) + wobble(i))
    history.link("r2", "hot", M200, lambda i: 60.0 + wobble(i) / 3)
    history.link("r3", "flat", G1, lambda i: 10.0)
    report = report_of(history)
    first = report.links[0]
    assert first.key == "r2/hot" and first.urgent and first.days_until == 0
    assert first.upgrade_to_bps == M400  # 60% of 200M needs > 240M: the next step, 400M
    assert [r.key for r in report.links] == ["r2/hot", "r1/up0", "r3/flat"]
    text = render_table(report)
    assert "URGENT over threshold" in text and "400M" in text


def test_plane_pair_at_35_percent_each_is_70_percent_of_one_plane(history: History) -> None:
    plane_pair(history.store, "HNI", history.today, days=20, pct=35.0)
    plane_pair(history.store, "HCM", history.today, days=20, pct=20.0)
    report = report_of(history)
    planes = {p.site: p for p in report.planes}
    assert planes["HNI"].today_pct == pytest.approx(70.0)
    assert planes["HNI"].over and planes["HNI"].plane_capacity_bps == 1_200_000_000
    assert planes["HCM"].today_pct == pytest.approx(40.0) and not planes["HCM"].over
    assert report.planes[0].site == "HNI"  # flagged sites first
    assert "! HNI" in render_table(report)
    # each plane link alone is at 35%: neither is urgent
    assert not any(r.urgent for r in report.links)


def test_empty_store_and_link_without_capacity_give_clear_messages(history: History) -> None:
    report = report_of(history)
    assert report.links == [] and report.messages == [
        f"no links in the roll-ups at {history.store.path}: the daemon records configured "
        "links as it polls them"]
    history.link("r9", "dark", None, lambda i: 0.0, p95_bps=lambda i: 5e6)
    history.link("r1", "up0", M400, lambda i: 20.0)
    report = report_of(history)
    assert [r.key for r in report.links] == ["r1/up0", "r9/dark"]
    assert report.links[1].note == NO_CAPACITY and report.links[1].today_pct is None
    assert any("without a known capacity" in m for m in report.messages)
    # a report long after the last roll-up: nothing in the window
    store = RollupStore.in_state_dir(history.state_dir, readonly=True)
    later = build_capacity_report(store, CapacityOptions(), now=(history.today + 400) * DAY_S)
    store.close()
    assert later.links == [] and "no daily roll-ups between" in later.messages[0]


def test_tier_filter(history: History) -> None:
    history.link("r1", "up0", M400, lambda i: 20.0, tier="district")
    history.link("r2", "up0", M400, lambda i: 20.0, tier="province")
    assert [r.key for r in report_of(history, tier="district").links] == ["r1/up0"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMON_TEST_COMMUNITY": "public"}
    return subprocess.run([*NETMON, *args], capture_output=True, text=True, timeout=60, env=env)


def test_cli_formats_and_clear_errors(history: History, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", history.state_dir)
    empty = run("report", "capacity", "--config", str(config))
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "no capacity roll-ups at" in empty.stderr or "no links" in empty.stderr
    history.link("r2", "hot", M200, lambda i: 60.0)
    now = history.today
    # the CLI runs on today's clock: shift the history so that it ends yesterday
    shift = int(time.time() // DAY_S) - now
    store = RollupStore.in_state_dir(history.state_dir)
    store._db.execute("UPDATE daily SET day = day + ?", (shift,))
    store.close()
    table = run("report", "capacity", "--config", str(config))
    assert table.returncode == 0, table.stderr
    assert "r2/hot" in table.stdout and "URGENT" in table.stdout
    data = json.loads(run("report", "capacity", "--config", str(config), "--format",
                          "json").stdout)
    assert data["links"][0]["urgent"] is True and data["links"][0]["upgrade_to_bps"] == M400
    rows = list(csv.DictReader(io.StringIO(
        run("report", "capacity", "--config", str(config), "--format", "csv").stdout)))
    assert rows[0]["link"] == "hot" and rows[0]["upgrade_to_bps"] == str(M400)
    out = tmp_path / "report.html"
    done = run("report", "capacity", "--config", str(config), "--format", "html", "-o",
               str(out))
    assert done.returncode == 0 and out.read_text().startswith("<!DOCTYPE html>")
    cov = run("report", "coverage", "--config", str(config))
    assert cov.returncode == 0, cov.stderr
    assert cov.stdout.startswith("provinces connected 0/1 (0%), availability not recorded")


def test_incomplete_days_are_left_out_and_said(history: History) -> None:
    history.link("r1", "up0", M400, lambda i: 20.0, days=60)
    history.link("r1", "gap", M400, lambda i: 20.0, days=60, coverage=200)  # 69% of a day
    rows = rows_by_key(report_of(history))
    assert rows["r1/up0"].complete_days == 60 and rows["r1/up0"].note == "flat: not projected "\
        "to cross"
    gap = rows["r1/gap"]
    assert (gap.complete_days, gap.incomplete_days) == (0, 60)
    assert gap.note == "no complete day in the window; 60 incomplete days left out"
