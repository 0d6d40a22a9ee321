"""Shared pytest fixtures: real SNMP agents on loopback (tests/agents.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from agents import SIM_V3_USERS, Snmpd, SnmpdUser, SnmpSim, shared_dir, write_snmprec


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real-device recordings (shared/corpus/librenms beside the checkout)."""
    path = shared_dir() / "corpus" / "librenms"
    if not path.is_dir():
        pytest.fail(f"no recordings at {path}: shared/ must sit beside the checkout "
                    "(or set NETMON_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def snmpsim_corpus(corpus_dir: Path) -> Iterator[SnmpSim]:
    """snmpsim on 127.0.0.1 and [::1] (same port) serving every corpus recording;
    the community is the file's base name (``vrp_ne``, ``iosxe_asr920``, ...), and
    so is the SNMPv3 context name for the users in :data:`SIM_V3_USERS`."""
    files = {p.name.removesuffix(".snmprec"): p for p in sorted(corpus_dir.glob("*.snmprec"))}
    with SnmpSim(files, ipv4=True, ipv6=True, v3_users=SIM_V3_USERS) as sim:
        yield sim


SnmpSimFactory = Callable[..., SnmpSim]


@pytest.fixture
def snmpsim_factory(tmp_path: Path) -> Iterator[SnmpSimFactory]:
    """``snmpsim_factory({"community": [(oid, tag, value), ...] or path}, **SnmpSim kwargs)``.

    Record lists are written (sorted) as ``community.snmprec``; the agent is
    started and stopped at the end of the test.
    """
    started: list[SnmpSim] = []

    def make(data: Mapping[str, str | Path | list[tuple[str, str, str]]], **kwargs: object
             ) -> SnmpSim:
        files: dict[str, str | Path] = {}
        for community, records in data.items():
            if isinstance(records, list):
                name = community.replace("/", "_")
                files[community] = write_snmprec(tmp_path / f"{name}.snmprec", records)
            else:
                files[community] = records
        sim = SnmpSim(files, **kwargs)  # type: ignore[arg-type]
        started.append(sim)
        return sim.start()

    yield make
    for sim in started:
        sim.cleanup()


@pytest.fixture(scope="session")
def snmpd_v3() -> Iterator[Snmpd]:
    """Net-SNMP snmpd on udp6 [::1] (and 127.0.0.1), same port, with the user
    ``.user`` authPriv SHA-256 ``.auth_key`` / AES-128 ``.priv_key`` (``.host`` is
    "::1"), and ``.users``: SHA-1 and SHA-512 with AES-128 (``.priv_key`` too)."""
    with Snmpd(users=[SnmpdUser("netmon-sha1", "SHA", "netmon-sha1-pass"),
                      SnmpdUser("netmon-sha512", "SHA-512", "netmon-sha512-pass")]) as agent:
        yield agent
