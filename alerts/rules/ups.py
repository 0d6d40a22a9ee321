"""UPS rules: on battery, battery low, runtime low, overload, on bypass, self-test, alarms.

Step: rates -> **alert engine (rules)** -> notifiers. They read ``ups``
samples, whose fields are the same whichever MIB answered (UPS-MIB or APC
PowerNet; see the README's schema), and judge one UPS each, keyed by device
(``ups_alarm``: by device and alarm). Defaults: alerts/rules/datacentre.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from alerts.rule import RuleOptions
from alerts.rules.shipped import (
    DcOptions,
    DcOverride,
    DcRule,
    dc_labels,
    limit_from,
    number,
    shipped,
)
from alerts.templates import duration, render
from netmon.model import UPS, Observation, Sample
from netmon.plugins import register_rule
from netmon.units import Duration, Percent

__all__ = ["UpsAlarm", "UpsBatteryLow", "UpsOnBattery", "UpsOnBypass", "UpsOverload",
           "UpsRuntimeLow", "UpsSelfTestFailed"]

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "ups_on_battery": {
        "en": ("UPS {device} ({site}) on battery for {on_battery}, {runtime} runtime left",
               "{device} at {site} ({tier}) runs its load from the battery: output source "
               "{source}, on battery for {on_battery}, estimated runtime {runtime}, charge "
               "{charge}."),
        "vi": ("UPS {device} ({site}) đang chạy bằng ắc quy {on_battery}, còn {runtime}",
               "{device} tại {site} ({tier}) đang cấp điện cho tải từ ắc quy: nguồn ra "
               "{source_vi}, chạy ắc quy {on_battery}, thời gian còn lại ước tính {runtime}, "
               "dung lượng {charge}."),
    },
    "ups_battery_low": {
        "en": ("UPS {device} ({site}) battery {status}: {runtime} runtime left",
               "{device} at {site} reports battery status {status} (charge {charge}, "
               "estimated runtime {runtime}, output source {source})."),
        "vi": ("Ắc quy UPS {device} ({site}) {status_vi}: còn {runtime}",
               "{device} tại {site} báo trạng thái ắc quy {status_vi} (dung lượng {charge}, "
               "thời gian còn lại ước tính {runtime}, nguồn ra {source_vi})."),
    },
    "ups_runtime_low": {
        "en": ("UPS {device} ({site}): {runtime} runtime left, below the {limit_from} {floor}",
               "{device} at {site} estimates {runtime} of runtime, below the {limit_from} "
               "{floor} (resolves at {clear}); output source {source}, load {load}."),
        "vi": ("UPS {device} ({site}): chỉ còn {runtime}, dưới {limit_from_vi} {floor}",
               "{device} tại {site} ước tính còn {runtime}, dưới {limit_from_vi} {floor} "
               "(hết cảnh báo khi đạt {clear}); nguồn ra {source_vi}, tải {load}."),
    },
    "ups_overload": {
        "en": ("UPS {device} ({site}) output load {load_pct:g}% above the {limit_from} "
               "{limit_pct:g}%",
               "{device} at {site} carries {load_pct:g}% of its rated output on its most "
               "loaded line, at or above the {limit_from} {limit_pct:g}% (resolves below "
               "{clear_pct:g}%)."),
        "vi": ("UPS {device} ({site}) tải đầu ra {load_pct:g}% vượt {limit_from_vi} "
               "{limit_pct:g}%",
               "{device} tại {site} đang mang {load_pct:g}% công suất định mức trên pha tải "
               "cao nhất, từ {limit_from_vi} {limit_pct:g}% trở lên (hết cảnh báo khi dưới "
               "{clear_pct:g}%)."),
    },
    "ups_on_bypass": {
        "en": ("UPS {device} ({site}) on bypass: the load is not protected",
               "{device} at {site} feeds its load through the bypass: a mains failure now "
               "drops the load."),
        "vi": ("UPS {device} ({site}) đang chạy bypass: tải không được bảo vệ",
               "{device} tại {site} cấp điện cho tải qua bypass: nếu mất điện lưới, tải sẽ "
               "mất nguồn."),
    },
    "ups_self_test_failed": {
        "en": ("UPS {device} ({site}) failed its last self-test",
               "{device} at {site} reports its last self-test as {result}. {detail}"),
        "vi": ("UPS {device} ({site}) tự kiểm tra thất bại",
               "{device} tại {site} báo kết quả tự kiểm tra gần nhất: {result}. {detail}"),
    },
    "ups_alarm": {
        "en": ("UPS {device} ({site}) alarm: {alarm}",
               "{device} at {site} has {alarms_present} alarm(s) present: {alarms}."),
        "vi": ("UPS {device} ({site}) báo động: {alarm}",
               "{device} tại {site} đang có {alarms_present} báo động: {alarms}."),
    },
}

STATUS_VI = {"low": "yếu", "depleted": "cạn", "fault": "lỗi"}
SOURCE_VI = {"normal": "lưới điện", "battery": "ắc quy", "bypass": "bypass",
             "booster": "tăng áp", "reducer": "giảm áp", "none": "không có", "other": "khác"}


def _context(s: Sample) -> dict[str, object]:
    runtime = number(s.fields, "runtime_s")
    charge = number(s.fields, "charge_pct")
    load = number(s.fields, "output_load_pct")
    return {
        "runtime": duration(runtime) if runtime is not None else "?",
        "on_battery": duration(number(s.fields, "on_battery_s") or 0.0),
        "charge": f"{charge:g}%" if charge is not None else "?",
        "load": f"{load:g}%" if load is not None else "?",
        "source": s.fields.get("output_source", "?"),
        "source_vi": SOURCE_VI.get(str(s.fields.get("output_source")), "?"),
    }


class _UpsRule(DcRule):
    measurement: ClassVar[str] = UPS
    templates = TEMPLATES


class UpsOnBatteryOptions(DcOptions):
    pass


class UpsOnBattery(_UpsRule):
    """The output source is the battery (mains lost, or the rectifier failed)."""

    name: ClassVar[str] = "ups_on_battery"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        source = s.fields.get("output_source")
        if source is None:
            return None
        return source == "battery", number(s.fields, "on_battery_s") or 0.0, _context(s)


class UpsBatteryLow(_UpsRule):
    """Battery status low or depleted, as the UPS itself judges it."""

    name: ClassVar[str] = "ups_battery_low"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        status = s.fields.get("battery_status")
        if status is None:
            return None
        charge = number(s.fields, "charge_pct")
        return (status in ("low", "depleted"), charge if charge is not None else -1.0,
                {**_context(s), "status": status, "status_vi": STATUS_VI.get(str(status),
                                                                              status)})


class RuntimeOverride(DcOverride):
    floor_s: Duration | None = Field(None, alias="floor")
    clear_above_s: Duration | None = Field(None, alias="clear_above")


class UpsRuntimeLowOptions(RuleOptions):
    floor_s: Duration = Field(600.0, alias="floor")
    clear_above_s: Duration = Field(720.0, alias="clear_above")
    overrides: tuple[RuntimeOverride, ...] = ()  # type: ignore[assignment]


class UpsRuntimeLow(_UpsRule):
    """Estimated runtime below the floor; resolves at or above ``clear_above``."""

    name: ClassVar[str] = "ups_runtime_low"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        runtime = number(s.fields, "runtime_s")
        if runtime is None:
            return None
        if (runtime == 0 and s.fields.get("output_source") == "normal"
                and s.fields.get("battery_status") == "normal"):
            # Several agents (EastPower, Phoenixtec) answer 0 minutes on mains with a
            # full, normal battery: "not estimated", not "no runtime".
            return None
        labels = dc_labels(self.name, opts.severity, s.tags)
        firing, floor, clear, source = self.band(opts, labels, key, runtime, "floor_s",
                                                 "clear_above_s", rising=False)
        return firing, runtime, {**_context(s), "floor": duration(floor),
                                 "clear": duration(clear),
                                 **limit_from(source, "floor", "mức tối thiểu")}


class OverloadOverride(DcOverride):
    threshold_pct: Percent | None = Field(None, alias="threshold")
    clear_below_pct: Percent | None = Field(None, alias="clear_below")


class UpsOverloadOptions(RuleOptions):
    threshold_pct: Percent = Field(80.0, alias="threshold")
    clear_below_pct: Percent = Field(75.0, alias="clear_below")
    overrides: tuple[OverloadOverride, ...] = ()  # type: ignore[assignment]


class UpsOverload(_UpsRule):
    """Output load (the most loaded line) at or above the threshold."""

    name: ClassVar[str] = "ups_overload"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        load = number(s.fields, "output_load_pct")
        if load is None:
            return None
        labels = dc_labels(self.name, opts.severity, s.tags)
        firing, limit, clear, source = self.band(opts, labels, key, load, "threshold_pct",
                                                 "clear_below_pct")
        return firing, load, {**_context(s), "load_pct": load, "limit_pct": limit,
                              "clear_pct": clear,
                              **limit_from(source, "limit", "ngưỡng")}


class UpsOnBypass(_UpsRule):
    name: ClassVar[str] = "ups_on_bypass"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        source = s.fields.get("output_source")
        if source is None:
            return None
        return source == "bypass", 1.0 if source == "bypass" else 0.0, _context(s)


class UpsSelfTestFailed(_UpsRule):
    """The last self-test ended in error (a warning result is shown in reports only)."""

    name: ClassVar[str] = "ups_self_test_failed"

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        result = s.fields.get("self_test")
        if result is None or result == "in_progress":
            return None  # a test running says nothing yet about the last one
        return result == "error", 1.0 if result == "error" else 0.0, {
            **_context(s), "result": result, "detail": s.fields.get("self_test_detail", "")}


class UpsAlarmOptions(DcOptions):
    ignore: tuple[str, ...] = ()
    """Alarm names (upsWellKnownAlarms) not raised here: those with a rule of their own."""


class UpsAlarm(_UpsRule):
    """Each alarm present in the UPS's alarm table, named; one alert per alarm."""

    name: ClassVar[str] = "ups_alarm"
    options: UpsAlarmOptions

    def __init__(self, options: UpsAlarmOptions) -> None:
        super().__init__(options)
        self._present: dict[str, set[str]] = {}

    def evaluate(self, samples: Sequence[Sample]) -> list[Observation]:
        out: list[Observation] = []
        for s in samples:
            if s.measurement != UPS or "alarms" not in s.fields:
                continue
            base = dc_labels(self.name, self.options.severity, s.tags)
            opts: UpsAlarmOptions = self.options_for((s.target,), base)  # type: ignore[assignment]
            if not opts.enabled:
                continue
            names = [a for a in str(s.fields["alarms"]).split(",") if a]
            present = {a for a in names if a not in opts.ignore}
            # An alarm that left the table is judged (cleared); the rest are not in the samples.
            judged = present | self._present.get(s.target, set())
            self._present[s.target] = present
            for alarm in sorted(judged):
                key = (s.target, alarm)
                firing = alarm in present
                if not self.report.should_report(key, firing):
                    continue
                labels = {**base, "severity": opts.severity, "alarm": alarm}
                annotations: dict[str, str] = {}
                if firing:
                    annotations = render(self.name, self.language, {
                        **s.tags, "device": s.target, "alarm": alarm,
                        "alarms_present": s.fields.get("alarms_present", len(names)),
                        "alarms": ", ".join(names)}, TEMPLATES)
                out.append(Observation(self.name, key, labels, firing, 1.0 if firing else 0.0,
                                       s.ts, annotations))
        return out


register_rule(UpsOnBattery.name, shipped(UpsOnBatteryOptions, "ups_on_battery"), UpsOnBattery)
register_rule(UpsBatteryLow.name, shipped(UpsOnBatteryOptions, "ups_battery_low"),
              UpsBatteryLow)
register_rule(UpsRuntimeLow.name, shipped(UpsRuntimeLowOptions, "ups_runtime_low"),
              UpsRuntimeLow)
register_rule(UpsOverload.name, shipped(UpsOverloadOptions, "ups_overload"), UpsOverload)
register_rule(UpsOnBypass.name, shipped(UpsOnBatteryOptions, "ups_on_bypass"), UpsOnBypass)
register_rule(UpsSelfTestFailed.name, shipped(UpsOnBatteryOptions, "ups_self_test_failed"),
              UpsSelfTestFailed)
register_rule(UpsAlarm.name, shipped(UpsAlarmOptions, "ups_alarm"), UpsAlarm)
