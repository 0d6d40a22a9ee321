"""Real SNMP agents for tests: snmpsim serving .snmprec recordings, and Net-SNMP snmpd for v3.

Step: test peers for collectors -> SNMP transport. Loopback only (127.0.0.1, [::1]).

snmpsim refuses to run as root and drops to ``nobody``; its data and cache
directories (and every parent) must therefore be traversable by nobody, which
pytest's 0700 ``tmp_path`` is not: the agents make their own dirs under /tmp.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netmon import simnet
from netmon.simnet import (
    SNMPSIM_VENV,
    START_TIMEOUT_S,
    SnmpSimProcess,
    stop_process,
    v2c_answers,
    world_dir,
    write_snmprec,
)

__all__ = ["SIM_V3_USERS", "SimV3User", "SnmpSim", "Snmpd", "SnmpdUser", "free_udp_port",
           "read_snmprec", "shared_dir", "snmprec_octets", "write_snmprec"]

SNMPD = Path("/usr/sbin/snmpd")
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def shared_dir() -> Path:
    """``shared/`` beside the repository checkout (as CI clones it), else $NETMON_SHARED_DIR."""
    beside = Path(__file__).resolve().parents[1].parent / "shared"
    if (beside / "corpus").is_dir():
        return beside
    env = os.environ.get("NETMON_SHARED_DIR")
    if env:
        return Path(env)
    return beside


def free_udp_port(*, ipv6: bool = False) -> int:
    """A UDP port free on 127.0.0.1 (and on [::1] when ``ipv6``)."""
    return simnet.free_udp_port(also_ipv6=ipv6)


def read_snmprec(path: str | Path) -> dict[str, tuple[str, str]]:
    """``{oid: (tag, raw value)}`` of a .snmprec file (what tests expect an agent to serve)."""
    out: dict[str, tuple[str, str]] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        oid, tag, value = line.split("|", 2)
        out[oid] = (tag, value)
    return out


def snmprec_octets(tag: str, value: str) -> bytes:
    """The bytes an OCTET STRING record stands for (``4x`` = hex-encoded)."""
    if tag == "4x":
        return bytes.fromhex(value)
    return value.encode("utf-8")


@dataclass(frozen=True)
class SimV3User:
    """An SNMPv3 user for :class:`SnmpSim`, in netmon's protocol names (SHA-256, AES-128).

    snmpsim (pysnmp) serves a recording to v3 under the context name equal to
    its community; its AES-192/256 are the "Reeder" variant, as netmon's.
    """

    name: str
    auth_protocol: str
    auth_key: str
    priv_protocol: str
    priv_key: str

    def args(self) -> list[str]:
        return [f"--v3-user={self.name}",
                f"--v3-auth-key={self.auth_key}",
                f"--v3-auth-proto={self.auth_protocol.replace('-', '')}",
                f"--v3-priv-key={self.priv_key}",
                f"--v3-priv-proto={self.priv_protocol.replace('-', '').replace('AES128', 'AES')}"]


SIM_V3_USERS = (
    SimV3User("netmon-sim", "SHA-256", "netmon-sim-auth", "AES-128", "netmon-sim-priv"),
    SimV3User("netmon-sim-512", "SHA-512", "netmon-sim-auth", "AES-256", "netmon-sim-priv"),
)
"""Two v3 users for snmpsim: the common default, and the largest MAC with a Reeder key."""


class SnmpSim:
    """snmpsim-command-responder on loopback serving recordings (netmon.simnet runs it).

    ``data``: ``{community: path}`` (path to a .snmprec or .snmprec.bz2 file,
    which snmpsim reads natively; a ``/`` in the community makes sub-directories)
    or a directory to copy. The community string is the file's base name.
    ``v3_users`` replace snmpsim's default v3 user (MD5/DES "simulator").
    """

    def __init__(
        self,
        data: Mapping[str, str | Path] | str | Path,
        *,
        ipv4: bool = True,
        ipv6: bool = False,
        max_var_binds: int | None = None,
        venv: str | Path | None = None,
        v3_users: Sequence[SimV3User] = (),
    ) -> None:
        self.v3_users = list(v3_users)
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.host = "127.0.0.1" if ipv4 else "::1"
        self.host6 = "::1"
        self._root = world_dir(prefix="netmon-agent-")
        self.data_dir = self._root / "data"
        self.communities: list[str] = []
        self._install_data(data)
        self.process = SnmpSimProcess(
            self.data_dir,
            host=self.host,
            port=free_udp_port(ipv6=ipv6),
            ipv6_host="::1" if ipv4 and ipv6 else None,
            max_var_binds=max_var_binds,
            venv=Path(venv) if venv else SNMPSIM_VENV,
            extra_args=[a for u in self.v3_users for a in u.args()],
        )

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def _install_data(self, data: Mapping[str, str | Path] | str | Path) -> None:
        if isinstance(data, str | Path):
            shutil.copytree(data, self.data_dir)
        else:
            self.data_dir.mkdir()
            for community, src in data.items():
                src = Path(src)
                suffix = ".snmprec.bz2" if src.name.endswith(".bz2") else ".snmprec"
                dst = self.data_dir / f"{community}{suffix}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        for f in sorted(self.data_dir.rglob("*.snmprec*")):
            rel = f.relative_to(self.data_dir).as_posix()
            self.communities.append(rel.removesuffix(".bz2").removesuffix(".snmprec"))

    def community(self, name: str) -> str:
        if name not in self.communities:
            raise KeyError(f"no recording named {name!r}; have {self.communities}")
        return name

    def _answers(self) -> bool:
        probe = self.communities[0] if self.communities else "public"
        hosts = ([self.host] if self.ipv4 else []) + ([self.host6] if self.ipv6 else [])
        return all(v2c_answers(h, self.port, probe) for h in hosts)

    def start(self) -> SnmpSim:
        self.process.start(ready=self._answers)
        return self

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> SnmpSim:
        """Stop and start again on the same port (counters with variations restart)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.process.cleanup()

    def __enter__(self) -> SnmpSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass(frozen=True)
