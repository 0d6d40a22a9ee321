"""Counter math: raw counter samples -> rates, utilisation and link status.

Step: collectors -> samples -> **rates** -> (storage sinks, alert engine).

Collectors hand over raw ``if_counters`` samples holding the MIB values as the
device reported them. This module keeps the previous reading per
(target, ifIndex) and turns two readings into honest per-second rates. Nothing
downstream ever sees a raw counter, so no database can compute a negative rate.

SNMP quirks handled here:

* A Counter64 that went down was reset, never wrapped: 2**64 octets take
  46 years at 100 Gbit/s. No speed test is needed to tell.
* A Counter32 that went down either wrapped or was reset without notice. The
  speed test tells them apart: a wrap whose implied rate exceeds 1.1 x the
  larger of the configured capacity and the reported port speed is a reset.
  Where the port speed is unknown or 0 there is no test: it is taken as a wrap.
* A 32-bit ifInOctets wraps in 28.6 s at 1.2 Gbit/s, so a missed wrap looks
  like a low rate; collectors prefer the HC (64-bit) columns for that reason.
* sysUpTime is TimeTicks (1/100 s) in 32 bits and rolls over every 497.1
  days. sysUpTime going backwards alone is *not* a reboot (an agent restart or
  the rollover): only sysUpTime backwards **and** counters backwards is.
* ifCounterDiscontinuityTime changing means the counters were reset (module
  swap, ``clear counters``): the delta across it is meaningless.
* The reported speed is often not the line rate: a sub-interface or tunnel
  reports its ``bandwidth`` statement, a bundle member or Net-SNMP's ``lo``
  (10 Mbit/s) reports less than it carries. Counters that rose are real
  traffic whatever the speed says: the rate is kept, and a rate above 1.1 x
  the reported speed raises a ``speed_mismatch`` poll issue naming both.

Any discontinuity yields no rate for that interval and a ``counter_reset``
event instead; the new reading becomes the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from netmon.model import COUNTER_RESET, IF_COUNTERS, INTERFACE, POLL_ISSUE, Sample

MAX_RATE_FACTOR = 1.1
"""A Counter32 wrap implying more than this multiple of the link's speed is a reset;
a kept rate above this multiple of the reported port speed is a ``speed_mismatch``."""

SPEED_MISMATCH = "speed_mismatch"

IF_SPEED_SATURATED = 2**32 - 1
"""RFC 2863: ifSpeed reports 4294967295 when the speed does not fit; read ifHighSpeed."""

OPER_UP = 1

_DEVICE_TAGS = ("device", "site", "tier", "province")  # the tags of device-level samples

# Error and discard columns exist only as Counter32 in IF-MIB.
_SMALL_COUNTERS = ("ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards")
_SMALL_RATE_NAMES = (
    "in_errors_per_s", "out_errors_per_s", "in_discards_per_s", "out_discards_per_s",
)


def counter_delta(previous: int, current: int, bits: int) -> int:
    """Increase of a ``bits``-wide counter from ``previous`` to ``current``.

    A counter that went down wrapped exactly once (the caller rules out
    resets): the distance is taken modulo 2**bits, so Counter32 4294967290 ->
    5 is an increase of 11.
    """
    return (current - previous) % (1 << bits)


def port_speed_bps(if_high_speed: int | None, if_speed: int | None) -> int | None:
    """The port speed a device reports, or None when it does not say.

    ifHighSpeed is in Mbit/s and wins when non-zero. ifSpeed (bit/s) is used
    when ifHighSpeed is absent or 0, unless it is saturated at 2**32-1. Some
    agents wrongly put bit/s into ifHighSpeed (1000000000 for a 1G port):
    a value equal to a non-zero ifSpeed is taken as bit/s.
    """
    if if_high_speed:
        if if_speed and if_high_speed == if_speed and if_high_speed >= 10**6:
            return if_speed
        return if_high_speed * 1_000_000
    if if_speed and if_speed != IF_SPEED_SATURATED:
        return if_speed
    return None


def link_status(
    oper_status: int | None, util_pct: float | None, threshold_pct: float
) -> str:
    """``down`` / ``unknown`` / ``over_threshold`` / ``ok`` for one link reading."""
    if oper_status is not None and oper_status != OPER_UP:
        return "down"
    if util_pct is None or oper_status is None:
        return "unknown"
    if util_pct >= threshold_pct:
        return "over_threshold"
    return "ok"


@dataclass(slots=True)
class Reading:
    """One interface's counters at one instant, as the rate math needs them."""

    ts: float
    uptime_cs: int | None
    discontinuity: int | None
    bits: int
    in_octets: int
    out_octets: int
    small: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class Rates:
    in_bps: float
    out_bps: float
    small_per_s: tuple[float | None, ...]


