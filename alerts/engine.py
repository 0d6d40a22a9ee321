"""The alert engine: rules -> observations -> the alert lifecycle.

Step: rates -> (storage sinks, **alert engine**) -> notifiers.

The daemon hands the engine the derived samples of every poll; each
evaluation runs every rule over them. An observation that holds starts an
alert *pending*; once it has held for the rule's ``for`` it is *firing*; when
the rule judges it fine again it is *resolved* (kept and handed to the
dispatcher for ``resolved_keep``, 15 min, then forgotten); a pending alert
whose condition clears goes back to *inactive* without a notification.
Things a rule did not judge in this evaluation (no sample) keep their state.

Identity is a fingerprint of the rule name and the alert's labels. Time is
the samples' time (when the devices answered), so ``for`` is measured on the
data, not on when the engine happened to run.

Each change of state is written to alerts.sqlite before the dispatcher sees
it; after a restart the engine continues from there: a firing alert keeps its
``starts_at`` (no second firing), and one that cleared while netmon was down
resolves on the first evaluation. Firing and resolved events are also
returned as ``alert`` samples for the storage sinks (history).

Silenced and inhibited alerts keep their lifecycle and stay listed; the flags
tell the dispatcher not to send them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.rule import RuleOptions
from alerts.settings import AlertsOptionsBase, utcnow
from alerts.silences import Silence
from alerts.store import AlertStore, StoredAlert
from alerts.templates import Lazy, with_duration
from netmon import plugins
from netmon.model import ALERT, Alert, Observation, Sample

__all__ = ["DEVICE_UNREACHABLE", "AlertEngine", "Evaluation", "fingerprint"]

log = logging.getLogger(__name__)

DEVICE_UNREACHABLE = "device_unreachable"
EXPIRED_SILENCES_KEPT = timedelta(days=7)
"""Expired silences stay listed (``netmon silence list --all``) this long."""
PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """Stable across restarts and machines: 16 hex digits of BLAKE2b over rule and labels."""
    h = hashlib.blake2b(digest_size=8)
    h.update(rule.encode())
    for k in sorted(labels):
        h.update(b"\x00" + k.encode() + b"\x01" + labels[k].encode())
    return h.hexdigest()


@dataclass(slots=True)
class Evaluation:
    """What one evaluation produced."""

    alerts: list[Alert]
    """Every firing alert, and resolved ones for ``resolved_keep``: for the dispatcher."""
    events: list[Sample]
    """``alert`` samples (fired, resolved) for the storage sinks."""
    transitions: list[tuple[str, Alert]] = field(default_factory=list)
    """(new state, alert) of each change, for the log."""
    cpu_s: float = 0.0


@dataclass(slots=True)
class _Built:
    rule: Any
    options: RuleOptions
    errors: int = 0


class AlertEngine:
    """Thread-safe: ``evaluate`` may run in a worker thread while the HTTP API reads."""

    def __init__(self, options: AlertsOptionsBase, store: AlertStore | None = None, *,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.options = options
        self.store = store
        self._now = now
        self._lock = threading.Lock()
        self._states: dict[tuple[str, tuple[str, ...]], StoredAlert] = {}
        self._dirty: dict[tuple[str, tuple[str, ...]], StoredAlert] = {}
        self._removed: set[tuple[str, tuple[str, ...]]] = set()
        self._silences: list[Silence] = []
        self._config_silences: list[Silence] = []
        self._pruned_at: datetime | None = None
        self.rules: dict[str, _Built] = {}
        self.evaluations = 0
        self.save_errors = 0
        self.last_cpu_s = 0.0
        if store is not None:
            for a in store.load():
                self._states[(a.rule, a.key)] = a
            self._silences = store.silences()
        self._build_rules(options)

    # -- configuration --------------------------------------------------------------------

    def _build_rules(self, options: AlertsOptionsBase) -> None:
        rules_options = getattr(options, "rules", None)
        built: dict[str, _Built] = {}
        for name, plugin in sorted(plugins.rules().items()):
            opts = getattr(rules_options, name, None) if rules_options is not None else None
            if opts is None:
                opts = plugin.options()
            rule = plugin.factory(opts)
            with contextlib.suppress(AttributeError):  # a rule with __slots__ and no language
                rule.language = options.language  # see alerts.rule: how a rule gets it
            restore = getattr(rule, "restore", None)
            if restore is not None:
                restore([k for (r, k), a in self._states.items()
                         if r == name and a.state in (PENDING, FIRING)])
            built[name] = _Built(rule, opts)
        # Rules of one engine may share work through this dict (the plane rules gather
        # the same links); "evaluation" changes at each evaluation.
        context: dict[str, object] = {"evaluation": object()}
        for b in built.values():
            share = getattr(b.rule, "share", None)
            if share is not None:
                share(context)
        self._context = context
        self.rules = built
        config = []
        for i, s in enumerate(options.silences):
            silence = Silence.new(s.matchers, s.start, s.end, s.comment, s.created_by,
                                  source="config")
            silence.id = f"config-{i + 1}"
            config.append(silence)
        self._config_silences = config

    def reconfigure(self, options: AlertsOptionsBase) -> None:
        """New settings (SIGHUP): rules are rebuilt; alert states are kept."""
        with self._lock:
            self.options = options
            self._build_rules(options)

    # -- silences -------------------------------------------------------------------------

    def silences(self) -> list[Silence]:
        """Configured maintenance windows, then stored silences (whatever their state)."""
        with self._lock:
            return [*self._config_silences, *self._silences]

    def add_silence(self, silence: Silence) -> None:
        with self._lock:
            if self.store is not None:
                self.store.add_silence(silence)
            self._silences.append(silence)

    def expire_silence(self, silence_id: str) -> bool:
        """End a stored silence now. False if there is none with that id (or it is
        a maintenance window from netmon.yaml, which only the config can change)."""
        now = self._now()
        with self._lock:
            for s in self._silences:
                if s.id == silence_id:
                    if self.store is not None:
                        self.store.expire_silence(silence_id, now)
                    s.ends_at = min(s.ends_at, now)
                    s.starts_at = min(s.starts_at, now)
                    return True
        return False

    def _prune_silences(self, now: datetime) -> None:
        before = now - EXPIRED_SILENCES_KEPT
        self._pruned_at = now
        if self.store is not None:
            try:
                self.store.prune_silences(before)
            except (sqlite3.Error, OSError) as exc:
                log.warning("expired silences not pruned from %s: %s", self.store.path, exc)
                return
        self._silences = [s for s in self._silences if s.ends_at >= before]

    def _active_silences(self, now: datetime) -> list[Silence]:
        return [s for s in (*self._config_silences, *self._silences) if s.active(now)]

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self, samples: Sequence[Sample], now: datetime | None = None) -> Evaluation:
        """Run every rule over ``samples`` and advance the lifecycle; persist the changes."""
        cpu0 = time.process_time()
        now = now or self._now()
        with self._lock:
            self._context["evaluation"] = object()
            observations: list[Observation] = []
            by_measurement: dict[str, list[Sample]] = {}
            for sample in samples:
                found = by_measurement.get(sample.measurement)
                if found is None:
                    by_measurement[sample.measurement] = [sample]
                else:
                    found.append(sample)
            for name, built in self.rules.items():
                wanted = getattr(built.rule, "measurements", None)
                if wanted is None:
                    given: Sequence[Sample] = samples
                elif len(wanted) == 1:
                    given = by_measurement.get(next(iter(wanted)), [])
                else:
                    given = []
                    for measurement in wanted:
                        given.extend(by_measurement.get(measurement, ()))
                try:
                    observations.extend(built.rule.evaluate(given))
                except Exception:  # a plugin's bug must not stop the other rules
                    built.errors += 1
                    if built.errors == 1 or built.errors % 100 == 0:
                        log.exception("rule %s failed (%d times)", name, built.errors)
            transitions: list[tuple[str, StoredAlert]] = []
            for obs in observations:
                self._observe(obs, transitions)
            self._expire(now)
            if self._pruned_at is None or now - self._pruned_at > timedelta(hours=1):
                self._prune_silences(now)
            silences = self._active_silences(now)
            alerts = self._alerts(now, silences, dispatch=True)
            by_fp = {a.fingerprint: a for a in alerts}
            events = []
            logged: list[tuple[str, Alert]] = []
            for state, st in transitions:
                alert = by_fp.get(st.fingerprint) or self._to_alert(st, silences, set())
                logged.append((state, alert))
                if state in (FIRING, RESOLVED):
                    events.append(self._event(state, st, alert))
            self._save()
            self.evaluations += 1
        cpu = time.process_time() - cpu0
        self.last_cpu_s = cpu
        return Evaluation(alerts, events, logged, cpu)

    def _save(self) -> None:
        """Write the changed states. If the disk refuses, the alerts still go out, and
        the changes are kept for the next evaluation to write."""
        if self.store is None or not (self._dirty or self._removed):
            return
        try:
            self.store.save(self._dirty.values(), self._removed)
        except (sqlite3.Error, OSError) as exc:
            self.save_errors += 1
            log.error("alert state not saved in %s (kept for the next evaluation): %s",
                      self.store.path, exc)
            return
        self._dirty.clear()
        self._removed.clear()

    def _observe(self, obs: Observation, transitions: list[tuple[str, StoredAlert]]) -> None:
        ident = (obs.rule, obs.key)
        st = self._states.get(ident)
        if (st is not None and st.state != RESOLVED and obs.labels is not st.labels
                and dict(obs.labels) != st.labels):
            # Same thing, new labels (renamed link, new severity): that alert ends here.
            if st.state == FIRING:
                # Resolved under a key of its own, so that it stays listed (and handed
                # to the dispatcher) for resolved_keep beside its successor.
                del self._states[ident]
                st.key = (*st.key, f"~{st.fingerprint}")
                self._states[(st.rule, st.key)] = st
                self._resolve(st, obs.ts, transitions)
            else:
                self._drop(ident)
            st = None
        if obs.firing:
            if st is None or st.state == RESOLVED:
                labels = obs.labels  # a rule's labels are never changed once given
                built = self.rules.get(obs.rule)
                for_s = _for_s(built.options, labels) if built is not None else 0.0
                st = StoredAlert(obs.rule, obs.key, fingerprint(obs.rule, labels), labels,
                                 obs.annotations, PENDING, obs.ts, None, None, obs.value,
                                 for_s, obs.ts)
                self._states[ident] = st
                self._removed.discard(ident)
                self._dirty[ident] = st
                transitions.append((PENDING, st))
            st.value = obs.value
            st.last_seen = obs.ts
            st.annotations = obs.annotations  # rendered when read (templates.Lazy)
            if st.state == PENDING and (obs.ts - st.active_at).total_seconds() >= st.for_s:
                st.state = FIRING
                st.starts_at = obs.ts
                self._dirty[ident] = st
                transitions.append((FIRING, st))
        elif st is not None:
            if st.state == PENDING:
                self._drop(ident)
                transitions.append(("inactive", st))
            elif st.state == FIRING:
                st.value = obs.value
                self._resolve(st, obs.ts, transitions)

    def _resolve(self, st: StoredAlert, ts: datetime,
                 transitions: list[tuple[str, StoredAlert]]) -> None:
        st.state = RESOLVED
        st.ends_at = ts
        st.last_seen = ts
        self._dirty[(st.rule, st.key)] = st
        transitions.append((RESOLVED, st))

    def _drop(self, ident: tuple[str, tuple[str, ...]]) -> None:
        self._states.pop(ident, None)
        self._dirty.pop(ident, None)
        self._removed.add(ident)

    def _expire(self, now: datetime) -> None:
        keep = timedelta(seconds=self.options.resolved_keep_s)
        for ident, st in list(self._states.items()):
            if st.state == RESOLVED and st.ends_at is not None and now - st.ends_at > keep:
                self._drop(ident)

    # -- views ----------------------------------------------------------------------------

    def _unreachable(self) -> set[str]:
        if not self.options.inhibition:
            return set()
        return {st.labels.get("device", "") for (rule, _), st in self._states.items()
                if rule == DEVICE_UNREACHABLE and st.state == FIRING}

    def _to_alert(self, st: StoredAlert, silences: Iterable[Silence],
                  unreachable: set[str]) -> Alert:
        inhibited = (st.rule != DEVICE_UNREACHABLE
                     and st.labels.get("device", "\x00") in unreachable)
        silenced = bool(silences) and any(s.matches(st.labels) for s in silences)
        # An alert not observed since the last evaluation (polls are less frequent
        # than evaluations) is handed over again as it was: building one costs more
        # than judging a hundred links.
        version = (st.state, st.last_seen, st.ends_at, st.value, silenced, inhibited)
        if st.view is not None and st.view[0] == version:
            return st.view[1]  # type: ignore[no-any-return]
        alert = self._build_alert(st, silenced, inhibited)
        st.view = (version, alert)
        return alert

    def _build_alert(self, st: StoredAlert, silenced: bool, inhibited: bool) -> Alert:
        until = st.ends_at or st.last_seen
        annotations = Lazy(with_duration, st.annotations, (until - st.active_at).total_seconds())
        url = self.options.external_url
        return Alert(
            fingerprint=st.fingerprint, labels=st.labels, annotations=annotations,
            state=FIRING if st.state == PENDING else st.state,
            starts_at=st.starts_at or st.active_at, ends_at=st.ends_at, value=st.value,
            generator_url=f"{url.rstrip('/')}/api/alerts?fingerprint={st.fingerprint}"
            if url else "",
            silenced=silenced, inhibited=inhibited,
        )

    def _alerts(self, now: datetime, silences: Sequence[Silence], *, dispatch: bool
                ) -> list[Alert]:
        unreachable = self._unreachable()
        return [self._to_alert(st, silences, unreachable)
                for st in self._states.values() if not dispatch or st.state != PENDING]

    def _event(self, state: str, st: StoredAlert, alert: Alert) -> Sample:
        fields: dict[str, float | int | str | bool] = {
            "state": state, "fingerprint": st.fingerprint,
            "silenced": alert.silenced, "inhibited": alert.inhibited,
            "summary": alert.annotations.get("summary", ""),
        }
        if st.value is not None:
            fields["value"] = float(st.value)
        ts = st.starts_at if state == FIRING else st.ends_at
        return Sample(st.labels.get("device", "netmon"), ALERT, dict(st.labels), fields,
                      ts or st.last_seen)

    def active(self) -> list[dict[str, Any]]:
        """Every alert the engine holds (pending, firing, resolved), for the API and CLI."""
        now = self._now()
        with self._lock:
            silences = self._active_silences(now)
            unreachable = self._unreachable()
            out = []
            for st in self._states.values():
                alert = self._to_alert(st, silences, unreachable)
                out.append(alert_json(st.state, alert, st.active_at))
        out.sort(key=lambda a: (_ORDER.get(a["state"], 9), a["labels"].get("alertname", ""),
                                a["labels"].get("device", ""), a["labels"].get("link", "")))
        return out

    def counts(self) -> dict[tuple[str, str], int]:
        """(alertname, state) -> number of alerts, for /metrics."""
        out: dict[tuple[str, str], int] = {}
        with self._lock:
            for (rule, _), st in self._states.items():
                out[(rule, st.state)] = out.get((rule, st.state), 0) + 1
        return out


_ORDER = {FIRING: 0, PENDING: 1, RESOLVED: 2}


def _for_s(options: Any, labels: Mapping[str, str]) -> float:
    """The rule's ``for`` for these labels (RuleOptions.effective), 0 if it has none."""
    effective = getattr(options, "effective", None)
    if effective is not None:
        options = effective(labels)
    return float(getattr(options, "for_s", 0.0))


def alert_json(state: str, alert: Alert, active_at: datetime) -> dict[str, Any]:
    """One alert as ``/api/alerts`` shows it (and ``netmon alerts`` reads it)."""
    since = alert.ends_at if state == RESOLVED else (
        active_at if state == PENDING else alert.starts_at)
    return {
        "fingerprint": alert.fingerprint,
        "state": state,
        "since": since.isoformat() if since else None,
        "active_at": active_at.isoformat(),
        "starts_at": alert.starts_at.isoformat() if state != PENDING else None,
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "value": alert.value,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "silenced": alert.silenced,
        "inhibited": alert.inhibited,
    }
