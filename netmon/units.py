"""Human units in YAML (``400M``, ``1.2G``, ``30s``, ``50%``) -> numbers with a unit in the name.

Step: YAML. Used by the config models as pydantic annotated types, so a bad
value fails validation with a message that shows the engineer valid examples.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_BANDWIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]?)(bps|b/s)?\s*$")
_BANDWIDTH_MULT = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_MULT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$")
_BYTES_MULT = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


MIN_BANDWIDTH_BPS = 1_000
"""No circuit is slower than 1k: a smaller figure is a missing or mistyped unit."""


def _si(bps: float) -> str:
    """1_200_000_000 -> ``1.2G``: the way a bandwidth is written in the config."""
    for prefix, mult in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bps >= mult:
            return f"{bps / mult:g}{prefix}"
    return f"{bps:g}"


def _needs_unit(value: object, number: float) -> ValueError:
    # 400 is a 400M circuit written without its unit far more often than a
    # 400 bit/s one; a figure of 1000 or more is bit/s written out in full.
    guess = f"{number:g}M" if number < MIN_BANDWIDTH_BPS else _si(number)
    return ValueError(f"{value!r} needs a unit: {guess}?")


def parse_bandwidth(value: object) -> int:
    """``'1.2G'`` -> 1_200_000_000 bits per second. Decimal (SI) prefixes, as circuits are sold.

    The unit is required (``400`` is an error that suggests ``400M``); ``bps``
    or ``b/s`` alone means bit/s, and anything below 1k is an error.
    """
    not_bandwidth = ValueError(f"{value!r} is not a bandwidth (examples: 50M, 400M, 1.2G)")
    if isinstance(value, bool):
        raise not_bandwidth
    if isinstance(value, int | float):
        if value > 0:
            raise _needs_unit(value, value)
        raise not_bandwidth
    if not isinstance(value, str):
        raise not_bandwidth
    m = _BANDWIDTH.match(value)
    if not m:
        raise not_bandwidth
    number = float(m.group(1))
    if not m.group(2) and not m.group(3):
        if number > 0:
            raise _needs_unit(value, number)
        raise not_bandwidth
    bps = round(number * _BANDWIDTH_MULT[m.group(2)])
    if bps < MIN_BANDWIDTH_BPS:
        raise ValueError(f"{value!r} is below 1k, the smallest capacity (examples: 50M, 400M)")
    return bps


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


def _needs_percent(value: object, number: float) -> ValueError:
    if 0 < number < 1:
        return ValueError(f"{value!r} needs a %: did you mean {number * 100:g}%?")
    if number == 1:
        return ValueError(f"{value!r} needs a %: 1% or 100%?")
    return ValueError(f"{value!r} needs a %: {number:g}%?")


def parse_percent(value: object) -> float:
    """``'50%'`` -> 50.0. Must carry ``%`` and lie in (0, 100].

    A bare number is never guessed at: ``0.5`` may be a fraction (50%) or half
    a percent, ``1`` may be 1% or 100%. Each is an error that says which
    percentage to write.
    """
    invalid = ValueError(f"{value!r} is not a percentage between 0 and 100 (examples: 50%, 70%)")
    if isinstance(value, bool):
        raise invalid
    if isinstance(value, int | float):
        if 0 < value <= 100:
            raise _needs_percent(value, value)
        raise invalid
    if not isinstance(value, str):
        raise invalid
    text = value.strip()
    number_text = text.removesuffix("%").strip()
    try:
        pct = float(number_text)
    except ValueError:
        raise invalid from None
    if not 0 < pct <= 100:
        raise invalid
    if not text.endswith("%"):
        raise _needs_percent(value, pct)
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