def _mbps(bps: float) -> str:
    return f"{bps / 1e6:.1f} Mbit/s"


def assess(
    previous: Reading,
    current: Reading,
    speed_bps: int | None,
    capacity_bps: int | None = None,
) -> Rates | str:
    """Rates between two readings, or the reason there is no honest rate.

    ``speed_bps`` is the port speed the device reports (None or 0: unknown),
    ``capacity_bps`` the configured circuit capacity. A string result names
    the discontinuity; the caller records it as a ``counter_reset`` event.
    """
    dt = current.ts - previous.ts
    if dt <= 0:
        return f"answer time did not advance ({dt:.3f} s)"
    if current.bits != previous.bits:
        return f"counter width changed from {previous.bits} to {current.bits} bits"
    if (
        previous.discontinuity is not None
        and current.discontinuity is not None
        and current.discontinuity != previous.discontinuity
    ):
        return "ifCounterDiscontinuityTime changed"
    in_back = current.in_octets < previous.in_octets
    out_back = current.out_octets < previous.out_octets
    if (
        (in_back or out_back)
        and previous.uptime_cs is not None
        and current.uptime_cs is not None
        and current.uptime_cs < previous.uptime_cs
    ):
        # sysUpTime going back on its own is the 497-day rollover or an agent
        # restart; with the counters going back too, the device restarted.
        return "device restarted (sysUpTime and counters went backwards)"
    if (in_back or out_back) and current.bits == 64:
        return "64-bit counter went backwards (a reset: Counter64 does not wrap)"
    d_in = counter_delta(previous.in_octets, current.in_octets, current.bits)
    d_out = counter_delta(previous.out_octets, current.out_octets, current.bits)
    in_bps = d_in * 8 / dt
    out_bps = d_out * 8 / dt
    if speed_bps and (in_back or out_back):
        # Counter32 went down: a wrap, unless the wrap implies more than the
        # link can carry. The larger figure is the bound: the reported speed may
        # be a sub-interface's bandwidth statement, the configured capacity a
        # contract below the port's line rate.
        bound = max(speed_bps, capacity_bps or 0)
        wrapped = max(in_bps if in_back else 0.0, out_bps if out_back else 0.0)
        if wrapped > MAX_RATE_FACTOR * bound:
            return (
                f"32-bit counter went backwards; as a wrap it would imply {_mbps(wrapped)}, "
                f"over {MAX_RATE_FACTOR} x {_mbps(bound)}"
            )
    small: list[float | None] = []
    for before, now in zip(previous.small, current.small, strict=True):
        if before is None or now is None:
            small.append(None)
        else:
            small.append(counter_delta(before, now, 32) / dt)
    return Rates(in_bps, out_bps, tuple(small))


def speed_mismatch(
    name: str, rates: Rates, speed_bps: int | None, capacity_bps: int | None = None
) -> str | None:
    """The ``speed_mismatch`` issue text when a kept rate exceeds the reported port speed."""
    if not speed_bps:
        return None
    rate = max(rates.in_bps, rates.out_bps)
    if rate <= MAX_RATE_FACTOR * speed_bps:
        return None
    advice = "" if capacity_bps else " (set the link's capacity: to its real rate)"
    return (
        f"{SPEED_MISMATCH}: {name} carries {_mbps(rate)}, above its reported port speed of "
        f"{_mbps(speed_bps)}; the rate is kept{advice}"
    )


def _int_field(fields: Mapping[str, object], name: str) -> int | None:
    value = fields.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reading_from(sample: Sample) -> Reading | None:
    """Extract a Reading from a raw ``if_counters`` sample; None if it has no octet counters."""
    f = sample.fields
    if "ifHCInOctets" in f and "ifHCOutOctets" in f:
        bits, in_name, out_name = 64, "ifHCInOctets", "ifHCOutOctets"
    elif "ifInOctets" in f and "ifOutOctets" in f:
        bits, in_name, out_name = 32, "ifInOctets", "ifOutOctets"
    else:
        return None
    in_octets = _int_field(f, in_name)
    out_octets = _int_field(f, out_name)
    if in_octets is None or out_octets is None:
        return None
    return Reading(
        ts=sample.ts.timestamp(),
        uptime_cs=_int_field(f, "sysUpTime"),
        discontinuity=_int_field(f, "ifCounterDiscontinuityTime"),
        bits=bits,
        in_octets=in_octets,
        out_octets=out_octets,
        small=tuple(_int_field(f, name) for name in _SMALL_COUNTERS),
    )


