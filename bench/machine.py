"""What every benchmark table says about the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    return (f"# {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")
