"""Alertmanager's label matchers, as routes and silences both read them.

Step: alert engine (silences) and dispatcher (routing). ``name=value``,
``name!=value``, ``name=~regex``, ``name!~regex``; a value may be quoted;
regexes match the whole value (anchored at both ends, as in Alertmanager),
and a missing label is the empty string. alerts.route and alerts.silences
keep their own Matcher types and error messages on top of these.
"""

from __future__ import annotations

import re

__all__ = ["label_matches", "split_matcher"]

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def split_matcher(text: str) -> tuple[str, str, str] | None:
    """(label, op, value) with the value's quotes removed; None when ``text`` is no matcher."""
    m = _MATCHER.match(text)
    if not m:
        return None
    label, op, value = m.group(1), m.group(2), m.group(3)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return label, op, value


def label_matches(op: str, value: str, have: str, regex: re.Pattern[str] | None = None
                  ) -> bool:
    """Whether the label value ``have`` satisfies ``op value`` (``regex``: ``value``
    compiled, when the caller keeps it)."""
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    hit = (regex.fullmatch(have) if regex is not None else re.fullmatch(value, have)) is not None
    return hit if op == "=~" else not hit
