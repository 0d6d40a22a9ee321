"""Silences and maintenance windows: label matchers with a start, an end and a comment.

Step: alert engine. A silenced alert keeps its state and stays visible (HTTP
API, ``netmon alerts``) but the dispatcher never sends it. Silences come from
``alerts.silences`` in netmon.yaml (maintenance windows planned ahead) and
from the HTTP API / ``netmon silence add`` (stored in alerts.sqlite).

Matchers are Alertmanager's: ``name=value``, ``name!=value``, ``name=~regex``,
``name!~regex``; regexes match the whole value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.matchers import label_matches, split_matcher

__all__ = ["Matcher", "Silence", "parse_matcher", "silence_from_json"]


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op in ("=~", "!~"):
            assert self._regex is not None
        return label_matches(self.op, self.value, labels.get(self.name, ""), self._regex)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """``site=HNI`` / ``device=~core-.*`` -> Matcher; ValueError with an example otherwise."""
    parts = split_matcher(text)
    if parts is None:
        raise ValueError(f"{text!r} is not a label matcher "
                         "(examples: site=HNI, device=~core-.*, alertname!=link_down)")
    name, op, value = parts
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: {value!r} is not a valid regular expression: {exc}") \
                from None
    return Matcher(name, op, value, regex)


@dataclass(slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str = ""
    source: str = "api"  # "api" (stored in alerts.sqlite) or "config" (netmon.yaml)

    @classmethod
    def new(cls, matchers: Sequence[str], starts_at: datetime, ends_at: datetime,
            comment: str, created_by: str = "", source: str = "api") -> Silence:
        if not matchers:
            raise ValueError("a silence needs at least one matcher (example: site=HNI)")
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        if not comment.strip():
            raise ValueError("a silence needs a comment (why, and who to ask)")
        parsed = tuple(parse_matcher(m) for m in matchers)
        return cls(uuid.uuid4().hex[:12], parsed, starts_at, ends_at, comment, created_by,
                   source)

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "comment": self.comment,
            "created_by": self.created_by,
            "source": self.source,
            "state": self.state(now),
        }


def silence_from_json(payload: object, now: datetime) -> Silence:
    """The body of ``POST /api/silences`` -> a Silence (ValueError says what is wrong).

    ``{"matchers": ["site=HNI"], "comment": "...", "created_by": "...",
    "starts_at": ISO 8601 (default now), "ends_at": ISO 8601 | "duration": "2h"}``.
    """
    from netmon.units import parse_duration

    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object with matchers, comment and ends_at or duration")
    unknown = set(payload) - {"matchers", "comment", "created_by", "starts_at", "ends_at",
                              "duration"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    matchers = payload.get("matchers")
    if not isinstance(matchers, list) or not all(isinstance(m, str) for m in matchers):
        raise ValueError("matchers must be a list of strings (example: [\"site=HNI\"])")
    starts_at = _when(payload.get("starts_at"), "starts_at") or now
    if payload.get("ends_at") is not None:
        ends_at = _when(payload["ends_at"], "ends_at")
    elif payload.get("duration") is not None:
        ends_at = starts_at + timedelta(seconds=parse_duration(payload["duration"]))
    else:
        raise ValueError("give ends_at (ISO 8601) or duration (examples: 30m, 2h)")
    assert ends_at is not None
    comment = payload.get("comment")
    if not isinstance(comment, str):
        raise ValueError("comment must be a string: why, and who to ask")
    created_by = payload.get("created_by") or ""
    return Silence.new(matchers, starts_at, ends_at, comment, str(created_by))


def _when(value: object, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an ISO 8601 time (example: 2026-12-01T22:00:00+07:00)")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not an ISO 8601 time "
                         "(example: 2026-12-01T22:00:00+07:00)") from None
    if when.tzinfo is None:
        raise ValueError(f"{key}: {value!r} has no time zone (add Z or +07:00)")
    return when
