"""The interface collector on recordings of real devices, served by snmpsim.

* ``shared/corpus/librenms``: names, speeds and aliases netmon reports equal
  the recording, and the collector's raw output matches a golden
  line-protocol file per device.
* ``snmpsim-data`` routers and switches: no crash, and the number of
  interfaces found equals the number of distinct ifIndex values in the
  recording's ifTable/ifXTable. Only the system and IF-MIB subtrees are served
  (copied line for line), to keep agent start-up and the suite fast.
"""

from __future__ import annotations

import bz2
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import SnmpSim, read_snmprec, shared_dir, snmprec_octets
from pydantic import SecretStr

from collectors.interfaces import InterfaceCollector
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.model import POLL_ISSUE, Sample
from netmon.poll import open_session
from netmon.rates import IF_COUNTERS
from netmon.sinks.lineproto import encode
from netmon.snmp import SnmpClient

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
IF_TABLE = "1.3.6.1.2.1.2.2.1."
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1."
KEEP_PREFIXES = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.2.", "1.3.6.1.2.1.31.")


def target_for(sim: SnmpSim, community: str, *, host: str | None = None) -> Target:
    return Target.model_validate({
        "name": community,
        "site": "REC",
        "tier": "province",
        "address": host or sim.host,
        "port": sim.port,
        "snmp": SnmpV2c(version="2c", community=SecretStr(community)),
        "timeout": 5.0,
        "retries": 1,
        "discover": True,
    })


async def collect(sim: SnmpSim, community: str, host: str | None = None) -> list[Sample]:
    target = target_for(sim, community, host=host)
    async with SnmpClient() as client:
        return await InterfaceCollector().collect(open_session(client, target), target)


def text(tag: str, value: str) -> str:
    return snmprec_octets(tag, value).rstrip(b"\x00").decode("utf-8", "replace").strip()


def expected_interfaces(path: Path) -> dict[str, dict[str, object]]:
    """Per ifIndex with octet counters: name, alias and speeds as the recording has them."""
    rec = read_snmprec(path)
    rows: dict[str, dict[str, tuple[str, str]]] = {}
    for oid, tv in rec.items():
        for prefix, table in ((IF_TABLE, "t"), (IF_X_TABLE, "x")):
            if oid.startswith(prefix):
                column, _, index = oid.removeprefix(prefix).partition(".")
                rows.setdefault(index, {})[f"{table}{column}"] = tv
    out: dict[str, dict[str, object]] = {}
    for index, cols in rows.items():
        if not ({"t10", "x6"} & cols.keys()):
            continue
        name = text(*cols["x1"]) if "x1" in cols else ""
        descr = text(*cols["t2"]) if "t2" in cols else ""
        out[index] = {
            "name": name or descr or f"ifIndex{index}",
            "alias": text(*cols["x18"]) if "x18" in cols else "",
            "ifHighSpeed": int(cols["x15"][1]) if "x15" in cols else None,
            "ifSpeed": int(cols["t5"][1]) if "t5" in cols else None,
        }
    return out


# Every recording in the corpus, whatever is added to it later.
CORPUS = sorted(p.name.removesuffix(".snmprec")
                for p in (shared_dir() / "corpus" / "librenms").glob("*.snmprec"))


def test_corpus_is_there():
    assert {"vrp_ne", "iosxe_asr920", "akcp_serverprobe8", "abbups_abbups"} <= set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
async def test_corpus_names_speeds_aliases_match_recording(snmpsim_corpus, corpus_dir, name):
    expected = expected_interfaces(corpus_dir / f"{name}.snmprec")
    raw = await collect(snmpsim_corpus, name)
    got = {str(s.fields["ifIndex"]): s for s in raw if s.measurement == IF_COUNTERS}
    assert set(got) == set(expected)
    names = [e["name"] for e in expected.values()]
    for index, exp in expected.items():
        s = got[index]
        want_name = exp["name"] if names.count(exp["name"]) == 1 else f"{exp['name']}#{index}"
        assert s.tags["ifName"] == want_name
        assert s.fields.get("ifAlias", "") == exp["alias"]
        assert s.fields.get("ifHighSpeed") == exp["ifHighSpeed"]
        assert s.fields.get("ifSpeed") == exp["ifSpeed"]


