"""The routing tree: which receivers an alert goes to, and how it is grouped there.

Step: alert engine -> **dispatcher (routing)** -> notifiers. As Alertmanager's
``route:``: an alert enters at the root (which matches everything) and walks
down. At each node the children are tried in order; the first child whose
matchers all hold takes the alert, and the walk stops there unless that child
says ``continue: true``, in which case the next siblings are tried too. A node
none of whose children matched is where the alert ends. Children inherit
``receiver``, ``group_by`` and the three timers from their parent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from alerts.matchers import label_matches, split_matcher
from netmon.units import Duration

__all__ = ["Matcher", "Route", "RouteOptions", "build_routes", "parse_matcher"]

MatchOp = Literal["=", "!=", "=~", "!~"]
ALL_LABELS = "..."
"""``group_by: ['...']`` groups by every label: each alert is its own group."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """``label=value``, ``label!=value``, ``label=~regex`` or ``label!~regex``.

    Regexes are anchored at both ends, as in Alertmanager; a missing label
    is the empty string.
    """

    label: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return label_matches(self.op, self.value, labels.get(self.label, ""))

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value!r}"


def parse_matcher(text: str) -> Matcher:
    parts = split_matcher(text)
    if parts is None:
        raise ValueError(f"{text!r} is not a matcher (examples: tier=backbone, "
                         "severity!=info, site=~HN.*)")
    label, op, value = parts
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: bad regular expression: {exc}") from None
    return Matcher(label, op, value)  # type: ignore[arg-type]


def _matchers(value: Any) -> Any:
    """A mapping (``{tier: backbone}``: each label equals) or a list of matcher strings."""
    if isinstance(value, Mapping):
        out = []
        for label, want in value.items():
            if not isinstance(want, str | int | float) or isinstance(want, bool):
                raise ValueError(f"matcher {label}: expected a label value")
            out.append(parse_matcher(f"{label}={want}"))
        return tuple(out)
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return tuple(v if isinstance(v, Matcher) else parse_matcher(str(v)) for v in value)
    raise ValueError("matchers: expected a mapping (tier: backbone) or a list of "
                     "matchers ('tier=backbone', 'site=~HN.*')")


Matchers = Annotated[tuple[Matcher, ...], BeforeValidator(_matchers)]


class RouteOptions(BaseModel):
    """A node of the routing tree (``notifications.route`` and its ``routes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = None
    matchers: Matchers = ()
    continue_: bool = Field(False, alias="continue")
    group_by: tuple[str, ...] | None = None
    group_wait_s: Duration | None = Field(None, alias="group_wait")
    group_interval_s: Duration | None = Field(None, alias="group_interval")
    repeat_interval_s: Duration | None = Field(None, alias="repeat_interval")
    routes: tuple[RouteOptions, ...] = ()

    @model_validator(mode="after")
    def _group_by_all_alone(self) -> RouteOptions:
        if self.group_by and ALL_LABELS in self.group_by and len(self.group_by) > 1:
            raise ValueError("group_by: '...' (every label) cannot be combined with labels")
        return self


# Alertmanager's defaults, except group_by: one message per rule and site.
DEFAULT_GROUP_BY = ("alertname", "site")
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved node: inherited settings filled in."""

    key: str
    """Stable identity of the node (its matchers down from the root, and its index)."""
    receiver: str | None
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    routes: tuple[Route, ...]

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The nodes where an alert with these labels ends (root: every alert)."""
        found: list[Route] = []
        for child in self.routes:
            if all(m.matches(labels) for m in child.matchers):
                found.extend(child.match(labels))
                if not child.continue_:
                    break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by == (ALL_LABELS,):
            return dict(labels)
        return {k: labels[k] for k in self.group_by if k in labels}

    def walk(self) -> list[Route]:
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out


def build_routes(options: RouteOptions, parent: Route | None = None, key: str = "{}") -> Route:
    """Resolve ``options`` (inheriting from ``parent``) into a ``Route`` tree."""
    def pick(mine: Any, theirs: Any, default: Any) -> Any:
        if mine is not None:
            return mine
        return theirs if parent is not None else default

    receiver = pick(options.receiver, parent.receiver if parent else None, None)
    group_by = pick(options.group_by, parent.group_by if parent else None, DEFAULT_GROUP_BY)
    wait = pick(options.group_wait_s, parent.group_wait_s if parent else None,
                DEFAULT_GROUP_WAIT_S)
    interval = pick(options.group_interval_s, parent.group_interval_s if parent else None,
                    DEFAULT_GROUP_INTERVAL_S)
    repeat = pick(options.repeat_interval_s, parent.repeat_interval_s if parent else None,
                  DEFAULT_REPEAT_INTERVAL_S)
    shell = Route(key, receiver, options.matchers, options.continue_, tuple(group_by),
                  wait, interval, repeat, ())
    children = tuple(
        build_routes(child, shell,
                     f"{key}/{i}:{{{','.join(str(m) for m in child.matchers)}}}")
        for i, child in enumerate(options.routes)
    )
    return Route(key, receiver, options.matchers, options.continue_, tuple(group_by),
                 wait, interval, repeat, children)
