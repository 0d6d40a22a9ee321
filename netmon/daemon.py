"""``netmon run``: the long-running daemon.

Step: YAML -> **scheduler** -> collectors -> samples -> rates -> (sinks, alerts).

Each target is polled every ``interval`` by an apscheduler job. Targets are
spread over the interval by a deterministic offset (a hash of the name), and
samples are stamped with the poll slot, so the same target and slot always
give the same timestamp: a second poller writing the same points is
idempotent. There is never more than one poll per target in flight; an
overrun skips the next slot and is counted, so polls never pile up.

SIGHUP reloads the config (keeping rate state of unchanged targets; an
invalid config keeps the old one running), SIGTERM flushes the sinks and
exits within 10 s. systemd is told READY / RELOADING / STOPPING / WATCHDOG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from alerts.dispatch import Dispatcher
from alerts.service import AlertService
from netmon import gcpolicy
from netmon.capacity.recorder import CapacityRecorder
from netmon.config import Config, ConfigError, Target, load_config
from netmon.model import HOST, INTERFACE, POLL_ISSUE, SENSOR, UPS, Collector, Sink
from netmon.poll import PollResult, build_collectors, collectors_for, open_session, poll_target
from netmon.rates import RateEngine
from netmon.sdnotify import SdNotifier
from netmon.sinks.build import build_sinks
from netmon.snmp import SnmpClient, SnmpError, SnmpSession
from netmon.state import DaemonState, TargetState

log = logging.getLogger(__name__)

DATACENTRE_MEASUREMENTS = frozenset({UPS, SENSOR, HOST})

STOP_BUDGET_S = 10.0
POLL_GRACE_S = 2.5
"""On SIGTERM, polls in flight get this long; the sinks' close gets the rest of STOP_BUDGET_S."""


class StartupError(Exception):
    """The daemon cannot start: its storage or its HTTP listener is unavailable."""


def slot_offset_s(name: str, interval_s: float) -> float:
    """Deterministic place of a target within its interval (same on every poller)."""
    return (zlib.crc32(name.encode()) % 10_000) / 10_000 * interval_s


def own_interval_s(collector: object) -> float | None:
    """A collector that runs apart from traffic polling says how often (``interval_s``)."""
    interval = getattr(collector, "interval_s", None)
    return float(interval) if isinstance(interval, int | float) and interval > 0 else None


