"""The ``netmon`` command: check-config, poll, run, query.

Step: entry point. It reads YAML (netmon.config) and hands over to the poll
path (netmon.poll) or the daemon (netmon.daemon). Errors an operator can act
on are printed as one clear line, never as a stack trace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from netmon.config import DEFAULT_CONFIG_PATH, Config, ConfigError, check_config, load_config
from netmon.units import parse_duration

log = logging.getLogger("netmon")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netmon", description="SNMP link-utilisation monitor")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate the configuration and exit")
    c.add_argument("path", nargs="?", type=Path, default=None)

    q = sub.add_parser("poll", help="poll one target now and print its links")
    q.add_argument("target")
    q.add_argument("--config", type=Path, default=None)
    q.add_argument("--count", type=int, default=2, help="number of polls (rates need two)")
    q.add_argument("--interval", type=_duration, default=10.0, help="time between polls")
    q.add_argument("--json", action="store_true", help="one JSON object per poll")
    return p


def _config_path(given: Path | None) -> Path:
    return given if given is not None else DEFAULT_CONFIG_PATH


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "check-config":
        return check_config(_config_path(args.path))
    if args.command == "poll":
        from netmon.pollcmd import run_poll

        config = _load(_config_path(args.config))
        if config is None:
            return 1
        if args.count < 1:
            print("--count must be at least 1", file=sys.stderr)
            return 2
        try:
            return asyncio.run(
                run_poll(config, args.target, count=args.count, interval_s=args.interval,
                         as_json=args.json)
            )
        except KeyboardInterrupt:
            return 130
    return 2


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False)


if __name__ == "__main__":
    raise SystemExit(main())
