"""Environment rules: temperature high, humidity out of range, sensor fault.

Step: rates -> **alert engine (rules)** -> notifiers. They read ``sensor``
samples and judge one sensor each, keyed by (device, sensor, kind).

The limit comes from the device first (an AKCP probe's high warning, an APC
PDU's configured threshold: the sample's ``high_warning_c`` ... with
``limits_from``), else from the configuration (``high:``/``low:`` of the
rule, per tier, site, device or sensor through ``overrides:``). A sensor
with neither is not judged: netmon never derives a limit from the values it
sees. Defaults: alerts/rules/datacentre.yaml.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from alerts.rule import RuleOptions
from alerts.rules.shipped import (
    DcOptions,
    DcOverride,
    DcRule,
    configured,
    dc_labels,
    limit_from,
    number,
    shipped,
)
from netmon.model import SENSOR, SENSOR_KINDS, Sample, sensor_field
from netmon.plugins import register_rule

__all__ = ["HumidityOutOfRange", "SensorFault", "TemperatureHigh"]

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "temperature_high": {
        "en": ("{sensor} on {device} ({site}): {value:g} °C above {limit_from} {limit:g} °C",
               "{sensor} on {device} at {site} ({tier}) reads {value:g} °C, at or above "
               "{limit_from} {limit:g} °C; it resolves below {clear:g} °C."),
        "vi": ("{sensor} trên {device} ({site}): {value:g} °C vượt {limit_from_vi} {limit:g} °C",
               "{sensor} trên {device} tại {site} ({tier}) đo được {value:g} °C, từ "
               "{limit_from_vi} {limit:g} °C trở lên; hết cảnh báo khi dưới {clear:g} °C."),
    },
    "humidity_out_of_range": {
        "en": ("{sensor} on {device} ({site}): {value:g} %RH {side} {limit_from} {limit:g} %RH",
               "{sensor} on {device} at {site} ({tier}) reads {value:g} %RH, {side} "
               "{limit_from} {limit:g} %RH; it resolves back inside by {hysteresis:g} %RH."),
        "vi": ("{sensor} trên {device} ({site}): {value:g} %RH {side_vi} {limit_from_vi} "
               "{limit:g} %RH",
               "{sensor} trên {device} tại {site} ({tier}) đo được {value:g} %RH, {side_vi} "
               "{limit_from_vi} {limit:g} %RH; hết cảnh báo khi trở lại trong ngưỡng "
               "{hysteresis:g} %RH."),
    },
    "sensor_fault": {
        "en": ("{kind} sensor {sensor} on {device} ({site}) reports a fault",
               "The {kind} sensor {sensor} on {device} at {site} reports status {status}: "
               "its readings cannot be trusted and its alerts cannot fire."),
        "vi": ("Cảm biến {kind_vi} {sensor} trên {device} ({site}) báo lỗi",
               "Cảm biến {kind_vi} {sensor} trên {device} tại {site} báo trạng thái {status}: "
               "không tin được số đo và không thể cảnh báo từ cảm biến này."),
    },
}

KIND_VI = {"temperature": "nhiệt độ", "humidity": "độ ẩm", "voltage": "điện áp",
           "current": "dòng điện", "power": "công suất", "frequency": "tần số", "fan": "quạt",
           "airflow": "luồng gió", "contact": "tiếp điểm", "other": "khác"}

# Who set a device's limits (the sample's limits_from) -> how the annotation names them.
DEVICE_SOURCES = {
    "probe": ("the probe's {which}", "ngưỡng {which_vi} của đầu dò"),
    "pdu": ("the PDU's {which}", "ngưỡng {which_vi} của PDU"),
}
WHICH = {
    "high_warning": ("high warning", "cảnh báo cao"),
    "high_critical": ("high critical", "nguy hiểm cao"),
    "low_warning": ("low warning", "cảnh báo thấp"),
    "low_critical": ("low critical", "nguy hiểm thấp"),
}


def device_limit(s: Sample, kind: str, side: str) -> tuple[float | None, dict[str, str]]:
    """The device's own warning limit on ``side`` (high/low), else its critical one."""
    who = str(s.fields.get("limits_from", "")) or "probe"
    for level in (f"{side}_warning", f"{side}_critical"):
        value = number(s.fields, sensor_field(kind, level))
        if value is not None:
            en, vi = DEVICE_SOURCES.get(who, ("the device's {which}", "ngưỡng {which_vi} "
                                                                      "của thiết bị"))
            which, which_vi = WHICH[level]
            return value, {"limit_from": en.format(which=which),
                           "limit_from_vi": vi.format(which_vi=which_vi)}
    return None, {}