def slot_for(now: float, interval_s: float, offset_s: float) -> float:
    """The start of the slot ``now`` falls in (unix seconds)."""
    return ((now - offset_s) // interval_s) * interval_s + offset_s


def _same_target(before: Target | None, after: Target) -> bool:
    """Same settings, wherever written: ``==`` on the models would also compare the
    private ``source`` (file:line), so a target moved down by an edit above it
    would count as changed and lose its rate state."""
    return before is not None and before.__dict__ == after.__dict__


class Daemon:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.state = DaemonState(config_path=str(config_path or ""))
        self.engine = RateEngine()
        self.collectors: dict[str, Collector] = build_collectors(config.settings)
        self.sinks: list[Sink] = []
        self.capacity: CapacityRecorder | None = None  # roll-ups, whatever the sink
        self.alerts: AlertService | None = None
        self.notifier = SdNotifier()
        self.scheduler: AsyncIOScheduler | None = None
        self._client: SnmpClient | None = None
        self._sessions: dict[str, SnmpSession] = {}
        self._in_flight: set[str] = set()
        self._poll_tasks: dict[str, asyncio.Task[None]] = {}
        self._reloading: asyncio.Task[bool] | None = None
        self._stop = asyncio.Event()
        self._http_runner: object | None = None

    # -- scheduling ------------------------------------------------------------------------

    def _schedule(self, target: Target) -> None:
        assert self.scheduler is not None
        offset = slot_offset_s(target.name, target.interval_s)
        now = time.time()
        first = slot_for(now, target.interval_s, offset) + target.interval_s
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(
                seconds=target.interval_s, start_date=datetime.fromtimestamp(first, UTC)
            ),
            args=[target.name],
            id=target.name,
            name=f"poll {target.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(target.interval_s / 2)),
            replace_existing=True,
        )
        self.state.targets.setdefault(target.name, TargetState(target)).target = target
        assert self._client is not None
        self._sessions[target.name] = open_session(self._client, target)
        self._schedule_own_intervals(target)

    def _schedule_own_intervals(self, target: Target) -> None:
        """Collectors with their own ``interval_s`` (ipv6: 1 h) get a job of their own per
        target, ``<target>@<collector>``, apart from traffic polling. The first run comes
        within 5 minutes of the start (spread by name), then one per interval."""
        assert self.scheduler is not None
        for name, collector in self.collectors.items():
            interval = own_interval_s(collector)
            job_id = f"{target.name}@{name}"
            if interval is None:
                continue
            if name not in target.collectors:
                if self.scheduler.get_job(job_id) is not None:
                    self.scheduler.remove_job(job_id)
                continue
            first = time.time() + slot_offset_s(job_id, min(interval, 300.0))
            self.scheduler.add_job(
                self._periodic_job, IntervalTrigger(
                    seconds=interval, start_date=datetime.fromtimestamp(first, UTC)),
                args=[target.name, name], id=job_id, name=f"{name} {target.name}",
                max_instances=1, coalesce=True, misfire_grace_time=max(1, int(interval / 2)),
                replace_existing=True,
            )

    async def _periodic_job(self, name: str, collector_name: str) -> None:
        """One run of an own-interval collector; its samples go to the alert engine and the
        sinks as they are."""
        ts_state = self.state.targets.get(name)
        session = self._sessions.get(name)
        collector = self.collectors.get(collector_name)
        if ts_state is None or session is None or collector is None:
            return
        interval = own_interval_s(collector) or ts_state.target.interval_s
        job_id = f"{name}@{collector_name}"
        self._in_flight.add(job_id)  # stop() waits for it, then cancels it, as for polls
        task = asyncio.current_task()
        if task is not None:
            self._poll_tasks[job_id] = task
        try:
            # Bounded by its own interval, not the traffic poll's deadline: service
            # checks may wait for slow DNS and TCP timeouts. Each SNMP request has
            # its own timeout.
            async with asyncio.timeout(0.8 * interval):
                samples = await collector.collect(session, ts_state.target)
            self.state.periodic[(name, collector_name)] = samples
            if self.alerts is not None:
                self.alerts.submit(samples)  # ipv6_readiness_regressed reads them
            for sink in self.sinks:
                await sink.write(samples)
        except (SnmpError, TimeoutError) as exc:
            log.warning("%s: %s failed: %s", name, collector_name,
                        exc if isinstance(exc, SnmpError) else
                        f"not done within {0.8 * interval:g}s")
        except asyncio.CancelledError:
            log.warning("%s run of %s cancelled at shutdown", collector_name, name)
        finally:
            self._in_flight.discard(job_id)
            self._poll_tasks.pop(job_id, None)

    def _on_skipped(self, event: JobExecutionEvent) -> None:
        if "@" in event.job_id:  # <target>@<collector>: a run on its own interval
            log.warning("overrun: %s run skipped (previous run still going)", event.job_id)
            return
        ts = self.state.targets.get(event.job_id)
        if ts is None:
            return
        ts.overruns += 1
        why = "previous poll still running" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
        log.warning("overrun: %s slot skipped (%s)", event.job_id, why)

    async def _poll_job(self, name: str) -> None:
        ts_state = self.state.targets.get(name)
        session = self._sessions.get(name)
        if ts_state is None or session is None:
            return
        if name in self._in_flight:  # belt and braces: apscheduler's max_instances=1
            ts_state.overruns += 1
            log.warning("overrun: %s slot skipped (previous poll still running)", name)
            return
        target = ts_state.target
        self._in_flight.add(name)
        task = asyncio.current_task()
        if task is not None:
            self._poll_tasks[name] = task
        try:
            now = time.time()
            slot = slot_for(now, target.interval_s, slot_offset_s(name, target.interval_s))
            ts_state.last_attempt_mono = time.monotonic()
            polled = [c for c in collectors_for(target, self.collectors)
                      if own_interval_s(c) is None]
            result = await poll_target(
                session, target, polled, self.engine,
                slot=datetime.fromtimestamp(slot, UTC),
            )
            samples = result.samples
            if not self._record(ts_state, result):
                # The same issues as last poll: they are stored when they change,
                # not once a cycle for every router.
                samples = [s for s in samples if s.measurement != POLL_ISSUE]
            for sink in self.sinks:
                await sink.write(samples)
            if self.capacity is not None:
                self.capacity.observe(target, result.samples, result.error is None, result.ts)
            if self.alerts is not None:
                self.alerts.submit(result.samples)  # evaluated later, off this path
        except asyncio.CancelledError:
            # Only stop() cancels a poll, after its grace period: nothing was
            # collected in this slot, and the scheduler need not log a traceback.
            log.warning("poll of %s cancelled at shutdown", name)
        finally:
            self._in_flight.discard(name)
            self._poll_tasks.pop(name, None)

    def _record(self, ts: TargetState, result: PollResult) -> bool:
        """Update the target's state; log what changed. True if its issues changed."""
        name = result.target
        ts.polls += 1
        ts.last_poll_at = result.ts
        ts.poll_duration_s = result.duration_s
        if result.error is None:
            if ts.reachable is False:
                log.info("%s reachable again after %d failed poll(s)", name, ts.failing)
            ts.failing = 0
            ts.last_success_at = result.ts
            ts.last_error = None
        else:
            # Logged when it starts failing or the reason changes, not every cycle:
            # /api/targets and /metrics show it meanwhile.
            if ts.reachable is not False or ts.last_error != result.error:
                log.warning("%s unreachable: %s", name, result.error)
            ts.failing += 1
            ts.errors += 1
            ts.last_error = result.error
        ts.reachable = result.error is None
        changed = result.error is None and result.issues != ts.issues
        if changed:
            for text in sorted(set(result.issues) - set(ts.issues)):
                log.warning("%s: %s", name, text)
            ts.issues = result.issues
        for s in result.samples:
            if s.measurement == INTERFACE:
                self.state.links[(result.target, s.tags.get("ifName", ""))] = s
            elif s.measurement in DATACENTRE_MEASUREMENTS:
                key = (result.target, s.measurement, tuple(sorted(s.tags.items())))
                self.state.datacentre[key] = s
        return changed

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open storage and the HTTP listener first (StartupError if either fails), then poll."""
        settings = self.config.settings
        try:
            self.sinks = build_sinks(settings.storage, settings.state_dir)
            self.capacity = CapacityRecorder(settings.capacity, settings.state_dir, self.sinks)
            for sink in self.sinks:
                start = getattr(sink, "start", None)
                if start is not None:
                    await start()
            dispatcher = Dispatcher(settings.notifications, settings.state_dir,
                                    language=settings.alerts.language,
                                    eval_interval_s=settings.alerts.eval_interval_s)
            self.alerts = AlertService(settings.alerts, settings.state_dir, self.sinks,
                                       dispatcher=dispatcher)
        except (OSError, sqlite3.Error) as exc:
            raise StartupError(f"cannot open storage in {settings.state_dir}: {exc}") from None
        self.state.sinks = self.sinks
        self.state.alerts = self.alerts
        from netmon.httpapi import start_http

        try:
            self._http_runner = await start_http(self.state, settings.http)
        except OSError as exc:
            await self.alerts.aclose()
            await self.capacity.aclose()
            for sink in self.sinks:
                await sink.aclose()
            raise StartupError(
                f"cannot listen on {settings.http.listen}: {exc.strerror or exc}") from None
        self._client = SnmpClient()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler.add_job(self._housekeeping, IntervalTrigger(hours=1),
                               id="netmon-housekeeping", name="housekeeping")
        for target in self.config.targets:
            self._schedule(target)
        self.scheduler.start()
        await self.alerts.start()
        gcpolicy.configure()
        gcpolicy.settle()  # the config and restored state: not rescanned by each full GC
        self.state.scheduler_running = True
        self.notifier.ready(status=f"polling {len(self.config.targets)} targets")
        log.info("netmon running: %d targets", len(self.config.targets))

    def _on_sighup(self) -> None:
        if self._reloading is not None and not self._reloading.done():
            log.warning("SIGHUP ignored: a reload is still in progress")
            return
        self._reloading = asyncio.get_running_loop().create_task(self.reload())

    async def reload(self) -> bool:
        """Apply a re-read config. Returns False (and keeps the old one) if it is invalid.

        The file is read and validated in a worker thread: a 1,000-router
        config takes a second or two, and polls keep running meanwhile.
        """
        self.notifier.reloading()
        try:
            if self.config_path is None:
                raise FileNotFoundError("no config file to reload")
            new = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as exc:
            self.state.reload_errors += 1
            for issue in exc.issues:
                log.error("reload rejected, keeping the running config: %s", issue)
            self.notifier.ready(status="reload rejected: config invalid")
            return False
        except OSError as exc:
            self.state.reload_errors += 1
            log.error("reload rejected, keeping the running config: %s", exc)
            self.notifier.ready(status="reload rejected")
            return False
        except Exception as exc:
            # A bug in reading the config must not leave systemd waiting in
            # RELOADING for ever. Its message may quote a value (a secret, say):
            # only the type goes to the log.
            self.state.reload_errors += 1
            log.error("reload rejected, keeping the running config: unexpected %s while "
                      "reading %s (a netmon bug; run netmon check-config)",
                      type(exc).__name__, self.config_path)
            self.notifier.ready(status="reload rejected")
            return False
        old = {t.name: t for t in self.config.targets}
        fresh = {t.name: t for t in new.targets}
        assert self.scheduler is not None
        for name in old.keys() - fresh.keys():
            self.scheduler.remove_job(name)
            for collector in old[name].collectors:
                if self.scheduler.get_job(f"{name}@{collector}") is not None:
                    self.scheduler.remove_job(f"{name}@{collector}")
            self._forget(name)
            self.state.targets.pop(name, None)
        for name, target in fresh.items():
            if _same_target(old.get(name), target):
                continue  # unchanged: keep its job, rate state and metadata
            if name in old:
                self._forget(name)
            self._schedule(target)
        restart_only = ("state_dir", "http", "storage", "interfaces", "ipv6")
        changed = [k for k in restart_only
                   if getattr(new.settings, k) != getattr(self.config.settings, k)]
        if changed:
            log.warning("changed %s take effect on restart", ", ".join(changed))
        if self.alerts is not None:
            self.alerts.reconfigure(new.settings.alerts)
        self.config = new
        gcpolicy.settle()  # frees the old config's cycles, freezes the new one
        self.state.reloads += 1
        log.info("config reloaded: %d targets", len(fresh))
        self.notifier.ready(status=f"polling {len(fresh)} targets")
        return True

    def _housekeeping(self) -> None:
        """Drop rate baselines of interfaces not read for a long time (gone or renumbered)."""
        longest = max((t.interval_s for t in self.config.targets), default=60.0)
        dropped = self.engine.expire(time.time() - max(3600.0, 3 * longest))
        if dropped:
            log.info("dropped %d stale rate baselines", dropped)

    def _forget(self, name: str) -> None:
        self.engine.forget(name)
        for c in self.collectors.values():
            forget = getattr(c, "forget", None)
            if forget is not None:
                forget(name)
        self._sessions.pop(name, None)
        for key in [k for k in self.state.links if k[0] == name]:
            del self.state.links[key]
        for dkey in [k for k in self.state.datacentre if k[0] == name]:
            del self.state.datacentre[dkey]
        for pkey in [k for k in self.state.periodic if k[0] == name]:
            del self.state.periodic[pkey]
        for key in [k for k in self.state.periodic if k[0] == name]:
            del self.state.periodic[key]

    async def stop(self) -> None:
        self.notifier.stopping()
        self.state.scheduler_running = False
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        # Let in-flight polls finish briefly, then flush everything collected.
        deadline = time.monotonic() + POLL_GRACE_S
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stuck = list(self._poll_tasks.values())
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        # Never cancel a sink's close: that would lose what is still in memory.
        # Each sink bounds its own close (InfluxSink: close_timeout, 6 s, then
        # the rest goes to the spool), which keeps the whole stop within 10 s.
        # The alert engine first: its last evaluation writes events to the sinks.
        if self.alerts is not None:
            await self.alerts.aclose()
        if self.capacity is not None:
            await self.capacity.aclose()
        for sink in self.sinks:
            await sink.aclose()
        if self._http_runner is not None:
            await self._http_runner.cleanup()  # type: ignore[attr-defined]
        if self._client is not None:
            await self._client.aclose()

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval_s()
        if interval is None:
            return
        while not self._stop.is_set():
            self.notifier.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        await self.start()
        watchdog = asyncio.create_task(self._watchdog())
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: flushing sinks")
            await self.stop()
            watchdog.cancel()


async def run_daemon(config: Config, config_path: Path | None) -> int:
    daemon = Daemon(config, config_path)
    try:
        await daemon.serve()
    except StartupError as exc:
        log.error("netmon cannot start: %s", exc)
        return 1
    return 0
