"""Golden line protocol of what the data-centre collectors make of the corpus recordings
(``shared/corpus/librenms``: the ABB UPS and the AKCP sensorProbe8), one file per
recording: ``tests/fixtures/golden/<name>.datacentre.lp``.

Regenerate on purpose only: ``NETMON_REGEN_GOLDEN=1 pytest tests/collectors``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_recordings import golden_lines
from test_ups_mib import collect

from netmon.config import tier_collectors
from netmon.poll import build_collectors

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


class _Settings:
    def __getattr__(self, section: str):
        from netmon import plugins

        return plugins.sections()[section]()


@pytest.mark.parametrize("name", ["abbups_abbups", "akcp_serverprobe8"])
async def test_corpus_datacentre_golden(snmpsim_corpus, name):
    built = build_collectors(_Settings())
    samples = []
    for collector in tier_collectors("datacentre"):
        if collector != "interfaces":  # (their golden files are <name>.lp)
            samples += await collect(built[collector], snmpsim_corpus, name)
    got = golden_lines(samples)
    assert got, "the recording gave no data-centre samples"
    path = GOLDEN / f"{name}.datacentre.lp"
    if os.environ.get("NETMON_REGEN_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; create it with NETMON_REGEN_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
