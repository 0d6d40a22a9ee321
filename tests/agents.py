"""Real SNMP agents for tests: snmpsim serving .snmprec recordings, and Net-SNMP snmpd for v3.

Step: test peers for collectors -> SNMP transport. Loopback only (127.0.0.1, [::1]).

snmpsim refuses to run as root and drops to ``nobody``; its data and cache
directories (and every parent) must therefore be traversable by nobody, which
pytest's 0700 ``tmp_path`` is not: the agents make their own dirs under /tmp.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from netmon import ber

SNMPSIM_VENV = Path(os.environ.get("NETMON_SNMPSIM_VENV", "/opt/netmon-snmpsim"))
SNMPD = Path("/usr/sbin/snmpd")
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
START_TIMEOUT_S = 20.0


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
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not ipv6:
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free UDP port on loopback")


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(a) for a in oid.strip(".").split("."))


def write_snmprec(path: str | Path, records: Iterable[tuple[str, str, str]]) -> Path:
    """Write ``OID|TAG|VALUE`` lines sorted numerically by OID (snmpsim needs OID order)."""
    path = Path(path)
    lines = [f"{oid.strip('.')}|{tag}|{value}" for oid, tag, value in
             sorted(records, key=lambda r: _oid_key(r[0]))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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


def _world_dir(parent: str | None = None, prefix: str = "netmon-agent-") -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent or "/tmp"))
    d.chmod(0o755)
    return d


def _v2c_probe(host: str, port: int, community: str, timeout_s: float = 0.3) -> bool:
    """One blocking SNMP GET of sysDescr.0: True if any well-formed answer came back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    packet = ber.encode_request(community.encode(), ber.GET_REQUEST, 4242,
                                [ber.encode_oid(SYS_DESCR)])
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(packet, (host, port))
            data, _ = s.recvfrom(65535)
        except OSError:  # timeout, ICMP port unreachable
            return False
    try:
        return ber.decode_message(data).request_id == 4242
    except ber.BerError:
        return False


class SnmpSim:
    """snmpsim-command-responder on loopback serving recordings.

    ``data``: ``{community: path}`` (path to a .snmprec or .snmprec.bz2 file,
    which snmpsim reads natively; a ``/`` in the community makes sub-directories)
    or a directory to copy. The community string is the file's base name.
    """

    def __init__(
        self,
        data: Mapping[str, str | Path] | str | Path,
        *,
        ipv4: bool = True,
        ipv6: bool = False,
        max_var_binds: int | None = None,
        venv: str | Path | None = None,
    ) -> None:
        self.venv = Path(venv) if venv else SNMPSIM_VENV
        self.binary = self.venv / "bin" / "snmpsim-command-responder"
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.max_var_binds = max_var_binds
        self.host = "127.0.0.1" if ipv4 else "::1"
        self.host6 = "::1"
        self.port = 0
        self._root = _world_dir()
        self.data_dir = self._root / "data"
        self.cache_dir = self._root / "cache"
        self.log_path = self._root / "snmpsim.log"
        self.communities: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._install_data(data)

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
        self.cache_dir.mkdir()
        for p in [self.data_dir, *self.data_dir.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        self.cache_dir.chmod(0o777)
        self.log_path.touch()
        self.log_path.chmod(0o666)
        for f in sorted(self.data_dir.rglob("*.snmprec*")):
            rel = f.relative_to(self.data_dir).as_posix()
            self.communities.append(rel.removesuffix(".bz2").removesuffix(".snmprec"))

    def community(self, name: str) -> str:
        if name not in self.communities:
            raise KeyError(f"no recording named {name!r}; have {self.communities}")
        return name

    def start(self) -> SnmpSim:
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} missing: run scripts/install-deps.sh")
        if not self.port:
            self.port = free_udp_port(ipv6=self.ipv6)
        cmd = [
            str(self.binary),
            f"--data-dir={self.data_dir}",
            f"--cache-dir={self.cache_dir}",
            f"--logging-method=file:{self.log_path}",
            "--log-level=info",
        ]
        if os.geteuid() == 0:
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        if self.ipv4:
            cmd.append(f"--agent-udpv4-endpoint=127.0.0.1:{self.port}")
        if self.ipv6:
            cmd.append(f"--agent-udpv6-endpoint=[::1]:{self.port}")
        if self.max_var_binds is not None:
            cmd.append(f"--max-var-binds={self.max_var_binds}")
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                      cwd=self._root)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        probe = self.communities[0] if self.communities else "public"
        hosts = ([self.host] if self.ipv4 else []) + ([self.host6] if self.ipv6 else [])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            if all(_v2c_probe(h, self.port, probe) for h in hosts):
                return
            time.sleep(0.1)
        log = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"snmpsim did not answer on port {self.port}; log:\n{log}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> SnmpSim:
        """Stop and start again on the same port (counters with variations restart)."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> SnmpSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class Snmpd:
    """Net-SNMP snmpd on loopback with one SNMPv3 user.

    Isolated from /etc/snmp and /var/lib/snmp (``-C``, SNMP_PERSISTENT_DIR), so a
    system snmpd on port 161 neither matters nor is touched.
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
    ) -> None:
        self.user = user
        self.auth_protocol = auth_protocol
        self.auth_key = auth_key
        self.priv_protocol = priv_protocol
        self.priv_key = priv_key
        self.community = community
        self.host = "::1"
        self.host4 = "127.0.0.1"
        self.port = 0
        self._root = _world_dir(prefix="netmon-snmpd-")
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
            f"agentAddress udp6:[::1]:{self.port},udp:127.0.0.1:{self.port}",
            f'createUser {self.user} {self.auth_protocol} "{self.auth_key}" '
            f'{self.priv_protocol} "{self.priv_key}"',
            f"rouser {self.user} priv",
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
                [str(SNMPD), "-f", "-Lo", "-C", "-c", str(self.conf), "-p", str(self.pid_file),
                 "-I", "-smux"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self._root,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        cmd = [
            "snmpget", "-v3", "-l", "authPriv", "-u", self.user,
            "-a", self.auth_protocol, "-A", self.auth_key,
            "-x", self.priv_protocol, "-X", self.priv_key,
            "-t", "0.3", "-r", "0", "-On", f"udp6:[::1]:{self.port}", SYS_DESCR,
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
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Snmpd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