def config_limit(opts: RuleOptions, labels: dict[str, str], attr: str
                 ) -> tuple[float | None, dict[str, str]]:
    value, source = configured(opts, labels, attr)
    if value is None:
        return None, {}
    return value, limit_from(source, "the configured limit", "ngưỡng cấu hình", "the ")


class _SensorRule(DcRule):
    measurement: ClassVar[str] = SENSOR
    key_tags: ClassVar[tuple[str, ...]] = ("sensor", "kind")
    templates = TEMPLATES


class TemperatureOverride(DcOverride):
    high: float | None = None
    hysteresis: float | None = Field(None, ge=0)


class TemperatureHighOptions(RuleOptions):
    high: float | None = None
    """°C; used only for sensors without a limit of their own."""
    hysteresis: float = Field(1.0, ge=0)
    overrides: tuple[TemperatureOverride, ...] = ()  # type: ignore[assignment]


class TemperatureHigh(_SensorRule):
    name: ClassVar[str] = "temperature_high"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        if s.tags.get("kind") != "temperature":
            return None
        value = number(s.fields, "temperature_c")
        if value is None or s.fields.get("status") == "fault":
            return None  # a failed sensor is sensor_fault's business
        limit, source = device_limit(s, "temperature", "high")
        if limit is None:
            limit, source = config_limit(opts, dc_labels(self.name, "", s.tags, self.key_tags),
                                         "high")
        if limit is None:
            return None
        clear = limit - opts.hysteresis
        firing = value >= limit or (self.report.was_firing(key) and value >= clear)
        return firing, value, {"value": value, "limit": limit, "clear": clear, **source}


class HumidityOverride(DcOverride):
    low: float | None = None
    high: float | None = None
    hysteresis: float | None = Field(None, ge=0)


class HumidityOptions(RuleOptions):
    low: float | None = None
    high: float | None = None
    hysteresis: float = Field(2.0, ge=0)
    overrides: tuple[HumidityOverride, ...] = ()  # type: ignore[assignment]


class HumidityOutOfRange(_SensorRule):
    """Relative humidity above the high limit or below the low one (each side: the
    device's own limit first, else the configured one)."""

    name: ClassVar[str] = "humidity_out_of_range"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        if s.tags.get("kind") != "humidity":
            return None
        value = number(s.fields, sensor_field("humidity"))
        if value is None or s.fields.get("status") == "fault":
            return None
        labels = dc_labels(self.name, "", s.tags, self.key_tags)
        sides: dict[str, tuple[float, dict[str, str]]] = {}
        for side in ("high", "low"):
            limit, source = device_limit(s, "humidity", side)
            if limit is None:
                limit, source = config_limit(opts, labels, side)
            if limit is not None:
                sides[side] = (limit, source)
        if not sides:
            return None
        was = self.report.was_firing(key)
        h = opts.hysteresis
        for side, (limit, source) in sides.items():
            if side == "high":
                firing = value >= limit or (was and value >= limit - h)
            else:
                firing = value <= limit or (was and value <= limit + h)
            if firing:
                return True, value, {
                    "value": value, "limit": limit, "hysteresis": h, **source,
                    "side": "above" if side == "high" else "below",
                    "side_vi": "trên" if side == "high" else "dưới"}
        return False, value, {}


class SensorFault(_SensorRule):
    """The device says the sensor itself failed (AKCP sensorError, ENTITY-SENSOR
    nonoperational)."""

    name: ClassVar[str] = "sensor_fault"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        status = s.fields.get("status")
        if status is None:
            return None
        # Only a sensor the device calls broken: ENTITY-SENSOR's "unavailable" (cannot
        # read it now) is common for unpopulated or unreadable sensors and is not paged.
        firing = status == "fault"
        kind = s.tags.get("kind", "")
        kind = kind if kind in SENSOR_KINDS else "other"
        return firing, 1.0 if firing else 0.0, {
            "status": status, "kind": kind, "kind_vi": KIND_VI.get(kind, kind)}


class SensorFaultOptions(DcOptions):
    pass


register_rule(TemperatureHigh.name, shipped(TemperatureHighOptions, TemperatureHigh.name),
              TemperatureHigh)
register_rule(HumidityOutOfRange.name, shipped(HumidityOptions, HumidityOutOfRange.name),
              HumidityOutOfRange)
register_rule(SensorFault.name, shipped(SensorFaultOptions, SensorFault.name), SensorFault)
