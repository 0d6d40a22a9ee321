"""Samples -> InfluxDB line protocol (step: rates -> storage, the encoding half).

Hot path: about 24 samples per device per cycle for 1000 devices. The
``measurement,tag=value,...`` prefix of a sample is the same cycle after cycle,
so it is escaped once and cached by ``(measurement, tags)``; field keys are
cached the same way. Everything else is a few string joins.

Rules (the same as the official influxdb-client ``Point`` serializer):

* measurement: ``,`` and space are escaped with a backslash;
* tag keys, tag values and field keys: ``,``, ``=`` and space are escaped;
* tab, CR and LF (never legal inside a line) become the two-character escapes
  ``\\t``, ``\\r``, ``\\n``; a tag value ending in a backslash gets a trailing
  space so the backslash cannot escape the separator that follows;
* string field values: ``"`` and ``\\`` are escaped and the value is quoted;
  CR and LF become ``\\r``/``\\n`` (two characters, stored as such), so one
  sample is always exactly one line;
* tags are sorted by key; tags with an empty value are left out (line
  protocol cannot carry them);
* ints are ``123i``, floats use ``repr`` (``1.0`` stays a float), bools are
  ``true``/``false``; NaN and +/-inf are left out (InfluxDB rejects them), and
  so are ints beyond 64 bits (InfluxDB refuses the whole batch for one; the
  SNMP seam refuses such values first); a sample with no field left produces
  no line;
* the timestamp is ``Sample.ts`` in integer nanoseconds since the epoch
  (``ts`` must be timezone-aware; datetimes carry microseconds, so the
  last three digits are always ``000``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from math import isfinite

from netmon.model import Sample

_ESC_MEASUREMENT = str.maketrans(
    {",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_ESC_KEY = str.maketrans(
    {",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"}
)
_ESC_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n", "\r": r"\r"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_PREFIX_CACHE_MAX = 200_000
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# (measurement, tuple(tags.items())) -> "measurement,k=v,k=v"
_prefix_cache: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
# field key -> "escaped_key="
_field_key_cache: dict[str, str] = {}


def escape_measurement(name: str) -> str:
    return name.translate(_ESC_MEASUREMENT)


def escape_key(key: str) -> str:
    """Escape a tag key or a field key."""
    return key.translate(_ESC_KEY)


def escape_tag_value(value: str) -> str:
    escaped = value.translate(_ESC_KEY)
    if escaped.endswith("\\"):
        escaped += " "
    return escaped


def escape_string_field(value: str) -> str:
    """The inside of a quoted string field value (quotes not included)."""
    return value.translate(_ESC_STRING)


def timestamp_ns(ts: datetime) -> int:
    """Exact integer nanoseconds since the epoch; ``ts`` must be timezone-aware."""
    if ts.tzinfo is None:
        raise ValueError(f"sample timestamp {ts.isoformat()} has no timezone; expected UTC")
    return ((ts - _EPOCH) // _ONE_US) * 1000


def _prefix(measurement: str, tags: Mapping[str, str]) -> str:
    key = (measurement, tuple(tags.items()))
    try:
        return _prefix_cache[key]
    except KeyError:
        pass
    parts = [escape_measurement(measurement)]
    for tag_key, tag_value in sorted(key[1]):
        value = str(tag_value)
        if value == "" or tag_key == "":
            continue
        parts.append(f"{escape_key(tag_key)}={escape_tag_value(value)}")
    prefix = ",".join(parts)
    if len(_prefix_cache) >= _PREFIX_CACHE_MAX:
        _prefix_cache.clear()
    _prefix_cache[key] = prefix
    return prefix


def _field_key(key: str) -> str:
    try:
        return _field_key_cache[key]
    except KeyError:
        escaped = _field_key_cache[key] = escape_key(key) + "="
        return escaped


def encode_fields(fields: Mapping[str, object]) -> str:
    """``in_bps=1.5,oper_status=1i,status="up"`` (empty if no field is encodable)."""
    out = []
    append = out.append
    for key, value in fields.items():
        cls = type(value)
        if cls is float:
            if not isfinite(value):  # type: ignore[arg-type]
                continue
            append(_field_key(key) + repr(value))
        elif cls is int:
            if _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
                append(f"{_field_key(key)}{value}i")
        elif cls is str:
            append(f'{_field_key(key)}"{value.translate(_ESC_STRING)}"')  # type: ignore[union-attr]
        elif cls is bool:
            append(_field_key(key) + ("true" if value else "false"))
        elif isinstance(value, int):
            if _INT64_MIN <= value <= _INT64_MAX:
                append(f"{_field_key(key)}{int(value)}i")
        elif isinstance(value, float):
            if isfinite(value):
                append(_field_key(key) + repr(float(value)))
        elif isinstance(value, str):
            append(f'{_field_key(key)}"{str(value).translate(_ESC_STRING)}"')
        else:
            raise TypeError(f"field {key!r} has unsupported type {cls.__name__}")
    return ",".join(out)


def encode(sample: Sample) -> str | None:
    """One sample -> one line (no trailing newline), or None if it has no encodable field."""
    fields = encode_fields(sample.fields)
    if not fields:
        return None
    return f"{_prefix(sample.measurement, sample.tags)} {fields} {timestamp_ns(sample.ts)}"


def encode_many(samples: Iterable[Sample]) -> list[str]:
    """Samples -> lines, in order; samples without an encodable field are skipped."""
    lines: list[str] = []
    append = lines.append
    last_ts: datetime | None = None
    last_ns = ""
    for sample in samples:
        fields = encode_fields(sample.fields)
        if not fields:
            continue
        ts = sample.ts
        if ts is not last_ts:
            last_ns = str(timestamp_ns(ts))
            last_ts = ts
        append(f"{_prefix(sample.measurement, sample.tags)} {fields} {last_ns}")
    return lines
