"""Alert annotations in English and Vietnamese, showing the values that fired the alert.

Step: rates -> **alert engine (rules)** -> notifiers. Each rule renders its
``summary`` and ``description`` here, in the language of ``alerts.language``.
``{for}`` is left in place for the engine (how long the condition has held).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["TEMPLATES", "bandwidth", "duration", "render"]

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "link_utilisation_high": {
        "en": ("{link}{plane_text} at {util_pct:.1f}% of {capacity} for {for}",
               "{device} {ifName} ({site}, {tier}) carries {util_pct:.1f}% of its {capacity} "
               "circuit (threshold {threshold_pct:g}%, clears below {clear_pct:g}%): "
               "in {in_rate}, out {out_rate}."),
        "vi": ("{link}{plane_text} đạt {util_pct:.1f}% của {capacity} trong {for}",
               "{device} {ifName} ({site}, {tier}) đang dùng {util_pct:.1f}% băng thông "
               "{capacity} (ngưỡng {threshold_pct:g}%, hết cảnh báo khi dưới {clear_pct:g}%): "
               "vào {in_rate}, ra {out_rate}."),
    },
    "link_down": {
        "en": ("{link}{plane_text} on {device} is down for {for}",
               "{device} {ifName} ({site}, {tier}) reports ifOperStatus {oper} while "
               "ifAdminStatus is up."),
        "vi": ("{link}{plane_text} trên {device} bị mất kết nối trong {for}",
               "{device} {ifName} ({site}, {tier}) báo ifOperStatus {oper} trong khi "
               "ifAdminStatus là up."),
    },
    "device_unreachable": {
        "en": ("{device} ({site}) unreachable: {failed} polls in a row failed",
               "{device} at {site} ({tier}) has not answered {failed} polls in a row. "
               "Last error: {error}"),
        "vi": ("{device} ({site}) không liên lạc được: {failed} lần thăm dò liên tiếp thất bại",
               "{device} tại {site} ({tier}) không trả lời {failed} lần thăm dò liên tiếp. "
               "Lỗi gần nhất: {error}"),
    },
    "plane_redundancy_lost": {
        "en": ("{site} lost all plane {plane} links ({lost} of {total}) for {for}",
               "Site {site} has links on planes A and B, and every plane {plane} link is down "
               "({links}). Its traffic depends on plane {other} alone."),
        "vi": ("{site} mất toàn bộ liên kết plane {plane} ({lost}/{total}) trong {for}",
               "Trạm {site} có liên kết trên cả plane A và plane B, và mọi liên kết plane "
               "{plane} đều mất kết nối ({links}). Lưu lượng chỉ còn dựa vào plane {other}."),
    },
    "failover_headroom_low": {
        "en": ("{site} planes A+B carry {load} = {load_pct:.1f}% of the smaller plane's "
               "{capacity} for {for}",
               "If one plane fails, the other ({capacity}) must carry {load}: {load_pct:.1f}% "
               "against the {threshold_pct:g}% threshold. Plane A {a_load} of {a_capacity}, "
               "plane B {b_load} of {b_capacity}."),
        "vi": ("{site}: plane A+B mang {load} = {load_pct:.1f}% dung lượng plane nhỏ hơn "
               "({capacity}) trong {for}",
               "Nếu một plane hỏng, plane còn lại ({capacity}) phải mang {load}: "
               "{load_pct:.1f}% so với ngưỡng {threshold_pct:g}%. Plane A {a_load}/{a_capacity}, "
               "plane B {b_load}/{b_capacity}."),
    },
    "counter_anomaly": {
        "en": ("{link} on {device}: {count} counter resets within {window}",
               "{device} {ifName} ({site}) reset its counters {count} times within {window} "
               "({reasons}); there is no rate across a reset."),
        "vi": ("{link} trên {device}: bộ đếm bị đặt lại {count} lần trong {window}",
               "{device} {ifName} ({site}) đặt lại bộ đếm {count} lần trong {window} "
               "({reasons}); không có số liệu tốc độ qua mỗi lần đặt lại."),
    },
    "spool_backlog": {
        "en": ("Storage spool of {sink} holds points {age} old ({depth} points)",
               "The oldest point waiting in the spool is {age} old (limit {max_age}): the "
               "database has not taken writes since. Last error: {error}"),
        "vi": ("Hàng đợi lưu trữ của {sink} giữ dữ liệu cũ {age} ({depth} điểm)",
               "Điểm cũ nhất trong hàng đợi đã {age} (giới hạn {max_age}): cơ sở dữ liệu "
               "không nhận dữ liệu từ đó. Lỗi gần nhất: {error}"),
    },
}

_PLANE = {"en": " plane {}", "vi": " plane {}"}


class _Keep(dict[str, object]):
    """format_map that leaves unknown fields (``{for}``) for the engine."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(rule: str, language: str, values: Mapping[str, object],
           templates: Mapping[str, Mapping[str, tuple[str, str]]] = TEMPLATES) -> dict[str, str]:
    """``{"summary": ..., "description": ...}`` for ``rule`` in ``language`` (English fallback)."""
    by_lang = templates[rule]
    summary, description = by_lang.get(language) or by_lang["en"]
    fields = _Keep(values)
    plane = values.get("plane")
    if "plane_text" not in fields:
        fields["plane_text"] = _PLANE.get(language, _PLANE["en"]).format(plane) if plane else ""
    return {"summary": summary.format_map(fields), "description": description.format_map(fields)}


def bandwidth(bps: float | None) -> str:
    """400000000 -> '400 Mbit/s', 1.2e9 -> '1.2 Gbit/s'."""
    if bps is None:
        return "?"
    for factor, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if abs(bps) >= factor:
            return f"{bps / factor:.3g} {unit}"
    return f"{bps:.0f} bit/s"


def duration(seconds: float) -> str:
    """420 -> '7m', 5400 -> '1h30m', 42 -> '42s'."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"