class SnmpdUser:
    """One more authPriv user for :class:`Snmpd` (Net-SNMP protocol names: SHA-512, AES)."""

    name: str
    auth_protocol: str
    auth_key: str
    priv_protocol: str = "AES"
    priv_key: str = "netmon-priv-pass"


class Snmpd:
    """Net-SNMP snmpd on loopback with one SNMPv3 user, and ``users`` more
    (``ipv6=False``: on 127.0.0.1 only).

    Isolated from /etc/snmp and /var/lib/snmp (``-C``, SNMP_PERSISTENT_DIR), so a
    system snmpd on port 161 neither matters nor is touched. The persistent
    directory keeps the engine ID and engineBoots across :meth:`restart`.
    """

    def __init__(
        self,
        *,
        user: str = "netmon",
        auth_protocol: str = "SHA-256",
        auth_key: str = "netmon-auth-pass",
        priv_protocol: str = "AES",
        priv_key: str = "netmon-priv-pass",
        community: str | None = None,
        users: Sequence[SnmpdUser] = (),
        ipv6: bool = True,
    ) -> None:
        self.users = list(users)
        self.ipv6 = ipv6
        self.user = user
        self.auth_protocol = auth_protocol
        self.auth_key = auth_key
        self.priv_protocol = priv_protocol
        self.priv_key = priv_key
        self.community = community
        self.host = "::1"
        self.host4 = "127.0.0.1"
        self.port = 0
        self._root = world_dir(prefix="netmon-snmpd-")
        self.conf = self._root / "snmpd.conf"
        self.pid_file = self._root / "snmpd.pid"
        self.log_path = self._root / "snmpd.log"
        self.persistent_dir = self._root / "persist"
        self.persistent_dir.mkdir()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Snmpd:
        if not SNMPD.exists():
            raise RuntimeError(f"{SNMPD} missing: run scripts/install-deps.sh")
        if not self.port:
            self.port = free_udp_port(ipv6=True)
        lines = [
            f"agentAddress udp6:[::1]:{self.port},udp:127.0.0.1:{self.port}" if self.ipv6
            else f"agentAddress udp:127.0.0.1:{self.port}",
            f'createUser {self.user} {self.auth_protocol} "{self.auth_key}" '
            f'{self.priv_protocol} "{self.priv_key}"',
            f"rouser {self.user} priv",
            *(f'createUser {u.name} {u.auth_protocol} "{u.auth_key}" '
              f'{u.priv_protocol} "{u.priv_key}"\nrouser {u.name} priv' for u in self.users),
            "sysDescr netmon test agent",
            "sysLocation loopback",
        ]
        if self.community:
            lines += [f"rocommunity {self.community} 127.0.0.1",
                      f"rocommunity6 {self.community} ::1"]
        self.conf.write_text("\n".join(lines) + "\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SNMP_PERSISTENT_DIR": str(self.persistent_dir),
            "SNMPCONFPATH": str(self._root),
            "MIBS": "",
        }
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [str(SNMPD), "-f", "-Lo", "-C", "-c", self._config_files(),
                 "-p", str(self.pid_file), "-I", "-smux"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self._root,
            )
        self._wait_ready()
        return self

    def _config_files(self) -> str:
        # -C keeps /etc/snmp out, and with it the persistent file snmpd saved on
        # its last stop (engine ID, engineBoots): name it so a restart reads it.
        saved = self.persistent_dir / "snmpd.conf"
        return f"{self.conf},{saved}" if saved.exists() else str(self.conf)

    def _wait_ready(self) -> None:
        cmd = [
            "snmpget", "-v3", "-l", "authPriv", "-u", self.user,
            "-a", self.auth_protocol, "-A", self.auth_key,
            "-x", self.priv_protocol, "-X", self.priv_key,
            "-t", "0.3", "-r", "0", "-On",
            f"udp6:[::1]:{self.port}" if self.ipv6 else f"udp:127.0.0.1:{self.port}", SYS_DESCR,
        ]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            done = subprocess.run(cmd, capture_output=True, env={**os.environ, "MIBS": ""},
                                  check=False)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        log = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"snmpd did not answer on port {self.port}; log:\n{log}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)

    def restart(self) -> Snmpd:
        """Stop and start again on the same port: same engine ID, engineBoots + 1."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Snmpd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
