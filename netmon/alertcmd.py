"""``netmon alerts`` and ``netmon silence add|list|expire``.

Step: entry point, beside the daemon. Both talk to the running daemon's HTTP
API (``http.listen`` and ``http.token`` from the config), as amtool talks to
Alertmanager: what they show is what the daemon holds now, and a silence
takes effect at the next evaluation. When no daemon answers, they fall back
to the state it saved (state_dir/alerts.sqlite): ``netmon alerts`` shows the
alerts as of the last evaluation, and a silence added or expired there is
picked up when the daemon starts. A note on stderr says so.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.silences import Silence, silence_from_json
from alerts.store import AlertStore
from netmon.config import Config
from netmon.httpapi import split_listen

__all__ = ["run_alerts", "run_silence"]


class DaemonDown(Exception):
    """Nothing answers on http.listen."""


class ApiError(Exception):
    """The daemon answered with an error (its message is in the text)."""


@dataclass(slots=True)
class _Api:
    base: str
    token: str | None

    @classmethod
    def of(cls, config: Config) -> _Api:
        host, port = split_listen(config.settings.http.listen)
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        if ":" in host:
            host = f"[{host}]"
        token = config.settings.http.token
        return cls(f"http://{host}:{port}", token.get_secret_value() if token else None)

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise ApiError(f"netmon at {self.base} answered {exc.code}: {message}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise DaemonDown(f"no netmon answers at {self.base} ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason)


def _store(config: Config, *, readonly: bool) -> AlertStore:
    return AlertStore.in_state_dir(config.settings.state_dir, readonly=readonly)


# -- netmon alerts -------------------------------------------------------------------------


def run_alerts(config: Config, *, states: list[str], filters: list[str], as_json: bool) -> int:
    api = _Api.of(config)
    query = [("state", ",".join(states))] if states else []
    query += [("filter", f) for f in filters]
    path = "/api/alerts" + ("?" + urllib.parse.urlencode(query) if query else "")
    try:
        rows = api.call("GET", path)["alerts"]
    except ApiError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except DaemonDown as exc:
        rows = _saved_alerts(config, states, filters)
        if rows is None:
            print(f"{exc}; and no saved alert state in {config.settings.state_dir}",
                  file=sys.stderr)
            return 1
        print(f"{exc}: alerts as saved in {config.settings.state_dir}/alerts.sqlite "
              "at the last evaluation", file=sys.stderr)
    if as_json:
        print(json.dumps({"alerts": rows}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(format_alerts(rows))
    return 0


def _saved_alerts(config: Config, states: list[str], filters: list[str]
                  ) -> list[dict[str, Any]] | None:
    from alerts.engine import AlertEngine

    try:
        store = _store(config, readonly=True)
    except FileNotFoundError:
        return None
    try:
        engine = AlertEngine(config.settings.alerts, store)
        rows = engine.active()
    finally:
        store.close()
    from alerts.silences import parse_matcher

    matchers = [parse_matcher(f) for f in filters]
    return [a for a in rows if (not states or a["state"] in states)
            and all(m.matches(a["labels"]) for m in matchers)]


def _age(iso: str | None, now: datetime) -> str:
    from alerts.templates import duration

    if not iso:
        return ""
    return duration((now - datetime.fromisoformat(iso)).total_seconds())


def format_alerts(rows: list[dict[str, Any]], now: datetime | None = None) -> str:
    """One line per alert: state, for how long, rule, where, value, summary, flags."""
    if not rows:
        return "no active alerts\n"
    now = now or datetime.now(UTC)
    table = [("STATE", "SINCE", "FOR", "ALERT", "DEVICE", "LINK / SITE", "VALUE", "SUMMARY")]
    for a in rows:
        labels = a["labels"]
        where = labels.get("link") or labels.get("site") or labels.get("sink", "")
        value = a.get("value")
        flags = " ".join(x for x in ("silenced" if a["silenced"] else "",
                                     "inhibited" if a["inhibited"] else "") if x)
        since = (a.get("since") or "")[:19].replace("T", " ")
        table.append((
            a["state"] + (f" ({flags})" if flags else ""), since, _age(a.get("since"), now),
            labels.get("alertname", ""), labels.get("device", ""), where,
            f"{value:.1f}" if isinstance(value, int | float) else "",
            a["annotations"].get("summary", ""),
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True))
             + "  " + row[-1] for row in table]
    return "\n".join(line.rstrip() for line in lines) + "\n"


# -- netmon silence ------------------------------------------------------------------------


def run_silence(config: Config, action: str, *, matchers: list[str] | None = None,
                duration: str | None = None, until: str | None = None,
                comment: str | None = None, author: str = "", silence_id: str | None = None,
                show_all: bool = False) -> int:
    api = _Api.of(config)
    now = datetime.now(UTC)
    try:
        if action == "add":
            payload: dict[str, Any] = {"matchers": matchers or [], "comment": comment or "",
                                       "created_by": author}
            if until:
                payload["ends_at"] = until
            else:
                payload["duration"] = duration or "2h"
            try:
                made = api.call("POST", "/api/silences", payload)
            except DaemonDown as exc:
                silence = silence_from_json(payload, now)
                store = _store(config, readonly=False)
                try:
                    store.add_silence(silence)
                finally:
                    store.close()
                print(f"{exc}: silence saved in {store.path}; it applies when netmon starts",
                      file=sys.stderr)
                made = silence.as_json(now)
            print(made["id"])
            return 0
        if action == "expire":
            assert silence_id is not None
            try:
                api.call("DELETE", f"/api/silences/{urllib.parse.quote(silence_id)}")
            except DaemonDown as exc:
                store = _store(config, readonly=False)
                try:
                    found = store.expire_silence(silence_id, now)
                finally:
                    store.close()
                if not found:
                    print(f"{exc}; and no silence {silence_id!r} in {store.path}",
                          file=sys.stderr)
                    return 1
                print(f"{exc}: silence expired in {store.path}", file=sys.stderr)
            print(f"expired {silence_id}")
            return 0
        try:
            rows = api.call("GET", "/api/silences")["silences"]
        except DaemonDown as exc:
            rows = [s.as_json(now) for s in _saved_silences(config)]
            print(f"{exc}: silences as saved in {config.settings.state_dir}", file=sys.stderr)
        if not show_all:
            rows = [r for r in rows if r["state"] != "expired"]
        sys.stdout.write(format_silences(rows))
        return 0
    except (ApiError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1


def _saved_silences(config: Config) -> list[Silence]:
    from alerts.engine import AlertEngine

    try:
        store = _store(config, readonly=True)
    except FileNotFoundError:
        return AlertEngine(config.settings.alerts).silences()
    try:
        return AlertEngine(config.settings.alerts, store).silences()
    finally:
        store.close()


def format_silences(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no silences\n"
    table = [("ID", "STATE", "STARTS", "ENDS", "MATCHERS", "BY", "COMMENT")]
    for r in rows:
        table.append((r["id"], r["state"], r["starts_at"][:16].replace("T", " "),
                      r["ends_at"][:16].replace("T", " "), " ".join(r["matchers"]),
                      r.get("created_by") or "-", r["comment"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return "\n".join(
        ("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        .rstrip() for row in table) + "\n"
