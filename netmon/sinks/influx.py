"""InfluxDB v2 sink (step: rates -> storage).

``write`` encodes the samples to line protocol and appends the lines to a
bounded in-memory queue; it never waits for the network. One background task
drains the queue in batches of up to ``batch_size`` lines, at least every
``flush_interval_s``, through the v2 write API (``/api/v2/write``, gzip).

Client: ``InfluxDBClientAsync`` (aiohttp) with its ``WriteService``. Requests
are plain coroutines on netmon's event loop, so a slow server never holds a
thread and ``aclose`` can stop cleanly. The body is gzip-compressed in a
worker thread (zlib releases the GIL) and sent with ``Content-Encoding:
gzip``; the same compressed body is what the spool stores, so a replay sends
it without re-encoding. ``WriteApiAsync`` would compress on the event loop and
cannot take a pre-compressed body, hence the service one level below it.

Order and durability. Invariant: everything in the spool is older than
everything in the memory queue.

* While the spool is empty, batches go straight from the queue to the server.
* A retryable failure (connection refused/reset, DNS, timeout, HTTP 5xx, 429)
  puts the batch at the FRONT of the spool; from then on, while a backlog
  exists, new lines are moved from the queue to the END of the spool (at every
  flush interval, also during back-off) and the spool is replayed oldest
  first, with the original timestamps. Retries back off exponentially with
  full jitter, capped at ``retry_max_s``; ``Retry-After`` is honoured.
* When the queue would exceed ``max_queue_points``, ``write`` moves the whole
  queue plus the new lines to the spool (in a worker thread) instead of
  dropping them.
* HTTP 4xx other than 400 and 429 (401 bad token, 403, 404 unknown org or
  bucket, 413): a configuration error. Logged at ERROR with the status and the
  server's message (the token is never logged), counted, shown in ``stats``;
  the points stay spooled and the sink tries again only every
  ``config_error_retry_s`` (60 s), in case the server side is being fixed.
  After ``config_error_attempts`` (5) refusals in a row it stops trying
  altogether, says so at ERROR, and keeps spooling until netmon restarts with
  a corrected config: it does not retry a wrong token forever, and loses
  nothing meanwhile.
* HTTP 400 (unparseable lines, field type conflict, "partial write"): the
  server refused the *data*, not the connection; sending the same bytes again
  would fail forever and block every batch behind it. That batch is dropped,
  logged at ERROR with the server's message and counted in
  ``points_dropped``; the other batches carry on. InfluxDB may already have
  stored the valid lines of a partially written batch, so re-sending them
  would not be right either.
* Anything else that goes wrong in the background task (a bug, an error
  nobody foresaw) is counted in ``write_errors``, logged with its traceback
  and shown in ``stats.failing`` (``/healthz`` answers 503 with it); the batch
  goes back to the front of the queue and the task carries on after
  ``retry_max_s``: it never dies silently, and the points stay.
* ``aclose`` sends what it can within ``close_timeout_s`` (6 s), retrying a
  server that fails with a retryable error while the deadline allows, and
  stopping at once on a configuration error. Whatever it cannot deliver is
  left in the spool, which the next start replays: a shutdown drops nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from enum import Enum

import aiohttp
from influxdb_client import WritePrecision
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService
from pydantic import BaseModel, ConfigDict, Field

from netmon.model import Sample
from netmon.secrets import Secret
from netmon.sinks.lineproto import encode_many
from netmon.sinks.spool import Spool, encode_body
from netmon.sinks.stats import SinkStats
from netmon.units import Duration

log = logging.getLogger(__name__)


class InfluxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    org: str
    bucket: str
    token: Secret
    batch_size: int = Field(5000, ge=1, le=5000)
    flush_interval_s: Duration = Field(1.0, alias="flush_interval")
    timeout_s: Duration = Field(10.0, alias="timeout")
    max_queue_points: int = Field(200_000, ge=1)
    retry_initial_s: Duration = Field(0.5, alias="retry_initial")
    retry_max_s: Duration = Field(30.0, alias="retry_max")
    config_error_retry_s: Duration = Field(60.0, alias="config_error_retry")
    config_error_attempts: int = Field(5, ge=1)
    # With the daemon's 2.5 s grace for polls in flight, a stop stays within 10 s.
    close_timeout_s: Duration = Field(6.0, alias="close_timeout")


class Outcome(Enum):
    OK = "ok"
    RETRY = "retry"  # server or network trouble: keep, back off, try again
    CONFIG = "config"  # our configuration is wrong: keep, retry rarely
    BAD_DATA = "bad_data"  # the server refused these lines: drop this batch


def classify_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429 or status >= 500:
        return Outcome.RETRY
    if status == 400:
        return Outcome.BAD_DATA
    if 400 <= status < 500:
        return Outcome.CONFIG
    return Outcome.RETRY  # 1xx/3xx: a proxy in the way; not the data's fault


class InfluxSink:
    """Sink to InfluxDB v2 (or anything speaking its write API), with an on-disk spool."""

    def __init__(self, options: InfluxOptions, spool: Spool, *, rng: random.Random | None = None):
        self.options = options
        self.spool = spool
        self._rng = rng or random.Random()
        self._queue: deque[str] = deque()
        self._queue_since = 0.0  # monotonic time the oldest queued line arrived
        self._wake = asyncio.Event()
        self._spool_io = asyncio.Lock()  # serialises spool appends, so they keep call order
        self._spills = 0  # overflow spills in progress
        self._client: InfluxDBClientAsync | None = None
        self._service: WriteService | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._stats = SinkStats()
        self._dropped_data = 0  # points in batches refused by the server (HTTP 400)
        self._halted = False  # gave up after repeated configuration errors
        self._token = options.token.get_secret_value()

    # -- Sink protocol ---------------------------------------------------------

    async def write(self, samples: Sequence[Sample]) -> None:
        if self._closing:
            raise RuntimeError("InfluxSink.write after aclose")
        lines = encode_many(samples)
        if not lines:
            return
        self._ensure_started()
        if len(self._queue) + len(lines) > self.options.max_queue_points:
            await self._spill(lines)
            return
        if not self._queue:
            self._queue_since = time.monotonic()
            self._wake.set()  # the sender may be idle with no flush timer armed
        self._queue.extend(lines)
        if len(self._queue) >= self.options.batch_size:
            self._wake.set()

    async def start(self) -> None:
        """Start the background task now, so a spool left by a previous run is replayed
        before the first poll writes anything (``write`` starts it too)."""
        self._ensure_started()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        if self._task is None and (self._queue or self.spool.depth_batches):
            self._ensure_started()
        if self._task is not None:
            # The drain loop stops trying at close_timeout, but a request already
            # sent can hang for up to `timeout`: do not wait for it much longer.
            try:
                await asyncio.wait_for(asyncio.shield(self._task),
                                       self.options.close_timeout_s + 0.5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                await self._migrate_queue()
                log.warning("InfluxDB did not answer in time at shutdown; %d points are in "
                            "the spool %s and are sent on next start",
                            self.spool.depth_points, self.spool.path)
        if self._client is not None:
            await self._client.close()
        self._closed = True

    # -- state -------------------------------------------------------------------

    @property
    def stats(self) -> SinkStats:
        s = self._stats
        s.queue_points = len(self._queue)
        s.spool_depth_points = self.spool.depth_points
        s.spool_oldest_age_s = self.spool.oldest_age_s
        s.points_dropped = self._dropped_data + self.spool.dropped_points
        return s

    # -- internals ---------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="netmon-influx-sink"
            )

    def _take(self, n: int) -> list[str]:
        q = self._queue
        if n >= len(q):
            lines = list(q)
            q.clear()
        else:
            popleft = q.popleft
            lines = [popleft() for _ in range(n)]
        self._queue_since = time.monotonic()
        return lines

    def _chunks(self, lines: list[str]) -> list[list[str]]:
        n = self.options.batch_size
        return [lines[i : i + n] for i in range(0, len(lines), n)]

    async def _spill(self, new_lines: list[str]) -> None:
        """Queue full: the queue and the new lines go to the end of the spool, in order."""
        lines = self._take(len(self._queue))
        lines.extend(new_lines)
        self._spills += 1
        try:
            async with self._spool_io:
                await asyncio.to_thread(self._append_chunks, lines)
        except sqlite3.Error as e:
            # Disk full or spool unusable: keep the lines in memory, over the bound,
            # rather than lose them; the drainer retries the spool later.
            self._queue.extendleft(reversed(lines))
            self._spool_failed(e)
            return
        finally:
            self._spills -= 1
        self._stats.points_spooled += len(lines)
        log.warning(
            "InfluxDB sink: memory queue full (%d points), %d points moved to the spool",
            self.options.max_queue_points, len(lines),
        )

    def _append_chunks(self, lines: list[str]) -> None:
        for chunk in self._chunks(lines):
            self.spool.append(chunk)

    def _spool_failed(self, e: sqlite3.Error) -> None:
        text = f"spool {self.spool.path}: {e}"
        self._stats.write_errors += 1
        self._stats.last_error = text
        self._stats.last_error_at = time.time()
        self._stats.failing = f"InfluxDB sink cannot use its {text}"
        log.error("InfluxDB sink cannot use its %s; points stay in memory", text)

    async def _migrate_queue(self) -> None:
        """While a backlog exists, new lines join the end of the spool to keep order."""
        if not self._queue:
            return
        lines = self._take(len(self._queue))
        try:
            async with self._spool_io:
                await asyncio.to_thread(self._append_chunks, lines)
        except sqlite3.Error:
            self._queue.extendleft(reversed(lines))
            raise
        self._stats.points_spooled += len(lines)

    async def _requeue_front(self, body: bytes, n_points: int) -> None:
        """A batch taken from the queue failed: it is older than all that is spooled."""
        async with self._spool_io:
            await asyncio.to_thread(self.spool.append_front_body, body, n_points)
        self._stats.points_spooled += n_points

    def _client_service(self) -> WriteService:
        if self._service is None:
            self._client = InfluxDBClientAsync(
                url=self.options.url,
                token=self._token,
                org=self.options.org,
                timeout=int(self.options.timeout_s * 1000),
                enable_gzip=False,  # we send bodies that are already gzip-compressed
            )
            self._service = WriteService(self._client.api_client)
        return self._service

    async def _send(self, body: bytes, n_points: int) -> tuple[Outcome, float | None]:
        """POST one gzip body. Returns the outcome and the server's Retry-After, if any."""
        service = self._client_service()
        try:
            await service.post_write_async(
                org=self.options.org,
                bucket=self.options.bucket,
                body=body,
                precision=WritePrecision.NS,
                content_encoding="gzip",
                content_type="text/plain; charset=utf-8",
            )
        except ApiException as e:
            outcome = classify_status(e.status or 0)
            self._record_error(outcome, self._describe_http(e), n_points)
            return outcome, _retry_after(e)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            self._record_error(Outcome.RETRY, self._describe_network(e), n_points)
            return Outcome.RETRY, None
        self._stats.points_written += n_points
        self._stats.last_success_at = time.time()
        if self._stats.failing is not None:
            log.info("InfluxDB sink: writing again")
            self._stats.failing = None
        return Outcome.OK, None

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<secret>") if self._token else text

    def _describe_http(self, e: ApiException) -> str:
        message = getattr(e, "message", None) or e.reason or ""
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        # Redact before cutting: a cut through the token would leave a piece of it.
        message = self._redact(" ".join(str(message).split()))[:500]
        return self._redact(f"HTTP {e.status} from {self.options.url}: {message}")

    def _describe_network(self, e: BaseException) -> str:
        if isinstance(e, TimeoutError):
            detail = f"no answer within {self.options.timeout_s:g} s"
        else:
            detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        return self._redact(f"cannot reach {self.options.url}: {detail}")

    def _record_error(self, outcome: Outcome, text: str, n_points: int) -> None:
        s = self._stats
        s.write_errors += 1
        s.last_error = text
        s.last_error_at = time.time()
        if outcome is Outcome.CONFIG:
            s.config_errors += 1
            log.error(
                "InfluxDB rejected the write: %s; check url, org, bucket and token. "
                "%d points kept in the spool, %s",
                text, n_points,
                "sent on next start" if self._closing
                else f"next attempt in {self.options.config_error_retry_s:.0f} s",
            )
        elif outcome is Outcome.BAD_DATA:
            log.error("InfluxDB refused a batch of %d points, dropped: %s", n_points, text)
        else:
            log.warning("InfluxDB write failed, will retry: %s", text)

    def _backoff_s(self, failures: int, outcome: Outcome, retry_after: float | None) -> float:
        if outcome is Outcome.CONFIG:
            return self.options.config_error_retry_s
        cap = self.options.retry_max_s
        ceiling = min(cap, self.options.retry_initial_s * 2 ** min(failures - 1, 30))
        delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never hot-loops
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    async def _wait_backoff(self, delay: float) -> None:
        """Sleep before a retry; keep moving new lines to the spool; return early on close."""
        deadline = time.monotonic() + delay
        while not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), min(remaining, self.options.flush_interval_s)
                )
            await self._migrate_queue()

    async def _wait_for_batch(self) -> None:
        """Until ``batch_size`` lines are queued, the flush interval is up, or close."""
        while not self._closing:
            if len(self._queue) >= self.options.batch_size:
                return
            if self._queue:
                remaining = self._queue_since + self.options.flush_interval_s - time.monotonic()
                if remaining <= 0:
                    return
            else:
                remaining = None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    async def _run(self) -> None:
        while True:
            try:
                await self._drain()
                return
            except sqlite3.Error as e:
                self._spool_failed(e)
                if self._closing:
                    return
                await asyncio.sleep(self.options.retry_max_s)
            except Exception as e:
                # Never die silently: a dead task would leave every device's
                # points in memory, unsent, with nothing said.
                text = self._redact(f"InfluxDB sink: {type(e).__name__}: {e}")
                self._stats.write_errors += 1
                self._stats.last_error = text
                self._stats.last_error_at = time.time()
                self._stats.failing = text
                log.exception("%s; %d points kept, retrying in %.0f s", text,
                              len(self._queue) + self.spool.depth_points,
                              self.options.retry_max_s)
                if self._closing:
                    await self._migrate_queue()
                    return
                await self._wait_backoff(self.options.retry_max_s)

    @property
    def halted(self) -> bool:
        """True once the server refused writes as misconfigured too often to keep trying."""
        return self._halted

    async def _drain(self) -> None:
        failures = 0
        config_failures = 0
        deadline: float | None = None
        while True:
            if self._halted:
                if self._closing:
                    break
                await self._wait_backoff(3600.0)  # keep spooling new lines until close
                continue
            if self._closing:
                if deadline is None:
                    deadline = time.monotonic() + self.options.close_timeout_s
                elif time.monotonic() > deadline:
                    break
            if self.spool.depth_batches or self._spills:
                # Backlog: everything flows through the spool, oldest first.
                await self._migrate_queue()
                if self._spills:
                    async with self._spool_io:
                        pass
                    continue
                item = await asyncio.to_thread(self.spool.peek_oldest_body)
                if item is None:
                    continue
                batch_id, n_points, body = item
                outcome, retry_after = await self._send(body, n_points)
                if outcome in (Outcome.OK, Outcome.BAD_DATA):
                    await asyncio.to_thread(self.spool.ack, batch_id)
                    if outcome is Outcome.BAD_DATA:
                        self._dropped_data += n_points
                    failures = 0
                    continue
            else:
                if not self._queue:
                    if self._closing:
                        break
                    await self._wait_for_batch()
                    continue
                if not self._closing:
                    await self._wait_for_batch()
                    if self.spool.depth_batches or self._spills or not self._queue:
                        continue
                lines = self._take(self.options.batch_size)
                body = b""
                try:
                    body = await asyncio.to_thread(encode_body, lines)
                    outcome, retry_after = await self._send(body, len(lines))
                except asyncio.CancelledError:
                    # aclose gave up on a request that hangs: keep the batch, first
                    # in line. Had the server stored it after all, the re-send on next
                    # start writes the same points again, which InfluxDB takes as a no-op.
                    if body:
                        await self._requeue_front(body, len(lines))
                    else:
                        self._queue.extendleft(reversed(lines))
                    raise
                except Exception:
                    self._queue.extendleft(reversed(lines))  # kept, first in line
                    raise
                if outcome is Outcome.OK:
                    failures = 0
                    continue
                if outcome is Outcome.BAD_DATA:
                    self._dropped_data += len(lines)
                    continue
                try:
                    await self._requeue_front(body, len(lines))
                except sqlite3.Error:
                    self._queue.extendleft(reversed(lines))
                    raise
            # RETRY or CONFIG: the batch is in the spool.
            failures += 1
            config_failures = config_failures + 1 if outcome is Outcome.CONFIG else 0
            if config_failures >= self.options.config_error_attempts:
                self._halted = True
                log.error(
                    "InfluxDB refused %d writes in a row as misconfigured (%s); not trying "
                    "again until netmon restarts with a corrected storage.influxdb. New points "
                    "keep going to the spool %s (%d points now).",
                    config_failures, self._stats.last_error, self.spool.path,
                    self.spool.depth_points,
                )
                continue
            delay = self._backoff_s(failures, outcome, retry_after)
            if self._closing:
                # Shutting down: keep trying a server that is busy, until the deadline;
                # a configuration error will not fix itself meanwhile.
                await self._migrate_queue()
                assert deadline is not None
                if outcome is Outcome.CONFIG or time.monotonic() + delay > deadline:
                    break
                await asyncio.sleep(delay)
                continue
            await self._wait_backoff(delay)
        await self._migrate_queue()
        if self.spool.depth_points:
            log.warning(
                "InfluxDB sink closed with %d points in the spool %s; they are sent on next start",
                self.spool.depth_points, self.spool.path,
            )


def _retry_after(e: ApiException) -> float | None:
    value = getattr(e, "retry_after", None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare, and our own back-off still applies
