"""The daemon's roll-up recorder: the sample stream after rates -> 5-minute, daily and coverage.

Step: rates -> (storage sinks, alerts) and **roll-ups**. The daemon hands every
poll's derived samples to ``observe`` (cheap: a few dict updates, no I/O);
a background task closes finished 5-minute buckets into the roll-up store
every ``tick_s``, and after midnight (UTC) finalises the day: daily p95, max,
mean and bytes per link and direction, the plane sums per site, and one
``link_daily`` sample per link written to the storage sinks (InfluxDB or the
local store, whichever is configured) so that it can be charted beside the
raw series.

Backfill: before a day is finalised, any 5-minute bucket of that day that the
recorder did not see (netmon was stopped, or roll-ups were switched on later)
is filled from the local store's ``interface`` points, when a local store
exists in the state directory. The first run backfills the whole capacity
window the local store still holds.

Coverage: each poll says whether the device's site is connected (reachable,
and at least one uplink, plane-a or plane-b link up; a device with no such
link configured counts when reachable). Per site and 5-minute bucket the site
is connected if any of its devices was; ``site_days`` counts buckets seen and
connected per day, ``target_now`` keeps each device's latest state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.capacity.options import CapacityOptions
from netmon.capacity.store import BUCKET_S, BUCKETS_PER_DAY, DAY_S, Daily, LinkInfo, RollupStore
from netmon.model import INTERFACE, LINK_DAILY, Sample, Sink

if TYPE_CHECKING:
    from netmon.config import Target

log = logging.getLogger(__name__)

UPLINK_ROLES = frozenset({"uplink", "plane-a", "plane-b"})
OPER_UP = 1
LOCAL_FILE = "netmon.sqlite"  # netmon.sinks.local.LOCAL_FILE; the sinks are not imported here


@dataclass(slots=True)
class _Bucket:
    n: int = 0
    in_sum: float = 0.0
    out_sum: float = 0.0
    capacity_bps: int | None = None


def link_daily_sample(info: LinkInfo, d: Daily, complete_pct: float) -> Sample:
    """The ``link_daily`` point of one link-day, stamped at the day's midnight (UTC)."""
    tags = {"device": info.target, "link": info.link}
    for key, value in (("ifName", info.if_name), ("site", info.site), ("tier", info.tier),
                       ("province", info.province), ("role", info.role),
                       ("plane", info.plane)):
        if value:
            tags[key] = value
    fields: dict[str, float | int | bool] = {
        "in_p95_bps": d.in_p95_bps, "out_p95_bps": d.out_p95_bps,
        "in_max_bps": d.in_max_bps, "out_max_bps": d.out_max_bps,
        "in_mean_bps": d.in_mean_bps, "out_mean_bps": d.out_mean_bps,
        "in_bytes": d.in_bytes, "out_bytes": d.out_bytes,
        "coverage_pct": d.coverage * 100.0,
        "complete": d.coverage * 100.0 >= complete_pct,
    }
    if d.capacity_bps:
        fields["capacity_bps"] = d.capacity_bps
        for name in ("in_p95", "out_p95", "in_max", "out_max", "in_mean", "out_mean"):
            fields[f"{name}_pct"] = getattr(d, f"{name}_bps") * 100.0 / d.capacity_bps
        fields["p95_pct"] = max(fields["in_p95_pct"], fields["out_p95_pct"])
    return Sample(info.target, LINK_DAILY, tags, fields,
                  datetime.fromtimestamp(d.day * DAY_S, UTC))


