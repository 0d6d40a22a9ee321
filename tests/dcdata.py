"""Data-centre recordings for collector tests: snmpsim-data's UPSes, environment probes
and servers, cut to the subtrees the data-centre collectors read.

Step: test peers for collectors. One snmpsim serves all of them (community =
``<folder>-<file>``), so the suite starts one agent, not forty.
"""

from __future__ import annotations

import bz2
import os
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from agents import shared_dir

# system, HOST-RESOURCES, UPS-MIB, ENTITY (names), ENTITY-SENSOR, APC PowerNet UPS
# and rPDU2 sensors, AKCP SPAGENT, Geist.
KEEP_PREFIXES = (
    "1.3.6.1.2.1.1.", "1.3.6.1.2.1.25.1.", "1.3.6.1.2.1.25.2.", "1.3.6.1.2.1.25.3.2.",
    "1.3.6.1.2.1.25.3.3.", "1.3.6.1.2.1.33.", "1.3.6.1.2.1.47.1.1.1.1.",
    "1.3.6.1.2.1.99.", "1.3.6.1.4.1.318.1.1.1.", "1.3.6.1.4.1.318.1.1.26.10.",
    "1.3.6.1.4.1.3854.", "1.3.6.1.4.1.21239.",
)


@cache
def snmpsim_data_root() -> Path:
    venv = Path(os.environ.get("NETMON_SNMPSIM_VENV", "/opt/netmon-snmpsim"))
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip()) / "data"


def corpus(name: str) -> Path:
    return shared_dir() / "corpus" / "librenms" / f"{name}.snmprec"


def ups_files() -> list[Path]:
    return sorted((snmpsim_data_root() / "UPS").glob("*.snmprec*"))


def iot_files() -> list[Path]:
    return sorted((snmpsim_data_root() / "iot").glob("*.snmprec*"))


def server_files() -> list[Path]:
    return sorted((snmpsim_data_root() / "os").glob("*/*.snmprec*"))


def entity_files() -> list[Path]:
    """Recordings elsewhere in snmpsim-data that carry ENTITY-SENSOR-MIB."""
    root = snmpsim_data_root()
    return [root / "cloud" / "arista-dcs-7150s-52-cl.snmprec.bz2",
            root / "network" / "firewall" / "paloalto-pa-5000.snmprec.bz2"]


def rec_id(path: Path) -> str:
    return f"{path.parent.name}-{path.name.split('.snmprec')[0]}"


@cache
def read_kept(path: Path) -> tuple[str, ...]:
    """The recording's lines under KEEP_PREFIXES (bz2 read natively); read once per run."""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return tuple(line for line in fh if line.startswith(KEEP_PREFIXES))


def parse(lines: Iterable[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for line in lines:
        oid, tag, value = line.rstrip("\n").split("|", 2)
        out[oid] = (tag, value)
    return out


INT_TAGS = {"2", "65", "66", "67", "70"}


def ints_under(rec: dict[str, tuple[str, str]], prefix: str) -> dict[str, int]:
    """``{index: int}`` of a column (``prefix`` without the trailing dot)."""
    out: dict[str, int] = {}
    for oid, (tag, value) in rec.items():
        if oid.startswith(prefix + ".") and tag in INT_TAGS:
            out[oid[len(prefix) + 1:]] = int(value)
    return out


def int_at(rec: dict[str, tuple[str, str]], oid: str) -> int | None:
    tag, value = rec.get(oid, ("", ""))
    return int(value) if tag in INT_TAGS else None