async def test_corpus_over_ipv6(snmpsim_corpus, corpus_dir):
    raw = await collect(snmpsim_corpus, "iosxe_asr920", host="::1")
    assert len([s for s in raw if s.measurement == IF_COUNTERS]) == len(
        expected_interfaces(corpus_dir / "iosxe_asr920.snmprec"))


def golden_lines(samples: list[Sample]) -> str:
    """Line protocol with the timestamp cut off (it is when the agent answered)."""
    lines = [encode(s) for s in samples]
    return "".join(line.rsplit(" ", 1)[0] + "\n" for line in lines if line)


@pytest.mark.parametrize("name", CORPUS)
async def test_corpus_golden_line_protocol(snmpsim_corpus, name):
    # Regenerate on purpose only: NETMON_REGEN_GOLDEN=1 pytest tests/collectors
    raw = await collect(snmpsim_corpus, name)
    # sysUpTime moves with the agent's clock; everything else is as recorded.
    stable = [
        Sample(s.target, s.measurement, s.tags,
               {k: v for k, v in s.fields.items() if not k.startswith("sysUpTime")}, s.ts)
        for s in raw
    ]
    got = golden_lines(stable)
    path = GOLDEN / f"{name}.lp"
    if os.environ.get("NETMON_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; create it with NETMON_REGEN_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


# -- snmpsim-data --------------------------------------------------------------------------

def snmpsim_data_dir() -> Path:
    venv = Path(os.environ.get("NETMON_SNMPSIM_VENV", "/opt/netmon-snmpsim"))
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip()) / "data" / "network"


DATA_DIR = snmpsim_data_dir()
DEVICES = sorted(
    p for kind in ("router", "switch") for p in (DATA_DIR / kind).glob("*.snmprec*")
)


def device_id(path: Path) -> str:
    return f"{path.parent.name}-{path.name.split('.snmprec')[0]}"


def read_lines(path: Path) -> list[str]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return [line for line in fh if line.startswith(KEEP_PREFIXES)]


def if_indexes(lines: list[str]) -> set[str]:
    found = set()
    for line in lines:
        oid = line.split("|", 1)[0]
        for prefix in (IF_TABLE, IF_X_TABLE):
            if oid.startswith(prefix):
                found.add(oid.removeprefix(prefix).partition(".")[2])
    return found


@pytest.fixture(scope="module")
def snmpsim_data(tmp_path_factory) -> Iterator[tuple[SnmpSim, dict[str, set[str]]]]:
    work = tmp_path_factory.mktemp("snmpsim-data")
    files: dict[str, Path] = {}
    expected: dict[str, set[str]] = {}
    for path in DEVICES:
        lines = read_lines(path)
        name = device_id(path)
        out = work / f"{name}.snmprec"
        out.write_text("".join(lines), encoding="utf-8")
        files[name] = out
        expected[name] = if_indexes(lines)
    with SnmpSim(files, max_var_binds=256) as sim:
        yield sim, expected


def test_snmpsim_data_has_routers_and_switches():
    assert len([p for p in DEVICES if p.parent.name == "router"]) >= 10
    assert len([p for p in DEVICES if p.parent.name == "switch"]) >= 25


@pytest.mark.parametrize("path", DEVICES, ids=device_id)
async def test_snmpsim_data_device(snmpsim_data, path):
    sim, expected = snmpsim_data
    name = device_id(path)
    raw = await collect(sim, name)
    device = [s for s in raw if s.measurement == "device"]
    assert len(device) == 1
    assert device[0].fields["interfaces"] == len(expected[name])
    if not expected[name]:
        issues = [s.fields["message"] for s in raw if s.measurement == POLL_ISSUE]
        assert any("no interfaces found" in m for m in issues), issues
