"""``netmon report capacity`` and ``netmon report coverage`` (step: reports, entry point).

Registered with ``netmon.plugins.register_report``; the CLI builds the
``report`` group from that registry. Heavy imports (numpy, the report
builders) happen only when a report runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from netmon.plugins import register_report
from netmon.units import parse_duration

if TYPE_CHECKING:
    from netmon.capacity.store import RollupStore

T = TypeVar("T")
TIERS = ("backbone", "ministry", "province", "district", "datacentre")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _output(args: argparse.Namespace, text: str) -> None:
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)


def _from_store(config: Any, build: Callable[[RollupStore], T]) -> T | None:
    """``build(store)`` on the daemon's roll-up store, opened read-only and closed after;
    None (the reason printed) when there is no store yet."""
    from netmon.capacity.store import RollupStore

    try:
        store = RollupStore.in_state_dir(config.settings.state_dir, readonly=True)
    except FileNotFoundError as exc:
        print(str(exc), file=sys.stderr)
        return None
    try:
        return build(store)
    finally:
        store.close()


def _capacity_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=_duration, default=None,
                   help="window of daily roll-ups to fit (default capacity.window, 90d)")
    p.add_argument("--tier", choices=TIERS, help="only links of this tier")
    p.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    p.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")


def _capacity(args: argparse.Namespace, config: Any) -> int:
    from netmon.capacity.report import (
        build_capacity_report,
        render_csv,
        render_json,
        render_table,
    )

    report = _from_store(config, lambda store: build_capacity_report(
        store, config.settings.capacity, now=time.time(), since_s=args.since, tier=args.tier))
    if report is None:
        return 1
    if not report.links:
        for message in report.messages:
            print(message, file=sys.stderr)
        return 1
    if args.format == "html":
        from netmon.capacity.html import render_html

        text = render_html(report)
    else:
        text = {"table": render_table, "csv": render_csv, "json": render_json}[args.format](
            report)
    _output(args, text)
    return 0


def _coverage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=_duration, default=None,
                   help="availability period (default capacity.coverage_period, 30d)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")


def _coverage(args: argparse.Namespace, config: Any) -> int:
    from netmon.capacity.coverage import coverage_report, render_coverage

    report = _from_store(config, lambda store: coverage_report(
        store, config.targets, now=time.time(),
        period_s=args.since or config.settings.capacity.coverage_period_s))
    if report is None:
        return 1
    if not report.tiers:
        print("no targets in the configuration: nothing to cover", file=sys.stderr)
        return 1
    _output(args, render_coverage(report, args.format))
    return 0


register_report("capacity", "links ranked by days until the threshold, upgrade advice, "
                "plane failover headroom", _capacity_args, _capacity)
register_report("coverage", "sites connected per tier, now and over a period",
                _coverage_args, _coverage)
