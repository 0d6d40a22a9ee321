"""HTTP status API (aiohttp): health, Prometheus metrics, latest link state, alerts.

Step: a window on the daemon (scheduler state, last rates, sink counters,
alerts); the one thing it changes is silences (``/api/silences``). Listens
on 127.0.0.1 by default; an optional bearer token protects everything except
``/healthz`` (load balancers and systemd probes need that without a secret).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, field_validator

from alerts.silences import parse_matcher, silence_from_json
from netmon.datacentre import build_report  # (importing it registers `netmon report datacentre`)
from netmon.plugins import register_section
from netmon.secrets import Secret

if TYPE_CHECKING:
    from netmon.state import DaemonState


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
        if not _bearer_ok(request.headers.get("Authorization", ""), token):
            return web.json_response(
                {"error": "missing or wrong bearer token"}, status=401,
                headers={"WWW-Authenticate": 'Bearer realm="netmon"'},
            )
        return await handler(request)

    return check


def _bearer_ok(header: str, token: str) -> bool:
    """``Authorization: Bearer <token>``; the scheme is case-insensitive (RFC 7235 2.1).

    aiohttp hands over header bytes that are not UTF-8 as surrogate escapes:
    they are compared as the bytes they were, so they can only mismatch (401),
    never fail (500)."""
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        raw = given.strip().encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no byte sequence can produce
        return False
    return hmac.compare_digest(raw, token.encode())


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
    for name, kind, help_text, rows in _link_families(state):
        family(name, kind, help_text, rows)
    for name, kind, help_text, rows in _alert_families(state):
        family(name, kind, help_text, rows)
    return "\n".join(out) + "\n"


LINK_STATUSES = ("ok", "over_threshold", "down", "unknown")
_LINK_LABELS = ("device", "site", "tier", "province", "link", "ifName", "role", "plane")
Rows = list[tuple[dict[str, str], float]]


def _link_families(state: DaemonState) -> list[tuple[str, str, str, Rows]]:
    """Per-link gauges with the link's tags, so Prometheus users can write their own rules."""
    util: Rows = []
    capacity: Rows = []
    threshold: Rows = []
    in_bps: Rows = []
    out_bps: Rows = []
    status: Rows = []
    for (_, _), s in sorted(state.links.items()):
        labels = {k: s.tags[k] for k in _LINK_LABELS if s.tags.get(k)}
        f = s.fields
        if f.get("util_pct") is not None:
            util.append((labels, float(f["util_pct"]) / 100))
        if f.get("capacity_bps") is not None:
            capacity.append((labels, float(f["capacity_bps"])))
        if f.get("threshold_pct") is not None:
            threshold.append((labels, float(f["threshold_pct"]) / 100))
        if f.get("in_bps") is not None:
            in_bps.append((labels, float(f["in_bps"])))
            out_bps.append((labels, float(f.get("out_bps", 0.0))))
        current = f.get("status", "unknown")
        for name in LINK_STATUSES:
            status.append(({**labels, "status": name}, 1.0 if current == name else 0.0))
    return [
        ("netmon_link_utilisation_ratio", "gauge",
         "max(in, out) / capacity of the link at its last poll (0.5 = 50%).", util),
        ("netmon_link_capacity_bits_per_second", "gauge",
         "Circuit capacity: the configured capacity, else the port speed.", capacity),
        ("netmon_link_threshold_ratio", "gauge",
         "The link's utilisation threshold (default 0.5).", threshold),
        ("netmon_link_in_bits_per_second", "gauge", "Inbound rate at the last poll.", in_bps),
        ("netmon_link_out_bits_per_second", "gauge", "Outbound rate at the last poll.",
         out_bps),
        ("netmon_link_status", "gauge",
         "1 for the link's current status (ok, over_threshold, down, unknown), else 0.", status),
    ]


def _alert_families(state: DaemonState) -> list[tuple[str, str, str, Rows]]:
    service = state.alerts
    if service is None:
        return []
    counts = service.engine.counts()
    out = [
        ("netmon_alerts", "gauge", "Alerts held by the engine, by rule and state.",
         [({"alertname": rule, "state": st}, float(n))
          for (rule, st), n in sorted(counts.items())]),
        ("netmon_alert_evaluation_cpu_seconds", "gauge",
         "CPU time of the last alert evaluation.", [({}, service.engine.last_cpu_s)]),
        ("netmon_alert_rule_errors_total", "counter", "Evaluations in which a rule raised.",
         [({"rule": name}, float(b.errors)) for name, b in sorted(service.engine.rules.items())]),
    ]
    metrics = getattr(service.dispatcher, "metrics", None)
    if metrics is not None:
        grouped: dict[str, Rows] = {}
        for name, labels, value in metrics():
            grouped.setdefault(name, []).append((dict(labels), float(value)))
        for name, rows in grouped.items():
            kind = "counter" if name.endswith("_total") else "gauge"
            out.append((name, kind, "Notification delivery (alerts.dispatch).", rows))
    return out


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

    async def alerts(request: web.Request) -> web.Response:
        """Active alerts: ?state=firing,pending,resolved &filter=site=HNI (repeatable)."""
        if state.alerts is None:
            return web.json_response({"alerts": []})
        wanted = {x for x in request.query.get("state", "").split(",") if x}
        try:
            matchers = [parse_matcher(text) for text in request.query.getall("filter", [])]
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        rows = [a for a in state.alerts.engine.active()
                if (not wanted or a["state"] in wanted)
                and all(m.matches(a["labels"]) for m in matchers)]
        fp = request.query.get("fingerprint")
        if fp:
            rows = [a for a in rows if a["fingerprint"] == fp]
        return web.json_response({"alerts": rows})

    async def silences(_: web.Request) -> web.Response:
        if state.alerts is None:
            return web.json_response({"silences": []})
        now = datetime.now(UTC)
        return web.json_response(
            {"silences": [s.as_json(now) for s in state.alerts.engine.silences()]})

    async def add_silence(request: web.Request) -> web.Response:
        if state.alerts is None:
            return web.json_response({"error": "the alert engine is not running"}, status=503)
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        now = datetime.now(UTC)
        try:
            silence = silence_from_json(payload, now)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.alerts.engine.add_silence(silence)
        return web.json_response(silence.as_json(now), status=201)

    async def expire_silence(request: web.Request) -> web.Response:
        silence_id = request.match_info["id"]
        if state.alerts is None or not state.alerts.engine.expire_silence(silence_id):
            return web.json_response(
                {"error": f"no silence {silence_id!r} (those from netmon.yaml end in the config)"},
                status=404)
        return web.json_response({"expired": silence_id})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/targets", targets)
    app.router.add_get("/api/links", links)
    app.router.add_get("/api/ipv6", ipv6)

    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/api/silences", silences)
    app.router.add_post("/api/silences", add_silence)
    app.router.add_delete("/api/silences/{id}", expire_silence)

    async def datacentre(request: web.Request) -> web.Response:
        # Every UPS, sensor and server per data centre, worst first (netmon.datacentre).
        site = request.query.get("site") or None
        return web.json_response(build_report(list(state.datacentre.values()), site=site))

    app.router.add_get("/api/datacentre", datacentre)
    return app


async def start_http(state: DaemonState, options: HttpOptions) -> web.AppRunner:
    runner = web.AppRunner(build_app(state, options), access_log=None)
    await runner.setup()
    host, port = split_listen(options.listen)
    await web.TCPSite(runner, host, port).start()
    return runner