class RateEngine:
    """Keeps the previous reading per (target, ifIndex) and derives rates.

    ``process`` passes every sample that is not a raw ``if_counters`` sample
    through unchanged, so the sinks and rules downstream see one stream.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], Reading] = {}
        # The speed_mismatch text per interface, fixed while the mismatch lasts so
        # that the daemon (which logs and stores issues when they change) does
        # not see a new issue every cycle as the rate moves.
        self._mismatch: dict[tuple[str, str], str] = {}

    def forget(self, target: str) -> None:
        """Drop the rate state of a target (removed or changed on reload)."""
        for key in [k for k in self._state if k[0] == target]:
            del self._state[key]
        for key in [k for k in self._mismatch if k[0] == target]:
            del self._mismatch[key]

    def targets(self) -> set[str]:
        return {k[0] for k in self._state}

    def expire(self, older_than: float) -> int:
        """Drop readings taken before ``older_than`` (unix time): interfaces that
        vanished or were renumbered would otherwise be kept for ever. Returns how many."""
        stale = [k for k, r in self._state.items() if r.ts < older_than]
        for key in stale:
            del self._state[key]
            self._mismatch.pop(key, None)
        return len(stale)

    def process(self, samples: Iterable[Sample], slot: datetime | None = None) -> list[Sample]:
        """Turn raw samples into derived ones.

        Rates use when the device answered (``Sample.ts`` of the raw sample);
        the derived samples are stamped with ``slot`` when given, so two
        pollers of the same slot write identical points.
        """
        out: list[Sample] = []
        for sample in samples:
            if sample.measurement != IF_COUNTERS:
                out.append(sample)
                continue
            out.extend(self._interface(sample, slot))
        return out

    def _interface(self, raw: Sample, slot: datetime | None) -> Sequence[Sample]:
        f = raw.fields
        tags = {k: v for k, v in raw.tags.items() if k != "ifIndex"}
        key = (raw.target, raw.tags.get("ifIndex", ""))
        ts = slot or raw.ts
        speed = port_speed_bps(_int_field(f, "ifHighSpeed"), _int_field(f, "ifSpeed"))
        configured = _int_field(f, "capacity_cfg_bps")
        capacity = configured or speed
        oper = _int_field(f, "ifOperStatus")
        threshold = f.get("threshold_pct", 50.0)
        threshold = float(threshold) if isinstance(threshold, int | float) else 50.0

        fields: dict[str, float | int | str | bool] = {}
        for name, out_name in (
            ("ifIndex", "ifIndex"),
            ("ifOperStatus", "oper_status"),
            ("ifAdminStatus", "admin_status"),
        ):
            value = _int_field(f, name)
            if value is not None:
                fields[out_name] = value
        alias = f.get("ifAlias")
        if isinstance(alias, str) and alias:
            fields["ifAlias"] = alias
        if capacity:
            fields["capacity_bps"] = capacity
        fields["threshold_pct"] = threshold

        current = reading_from(raw)
        events: list[Sample] = []
        util: float | None = None
        if current is not None:
            fields["counter_bits"] = current.bits
            previous = self._state.get(key)
            self._state[key] = current
            if previous is not None:
                result = assess(previous, current, speed, configured)
                if isinstance(result, Rates):
                    mismatch = speed_mismatch(raw.tags.get("ifName", key[1]), result, speed,
                                              configured)
                    if mismatch is None:
                        self._mismatch.pop(key, None)
                    else:
                        events.append(Sample(
                            target=raw.target,
                            measurement=POLL_ISSUE,
                            tags={k: v for k, v in tags.items() if k in _DEVICE_TAGS},
                            fields={"message": self._mismatch.setdefault(key, mismatch)},
                            ts=ts,
                        ))
                    fields["in_bps"] = result.in_bps
                    fields["out_bps"] = result.out_bps
                    for name, value in zip(_SMALL_RATE_NAMES, result.small_per_s, strict=True):
                        if value is not None:
                            fields[name] = value
                    if capacity:
                        util_in = result.in_bps * 100.0 / capacity
                        util_out = result.out_bps * 100.0 / capacity
                        util = max(util_in, util_out)
                        fields["util_in_pct"] = util_in
                        fields["util_out_pct"] = util_out
                        fields["util_pct"] = util
                else:
                    events.append(
                        Sample(
                            target=raw.target,
                            measurement=COUNTER_RESET,
                            tags=tags,
                            fields={"reason": result, "ifIndex": fields.get("ifIndex", 0)},
                            ts=ts,
                        )
                    )
        fields["status"] = link_status(oper, util, threshold)
        return [Sample(raw.target, INTERFACE, tags, fields, ts), *events]
