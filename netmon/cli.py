"""The ``netmon`` command: check-config, poll, run, query, report, alerts, silence.

Step: entry point. It reads YAML (netmon.config) and hands over to the poll
path (netmon.poll) or the daemon (netmon.daemon). Errors an operator can act
on are printed as one clear line, never as a stack trace.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from netmon import __version__
from netmon.config import DEFAULT_CONFIG_PATH, Config, ConfigError, check_config, load_config
from netmon.units import parse_duration

log = logging.getLogger("netmon")

DEMO_DIR = Path("/var/tmp/netmon-demo")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netmon", description="SNMP link-utilisation monitor")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    p.add_argument("--version", action="version", version=f"netmon {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate the configuration and exit")
    c.add_argument("path", nargs="?", type=Path, default=None,
                   help=f"the main config file (default {DEFAULT_CONFIG_PATH})")
    c.add_argument("--strict", action="store_true",
                   help="secret references that cannot be resolved here are errors, not "
                        "warnings (what the systemd unit runs before start)")

    q = sub.add_parser("poll", help="poll one target now and print its links")
    q.add_argument("target")
    q.add_argument("--config", type=Path, default=None)
    q.add_argument("--count", type=int, default=2, help="number of polls (rates need two)")
    q.add_argument("--interval", type=_duration, default=10.0, help="time between polls")
    q.add_argument("--json", action="store_true", help="one JSON object per poll")

    r = sub.add_parser("run", help="run the polling daemon")
    r.add_argument("--config", type=Path, default=None)
    r.add_argument(
        "--demo", action="store_true",
        help="serve the simulated example network with snmpsim on loopback and poll it "
             "(local store, no external server needed)",
    )
    r.add_argument("--demo-dir", type=Path, default=DEMO_DIR,
                   help=f"where --demo keeps recordings, config and state (default {DEMO_DIR})")
    r.add_argument("--demo-interval", type=_duration, default=10.0,
                   help="poll interval of the demo (default 10s; alerts fire after two)")
    r.add_argument("--demo-listen", default="127.0.0.1:9161",
                   help="HTTP listen address of the demo (default 127.0.0.1:9161)")

    qu = sub.add_parser("query", help="read stored link metrics from the local store")
    qu.add_argument("--config", type=Path, default=None)
    qu.add_argument("--target")
    qu.add_argument("--link", help="link name or ifName")
    qu.add_argument("--since", type=_duration, default=3600.0, help="e.g. 15m, 1h, 7d")
    qu.add_argument("--until", help="end of the range: a duration ago (7d) or an ISO date/time "
                                    "(default now)")
    qu.add_argument("--field", help="e.g. util_pct, in_bps")
    qu.add_argument("--agg", choices=("avg", "max", "p95"),
                    help="aggregate each series per --every (p95: nearest rank)")
    qu.add_argument("--every", type=_duration,
                    help="aggregation bucket, e.g. 1h, 1d (default: the whole range)")
    qu.add_argument("--where", action="append", default=[], metavar="COND",
                    help="keep points where e.g. 'util_pct>=50' holds (repeatable)")
    qu.add_argument("--measurement", default="interface")
    qu.add_argument("--format", choices=("table", "csv", "json"), default="table")

    # ``netmon report NAME``: one subcommand per registered report (netmon.plugins).
    from netmon import plugins

    rp = sub.add_parser("report", help="planning reports from what the daemon recorded")
    reports = rp.add_subparsers(dest="report", required=True, metavar="REPORT")
    for plugin in plugins.reports().values():
        one = reports.add_parser(plugin.name, help=plugin.help, description=plugin.help)
        one.add_argument("--config", type=Path, default=None)
        plugin.add_arguments(one)
        one.set_defaults(report_run=plugin.run)

    al = sub.add_parser("alerts", help="list the running daemon's alerts (state, since, value)")
    al.add_argument("--config", type=Path, default=None)
    al.add_argument("--state", action="append", default=[],
                    choices=("pending", "firing", "resolved"), help="repeatable")
    al.add_argument("--filter", action="append", default=[],
                    help="label matcher, repeatable (site=HNI, device=~core-.*)")
    al.add_argument("--json", action="store_true")

    si = sub.add_parser("silence", help="silence alerts for a while (maintenance windows)")
    si_sub = si.add_subparsers(dest="silence_command", required=True)
    sa = si_sub.add_parser("add", help="add a silence; prints its id")
    sa.add_argument("matchers", nargs="+", help="label matchers: site=HNI device=~core-.*")
    sa.add_argument("--comment", "-c", required=True, help="why, and who to ask")
    when = sa.add_mutually_exclusive_group()
    when.add_argument("--duration", "-d", help="how long from now (default 2h)")
    when.add_argument("--until", help="end, ISO 8601 with zone (2026-12-01T22:00:00+07:00)")
    sa.add_argument("--author", "-a", default="", help="who adds it")
    sa.add_argument("--config", type=Path, default=None)
    sl = si_sub.add_parser("list", help="list silences (active and upcoming)")
    sl.add_argument("--all", action="store_true", help="include expired ones")
    sl.add_argument("--config", type=Path, default=None)
    se = si_sub.add_parser("expire", help="end a silence now")
    se.add_argument("id")
    se.add_argument("--config", type=Path, default=None)

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
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per poll per target is noise at INFO; overruns are logged by netmon itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if args.command == "check-config":
        return check_config(_config_path(args.path), strict=args.strict)
    if args.command == "poll":
        from netmon.pollcmd import run_poll

        if not args.verbose:
            # A failed poll is printed with its result; the log line would repeat it.
            logging.getLogger("netmon.poll").setLevel(logging.ERROR)
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
    if args.command == "run":
        return _run(args)
    if args.command == "query":
        return _query(args)
    if args.command == "report":
        config = _load(_config_path(args.config))
        return 1 if config is None else args.report_run(args, config)
    if args.command in ("alerts", "silence"):
        return _alerts(args)
    return 2


def _alerts(args: argparse.Namespace) -> int:
    from netmon.alertcmd import run_alerts, run_silence

    config = _load(_config_path(args.config))
    if config is None:
        return 1
    if args.command == "alerts":
        return run_alerts(config, states=args.state, filters=args.filter, as_json=args.json)
    if args.silence_command == "add":
        import getpass

        return run_silence(config, "add", matchers=args.matchers, duration=args.duration,
                           until=args.until, comment=args.comment,
                           author=args.author or getpass.getuser())
    if args.silence_command == "expire":
        return run_silence(config, "expire", silence_id=args.id)
    return run_silence(config, "list", show_all=args.all)


def _run(args: argparse.Namespace) -> int:
    from netmon.daemon import run_daemon

    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    demo = None
    path = _config_path(args.config)
    if args.demo:
        from netmon.demo import Demo

        demo = Demo(args.demo_dir, interval=f"{args.demo_interval:g}s",
                    http_listen=args.demo_listen)
        path = demo.start()
        print(f"demo: simulated network on 127.0.0.1:{demo.port}, config {path}", flush=True)
        print(f"demo: query with: netmon query --config {path} --field util_pct --since 5m",
              flush=True)
        print(f"demo: alerts with: netmon alerts --config {path}", flush=True)
    try:
        config = _load(path)
        if config is None:
            return 1
        logging.getLogger().setLevel(
            logging.DEBUG if args.verbose else config.settings.log_level.upper()
        )
        return asyncio.run(run_daemon(config, path))
    except KeyboardInterrupt:
        return 0
    finally:
        if demo is not None:
            demo.stop()


def _query(args: argparse.Namespace) -> int:
    from netmon.sinks.local import LOCAL_FILE
    from netmon.sinks.query import QueryError, run_query

    config = _load(_config_path(args.config))
    if config is None:
        return 1
    if config.settings.storage.influxdb is not None:
        print("storage goes to InfluxDB: query it there (the local store is not in use)",
              file=sys.stderr)
        return 2
    try:
        out = run_query(
            config.settings.state_dir / LOCAL_FILE, target=args.target, link=args.link,
            since_s=args.since, field=args.field, fmt=args.format,
            measurement=args.measurement, until=args.until, agg=args.agg, every_s=args.every,
            where=args.where, known_targets=[t.name for t in config.targets],
            known_links=[x for t in config.targets for link in t.links
                         for x in (link.name, link.if_name) if x],
        )
    except (FileNotFoundError, QueryError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
