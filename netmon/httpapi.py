"""HTTP status API (aiohttp): health, Prometheus metrics, latest link state.

Step: a read-only window on the daemon (scheduler state, last rates, sink
counters). Listens on 127.0.0.1 by default; an optional bearer token protects
everything except ``/healthz`` (load balancers and systemd probes need that
without a secret).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, field_validator

from netmon.plugins import register_section
from netmon.secrets import Secret

if TYPE_CHECKING:
    from netmon.daemon import DaemonState


class HttpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    listen: str = "127.0.0.1:9161"
    token: Secret | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value


register_section("http", HttpOptions)


def split_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:9161`` / ``[::1]:9161`` -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise ValueError(f"{value!r} is not HOST:PORT (examples: 127.0.0.1:9161, [::1]:9161)")
    return host.strip("[]"), int(port)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _auth_middleware(token: str | None) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None or request.path == "/healthz":
            return await handler(request)
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response(
                {"error": "missing or wrong bearer token"}, status=401,
                headers={"WWW-Authenticate": 'Bearer realm="netmon"'},
            )
        return await handler(request)

    return check


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(state: DaemonState) -> str:
    """Prometheus text exposition format 0.0.4."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, rows: list[tuple[dict[str, str], float]]):
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            if labels:
                text = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
                out.append(f"{name}{{{text}}} {value:g}")
            else:
                out.append(f"{name} {value:g}")

    targets = sorted(state.targets.items())
    family("netmon_up", "gauge", "1 while the scheduler runs.",
           [({}, 1.0 if state.scheduler_running else 0.0)])
    family("netmon_targets", "gauge", "Configured targets.", [({}, float(len(targets)))])
    family("netmon_poll_duration_seconds", "gauge", "Duration of the last poll.",
           [({"target": n}, t.poll_duration_s) for n, t in targets])
    family("netmon_polls_total", "counter", "Polls attempted.",
           [({"target": n}, float(t.polls)) for n, t in targets])
    family("netmon_poll_errors_total", "counter", "Polls that failed.",
           [({"target": n}, float(t.errors)) for n, t in targets])
    family("netmon_overruns_total", "counter", "Slots skipped because a poll was still running.",
           [({"target": n}, float(t.overruns)) for n, t in targets])
    family("netmon_target_reachable", "gauge", "1 if the last poll succeeded.",
           [({"target": n}, 1.0 if t.reachable else 0.0) for n, t in targets
            if t.reachable is not None])
    family("netmon_reloads_total", "counter", "Config reloads applied.",
           [({}, float(state.reloads))])
    family("netmon_reload_errors_total", "counter", "Config reloads rejected.",
           [({}, float(state.reload_errors))])
    sink_rows: dict[str, list[tuple[dict[str, str], float]]] = {
        k: [] for k in ("written", "spooled", "dropped", "depth", "age", "errors", "config",
                        "halted")
    }
    for sink in state.sinks:
        stats = getattr(sink, "stats", None)
        if stats is None:
            continue
        label = {"sink": type(sink).__name__}
        sink_rows["written"].append((label, float(stats.points_written)))
        sink_rows["spooled"].append((label, float(stats.points_spooled)))
        sink_rows["dropped"].append((label, float(stats.points_dropped)))
        sink_rows["depth"].append((label, float(stats.spool_depth_points)))
        sink_rows["age"].append((label, float(stats.spool_oldest_age_s)))
        sink_rows["errors"].append((label, float(stats.write_errors)))
        sink_rows["config"].append((label, float(stats.config_errors)))
        sink_rows["halted"].append((label, 1.0 if getattr(sink, "halted", False) else 0.0))
    family("netmon_points_written_total", "counter", "Points accepted by storage.",
           sink_rows["written"])
    family("netmon_points_spooled_total", "counter", "Points put in the on-disk spool.",
           sink_rows["spooled"])
    family("netmon_points_dropped_total", "counter", "Points dropped (spool over bounds).",
           sink_rows["dropped"])
    family("netmon_spool_depth_points", "gauge", "Points waiting in the spool.",
           sink_rows["depth"])
    family("netmon_spool_oldest_age_seconds", "gauge", "Age of the oldest spooled point.",
           sink_rows["age"])
    family("netmon_sink_write_errors_total", "counter", "Failed write requests.",
           sink_rows["errors"])
    family("netmon_sink_config_errors_total", "counter",
           "Writes refused as misconfigured (4xx other than 400/429: token, org, bucket).",
           sink_rows["config"])
    family("netmon_sink_halted", "gauge",
           "1 when the sink stopped sending after repeated configuration errors.",
           sink_rows["halted"])
    return "\n".join(out) + "\n"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def build_app(state: DaemonState, options: HttpOptions) -> web.Application:
    token = options.token.get_secret_value() if options.token is not None else None
    app = web.Application(middlewares=[_auth_middleware(token)])

    async def healthz(_: web.Request) -> web.Response:
        ok, reason = state.health()
        return web.Response(text=reason + "\n", status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=render_metrics(state).encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def targets(_: web.Request) -> web.Response:
        rows = []
        for name, t in sorted(state.targets.items()):
            rows.append({
                "name": name,
                "site": t.target.site,
                "tier": t.target.tier,
                "province": t.target.province,
                "address": t.target.address,
                "reachable": t.reachable,
                "last_poll": _iso(t.last_poll_at),
                "last_success": _iso(t.last_success_at),
                "poll_duration_s": t.poll_duration_s,
                "polls": t.polls,
                "errors": t.errors,
                "overruns": t.overruns,
                "last_error": t.last_error,
                "issues": t.issues,
            })
        return web.json_response({"targets": rows})

    async def links(_: web.Request) -> web.Response:
        rows = []
        for (target, if_name), s in sorted(state.links.items()):
            f = s.fields
            rows.append({
                "target": target,
                "link": s.tags.get("link", if_name),
                "ifName": if_name,
                "ifIndex": f.get("ifIndex"),
                "role": s.tags.get("role"),
                "plane": s.tags.get("plane"),
                "ts": s.ts.isoformat(),
                "in_bps": f.get("in_bps"),
                "out_bps": f.get("out_bps"),
                "capacity_bps": f.get("capacity_bps"),
                "util_pct": f.get("util_pct"),
                "threshold_pct": f.get("threshold_pct"),
                "status": f.get("status"),
            })
        return web.json_response({"links": rows})

    async def ipv6(request: web.Request) -> web.Response:
        from netmon.ipv6report import build_report

        samples = [s for (_, name), got in state.periodic.items() if name == "ipv6"
                   for s in got]
        return web.json_response(build_report(samples, tier=request.query.get("tier")))

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/targets", targets)
    app.router.add_get("/api/links", links)
    app.router.add_get("/api/ipv6", ipv6)
    return app


async def start_http(state: DaemonState, options: HttpOptions) -> web.AppRunner:
    runner = web.AppRunner(build_app(state, options), access_log=None)
    await runner.setup()
    host, port = split_listen(options.listen)
    await web.TCPSite(runner, host, port).start()
    return runner
