"""Human units in YAML (``400M``, ``1.2G``, ``30s``, ``50%``) -> numbers with a unit in the name.

Step: YAML. Used by the config models as pydantic annotated types, so a bad
value fails validation with a message that shows the engineer valid examples.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_BANDWIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]?)(?:bps|b/s)?\s*$")
_BANDWIDTH_MULT = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_MULT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$")
_BYTES_MULT = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


def parse_bandwidth(value: object) -> int:
    """``'1.2G'`` -> 1_200_000_000 bits per second. Decimal (SI) prefixes, as circuits are sold."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a bandwidth (examples: 50M, 400M, 1.2G)")
    if isinstance(value, int | float) and value > 0:
        return int(value)
    if isinstance(value, str):
        m = _BANDWIDTH.match(value)
        if m:
            bps = round(float(m.group(1)) * _BANDWIDTH_MULT[m.group(2)])
            if bps > 0:
                return bps
    raise ValueError(f"{value!r} is not a bandwidth (examples: 50M, 400M, 1.2G)")


def parse_duration(value: object) -> float:
    """``'5m'`` -> 300.0 seconds. A bare number is seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (examples: 500ms, 30s, 5m, 1h, 30d)")
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m and float(m.group(1)) > 0:
            return float(m.group(1)) * _DURATION_MULT[m.group(2)]
    raise ValueError(f"{value!r} is not a duration (examples: 500ms, 30s, 5m, 1h, 30d)")


def parse_percent(value: object) -> float:
    """``'50%'`` or ``50`` -> 50.0. Must lie in (0, 100]."""
    pct: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        pct = float(value)
    elif isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            pct = float(text)
        except ValueError:
            pct = None
    if pct is None or not 0 < pct <= 100:
        raise ValueError(f"{value!r} is not a percentage between 0 and 100 (examples: 50%, 70%)")
    return pct


def parse_bytes(value: object) -> int:
    """``'512MiB'`` -> 536870912 bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = _BYTES.match(value)
        if m:
            n = int(float(m.group(1)) * _BYTES_MULT[m.group(2)])
            if n > 0:
                return n
    raise ValueError(f"{value!r} is not a size (examples: 512MiB, 2GiB, 100MB)")


Bandwidth = Annotated[int, BeforeValidator(parse_bandwidth)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Percent = Annotated[float, BeforeValidator(parse_percent)]
ByteSize = Annotated[int, BeforeValidator(parse_bytes)]