class CapacityRecorder:
    """Fed by the daemon after rates; keeps the roll-up store up to date."""

    def __init__(self, options: CapacityOptions, state_dir: Path, sinks: Sequence[Sink], *,
                 tick_s: float = 60.0, clock=time.time) -> None:
        self.options = options
        self.state_dir = Path(state_dir)
        self.store = RollupStore.in_state_dir(self.state_dir)
        self.sinks = sinks
        self.tick_s = tick_s
        self._clock = clock
        self._buckets: dict[tuple[str, str, int], _Bucket] = {}
        self._meta: dict[tuple[str, str], tuple[Mapping[str, str], int | None, float | None]] = {}
        self._sites: dict[tuple[str, int], list] = {}  # (site, t5) -> [tier, connected]
        self._now: dict[str, tuple[str, str, float, bool]] = {}
        self._last_day: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._busy = asyncio.Lock()

    # -- the hook ------------------------------------------------------------------------

    def observe(self, target: Target, samples: Sequence[Sample], reachable: bool,
                ts: datetime) -> None:
        """One poll's derived samples (after rates). No I/O."""
        has_uplink = any(link.role in UPLINK_ROLES for link in target.links)
        uplink_up = False
        for s in samples:
            if s.measurement != INTERFACE:
                continue
            f = s.fields
            if f.get("oper_status") == OPER_UP and s.tags.get("role") in UPLINK_ROLES:
                uplink_up = True
            link = s.tags.get("link")
            in_bps, out_bps = f.get("in_bps"), f.get("out_bps")
            if not link or not isinstance(in_bps, int | float) or \
                    not isinstance(out_bps, int | float):
                continue
            cap = f.get("capacity_bps")
            cap = cap if isinstance(cap, int) and not isinstance(cap, bool) else None
            thr = f.get("threshold_pct")
            self._meta[(s.target, link)] = (s.tags, cap,
                                            float(thr) if isinstance(thr, int | float) else None)
            key = (s.target, link, int(s.ts.timestamp() // BUCKET_S))
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket()
            b.n += 1
            b.in_sum += in_bps
            b.out_sum += out_bps
            b.capacity_bps = cap or b.capacity_bps
        connected = reachable and (uplink_up or not has_uplink)
        t = ts.timestamp()
        site = self._sites.setdefault((target.site, int(t // BUCKET_S)), [target.tier, False])
        site[1] = site[1] or connected
        self._now[target.name] = (target.site, target.tier, t, connected)
        if (self._task is None or self._task.done()) and not self._closing.is_set():
            # (re)started here: a task that died is logged by _task_done, and the
            # next poll starts a fresh one instead of piling buckets up in memory.
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="netmon-capacity")
            self._task.add_done_callback(self._task_done)

    # -- background ----------------------------------------------------------------------

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("capacity roll-ups: background task failed, restarting on the next "
                      "poll: %r", task.exception())

    async def _run(self) -> None:
        # The first tick comes one tick_s after the first poll, not among start-up's work.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.tick_s)
            if self._closing.is_set():
                return
            try:
                await self.tick()
            except sqlite3.Error as exc:  # disk full, file removed: say so, retry next tick
                log.error("capacity roll-ups in %s: %s; will retry", self.store.path, exc)

    async def tick(self, *, close_all: bool = False) -> list[Sample]:
        """Store closed buckets; finalise finished days. Returns the link_daily samples."""
        async with self._busy:
            now = self._clock()
            limit = None if close_all else int(now // BUCKET_S)
            links, sites = self._take(limit)
            written: list[Sample] = []
            await asyncio.to_thread(self._store, links, sites, dict(self._now))
            if not close_all:
                written = await asyncio.to_thread(self._finalise, int(now // DAY_S))
                for sink in self.sinks if written else ():
                    await sink.write(written)
            return written

    def _take(self, limit: int | None) -> tuple[dict, dict]:
        links = {k: b for k, b in self._buckets.items() if limit is None or k[2] < limit}
        for k in links:
            del self._buckets[k]
        sites = {k: v for k, v in self._sites.items() if limit is None or k[1] < limit}
        for k in sites:
            del self._sites[k]
        return links, sites

    def _store(self, links: dict, sites: dict, now: dict) -> None:
        rows = []
        ids: dict[tuple[str, str], int] = {}
        for (target, link, t5), b in links.items():
            lid = ids.get((target, link))
            if lid is None:
                tags, cap, thr = self._meta.get((target, link), ({}, None, None))
                lid = ids[(target, link)] = self.store.link_id(target, link, tags, cap, thr)
            rows.append((lid, t5, b.n, b.in_sum, b.out_sum, b.capacity_bps))
        self.store.add_buckets(rows)
        per_day: dict[tuple[str, int], list] = {}
        for (site, t5), (tier, connected) in sites.items():
            acc = per_day.setdefault((site, t5 // BUCKETS_PER_DAY), [tier, 0, 0])
            acc[1] += 1
            acc[2] += int(connected)
        self.store.add_site_buckets(
            (site, tier, day, seen, conn) for (site, day), (tier, seen, conn) in per_day.items())
        self.store.set_target_now(
            (name, site, tier, ts, c) for name, (site, tier, ts, c) in now.items())

    def _finalise(self, today: int) -> list[Sample]:
        """Finalise every day before ``today`` not finalised yet (backfilled first)."""
        if self._last_day is None:
            self._last_day = self.store.last_finalised_day()
            if self._last_day is None:  # first run: what the local store still holds
                found = [d for d in (self._oldest_local_day(),
                                     min(self.store.days_with_buckets(0), default=None))
                         if d is not None]
                oldest = min(found) if found else None
                window_start = today - int(self.options.window_s // DAY_S)
                self._last_day = (today - 1 if oldest is None
                                  else max(window_start, min(oldest, today)) - 1)
        samples: list[Sample] = []
        for day in range(self._last_day + 1, today):
            self.backfill(day)
            for info, daily in self.store.finalise_day(day):
                samples.append(link_daily_sample(info, daily, self.options.complete_pct))
            self.store.set_last_finalised_day(day)
            self._last_day = day
        if samples:
            self.store.prune(today - int(self.options.retention_s // DAY_S),
                             int((self._clock() - self.options.five_minute_retention_s)
                                 // BUCKET_S))
        return samples

    def _oldest_local_day(self) -> int | None:
        local = self.state_dir / LOCAL_FILE
        if not local.exists():
            return None
        db = sqlite3.connect(f"file:{local}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA busy_timeout=5000")
            (oldest,) = db.execute("SELECT min(ts_ns) FROM points").fetchone()
        except sqlite3.OperationalError:  # a store being created: no table yet
            return None
        finally:
            db.close()
        return None if oldest is None else int(oldest // (DAY_S * 1_000_000_000))

    def backfill(self, day: int) -> int:
        """Fill ``day``'s missing 5-minute buckets from the local store; returns how many."""
        local = self.state_dir / LOCAL_FILE
        if not local.exists():
            return 0
        first, last = day * BUCKETS_PER_DAY, (day + 1) * BUCKETS_PER_DAY
        ns = BUCKET_S * 1_000_000_000
        db = sqlite3.connect(f"file:{local}?mode=ro", uri=True)
        try:
            db.execute("PRAGMA busy_timeout=5000")
            rows = db.execute(
                "SELECT p.target, p.link, p.ts_ns / ? AS t5, p.field, COUNT(*), SUM(p.value), "
                "MAX(p.value), MAX(p.tagset_id) FROM points p "
                "WHERE p.measurement = ? AND p.ts_ns >= ? AND p.ts_ns < ? "
                "AND p.link IS NOT NULL AND p.field IN ('in_bps', 'out_bps', 'capacity_bps') "
                "GROUP BY p.target, p.link, t5, p.field",
                (ns, INTERFACE, first * ns, last * ns)).fetchall()
            tagsets = dict(db.execute("SELECT id, tags FROM tagsets").fetchall()) if rows else {}
        finally:
            db.close()
        found: dict[tuple[str, str, int], dict[str, tuple[int, float, float, int]]] = {}
        for target, link, t5, field, count, total, top, tagset in rows:
            found.setdefault((target, link, t5), {})[field] = (count, total, top, tagset)
        known = {(i.target, i.link): i.id for i in self.store.links()}
        present = self.store.buckets_present(first, last)
        add = []
        for (target, link, t5), fields in found.items():
            if "in_bps" not in fields or "out_bps" not in fields:
                continue
            lid = known.get((target, link))
            if lid is not None and (lid, t5) in present:
                continue
            cap = fields.get("capacity_bps")
            cap_bps = int(cap[2]) if cap else None
            if lid is None:
                tags = json.loads(tagsets.get(fields["in_bps"][3], "{}"))
                lid = known[(target, link)] = self.store.link_id(target, link, tags, cap_bps)
            n_in, in_sum, _, _ = fields["in_bps"]
            n_out, out_sum, _, _ = fields["out_bps"]
            n = min(n_in, n_out)
            add.append((lid, t5, n, in_sum * n / n_in, out_sum * n / n_out, cap_bps))
        if add:
            self.store.add_buckets(add)
            log.info("capacity: backfilled %d five-minute buckets of %s from the local store",
                     len(add), datetime.fromtimestamp(day * DAY_S, UTC).date())
        return len(add)

    async def aclose(self) -> None:
        """Store everything observed so far (the open buckets too: a restart adds to them)."""
        self._closing.set()
        if self._task is not None:
            # its failure was logged by _task_done; the stop goes on regardless
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.tick(close_all=True)
        except sqlite3.Error as exc:
            log.error("capacity roll-ups in %s: %s; the last minutes are lost",
                      self.store.path, exc)
        self.store.close()
