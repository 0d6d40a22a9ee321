"""Collector fixtures: one snmpsim serving every data-centre recording of snmpsim-data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import SnmpSim
from dcdata import entity_files, iot_files, read_kept, rec_id, server_files, ups_files


@pytest.fixture(scope="session")
def snmpsim_dc(tmp_path_factory) -> Iterator[SnmpSim]:
    """snmpsim-data's UPS/, iot/ and os/ recordings (community ``UPS-eaton-93e-80`` ...)."""
    work = tmp_path_factory.mktemp("dc-data")
    files = {}
    for path in [*ups_files(), *iot_files(), *server_files(), *entity_files()]:
        out = work / f"{rec_id(path)}.snmprec"
        out.write_text("".join(read_kept(path)), encoding="utf-8")
        files[rec_id(path)] = out
    with SnmpSim(files, max_var_binds=256) as sim:
        yield sim
