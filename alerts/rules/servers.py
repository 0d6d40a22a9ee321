"""Server rules: filesystem full.

Step: rates -> **alert engine (rules)** -> notifiers. Reads ``host`` samples
of hrStorageTable rows that are filesystems (fixed, network, removable,
flash or RAM disks; not RAM or swap), keyed by (device, storage).
Defaults: alerts/rules/datacentre.yaml.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from alerts.rules.shipped import DcOptions, DcOverride, DcRule, dc_labels, limit_from, shipped
from netmon.model import FILESYSTEM_STORAGE_TYPES, HOST, Sample
from netmon.plugins import register_rule
from netmon.units import Percent

__all__ = ["FilesystemFull"]


TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "filesystem_full": {
        "en": ("{storage} on {device} ({site}) {used_pct:.1f}% full, above {limit_from} "
               "{limit_pct:g}%",
               "{storage} on {device} at {site} ({tier}) uses {used} of {size} "
               "({used_pct:.1f}%), at or above {limit_from} {limit_pct:g}%; it resolves "
               "below {clear_pct:g}%."),
        "vi": ("{storage} trên {device} ({site}) đã đầy {used_pct:.1f}%, vượt {limit_from_vi} "
               "{limit_pct:g}%",
               "{storage} trên {device} tại {site} ({tier}) đã dùng {used} trên {size} "
               "({used_pct:.1f}%), từ {limit_from_vi} {limit_pct:g}% trở lên; hết cảnh báo "
               "khi dưới {clear_pct:g}%."),
    },
}


def size_text(n: float) -> str:
    for factor, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


class FilesystemOverride(DcOverride):
    threshold_pct: Percent | None = Field(None, alias="threshold")
    clear_below_pct: Percent | None = Field(None, alias="clear_below")


class FilesystemFullOptions(DcOptions):
    threshold_pct: Percent = Field(90.0, alias="threshold")
    clear_below_pct: Percent = Field(85.0, alias="clear_below")
    overrides: tuple[FilesystemOverride, ...] = ()  # type: ignore[assignment]


class FilesystemFull(DcRule):
    name: ClassVar[str] = "filesystem_full"
    measurement: ClassVar[str] = HOST
    key_tags: ClassVar[tuple[str, ...]] = ("storage",)
    templates = TEMPLATES

    def judge(self, s: Sample, opts: Any, key: tuple[str, ...]
              ) -> tuple[bool, float, dict[str, object]] | None:
        if s.tags.get("storage_type") not in FILESYSTEM_STORAGE_TYPES:
            return None
        used = s.fields.get("used_pct")
        if not isinstance(used, int | float):
            return None
        labels = dc_labels(self.name, "", s.tags, self.key_tags)
        firing, limit, clear, source = self.band(opts, labels, key, used, "threshold_pct",
                                                 "clear_below_pct")
        return firing, float(used), {
            "used_pct": float(used), "limit_pct": limit, "clear_pct": clear,
            "used": size_text(float(s.fields.get("used_bytes", 0))),
            "size": size_text(float(s.fields.get("size_bytes", 0))),
            **limit_from(source, "the limit", "ngưỡng", "the "),
        }


register_rule(FilesystemFull.name, shipped(FilesystemFullOptions, FilesystemFull.name),
              FilesystemFull)
