"""A simulated network: generated .snmprec recordings served by snmpsim on loopback.

Step: stands in for real devices in front of the poll path. Used by
``netmon run --demo`` (the embedded defaults), the tests and the benchmarks.

Counters are served with snmpsim's ``numeric`` variation, which makes a value
grow at ``rate`` per second since the agent started (``initial`` added), and
wrap modulo ``max`` when ``wrap`` is set. snmpsim refuses to run as root and
drops to ``nobody``, so its data and cache directories (and every parent) must
be world-readable, and it runs from a venv built on /usr/bin/python3.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from netmon import ber
from netmon.units import parse_duration

SNMPSIM_VENV = Path(os.environ.get("NETMON_SNMPSIM_VENV", "/opt/netmon-snmpsim"))
START_TIMEOUT_S = 30.0

SYS = "1.3.6.1.2.1.1"
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"

Record = tuple[str, str, str]


def v2c_answers(host: str, port: int, community: str, timeout_s: float = 0.3) -> bool:
    """One blocking SNMP GET of sysDescr.0: True if a well-formed answer came back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    packet = ber.encode_request(community.encode(), ber.GET_REQUEST, 4242,
                                [ber.encode_oid(f"{SYS}.1.0")])
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


@dataclass(frozen=True, slots=True)
class SimInterface:
    """One simulated interface; rates are bit/s, turned into octets/s for snmpsim."""

    index: int
    name: str
    alias: str = ""
    high_speed_mbps: int = 1000
    in_bps: float = 0.0
    out_bps: float = 0.0
    hc: bool = True
    oper: int = 1
    admin: int = 1
    initial_in: int = 0
    initial_out: int = 0
    errors_per_s: float = 0.0
    discontinuity: int | None = None
    descr: str | None = None
    x_table: bool = True

    @property
    def if_speed(self) -> int:
        return min(self.high_speed_mbps * 1_000_000, 2**32 - 1)


def _counter(oid: str, tag: str, rate: float, initial: int, bits: int) -> Record:
    if rate <= 0:
        return (oid, tag, str(initial))
    # numeric computes initial + rate * t and, with wrap, takes it modulo max:
    # max = 2**bits gives exact Counter32/Counter64 wrap arithmetic.
    return (oid, f"{tag}:numeric", f"rate={rate:g},initial={initial},wrap=1,max={2**bits}")


def device_records(
    interfaces: Iterable[SimInterface],
    *,
    sys_name: str = "sim",
    uptime_cs: int = 360_000,
    uptime_wrap: bool = False,
    delay_ms: int | None = None,
) -> list[Record]:
    """IF-MIB and system records for one simulated device.

    ``uptime_cs`` is sysUpTime at agent start (it then grows at 100/s);
    ``uptime_wrap`` lets it roll over at 2**32 like a 497-day-old agent.
    ``delay_ms`` delays every answer that contains sysUpTime.0 (snmpsim's
    ``delay`` variation); over 99999 the agent never answers.
    """
    recs: list[Record] = [
        (f"{SYS}.1.0", "4", f"netmon simulated router {sys_name}"),
        (f"{SYS}.2.0", "6", "1.3.6.1.4.1.8072.3.2.10"),
        (f"{SYS}.5.0", "4", sys_name),
    ]
    if delay_ms is not None:
        recs.append((f"{SYS}.3.0", "67:delay", f"value={uptime_cs},wait={delay_ms}"))
    else:
        extra = ",wrap=1,max=4294967296" if uptime_wrap else ""
        recs.append((f"{SYS}.3.0", "67:numeric", f"rate=100,initial={uptime_cs}{extra}"))
    ifaces = list(interfaces)
    recs.append(("1.3.6.1.2.1.2.1.0", "2", str(len(ifaces))))
    for i in ifaces:
        x = i.index
        recs += [
            (f"{IF_TABLE}.1.{x}", "2", str(x)),
            (f"{IF_TABLE}.2.{x}", "4", i.descr or i.name),
            (f"{IF_TABLE}.3.{x}", "2", "6"),
            (f"{IF_TABLE}.5.{x}", "66", str(i.if_speed)),
            (f"{IF_TABLE}.7.{x}", "2", str(i.admin)),
            (f"{IF_TABLE}.8.{x}", "2", str(i.oper)),
            # 32-bit octet counters always exist; their rate is the same traffic.
            _counter(f"{IF_TABLE}.10.{x}", "65", i.in_bps / 8, i.initial_in % 2**32, 32),
            (f"{IF_TABLE}.13.{x}", "65", "0"),
            _counter(f"{IF_TABLE}.14.{x}", "65", i.errors_per_s, 0, 32),
            _counter(f"{IF_TABLE}.16.{x}", "65", i.out_bps / 8, i.initial_out % 2**32, 32),
            (f"{IF_TABLE}.19.{x}", "65", "0"),
            (f"{IF_TABLE}.20.{x}", "65", "0"),
        ]
        if not i.x_table:
            continue
        recs += [
            (f"{IF_X_TABLE}.1.{x}", "4", i.name),
            (f"{IF_X_TABLE}.15.{x}", "66", str(i.high_speed_mbps)),
            (f"{IF_X_TABLE}.18.{x}", "4", i.alias),
        ]
        if i.hc:
            recs += [
                _counter(f"{IF_X_TABLE}.6.{x}", "70", i.in_bps / 8, i.initial_in, 64),
                _counter(f"{IF_X_TABLE}.10.{x}", "70", i.out_bps / 8, i.initial_out, 64),
            ]
        if i.discontinuity is not None:
            recs.append((f"{IF_X_TABLE}.19.{x}", "67", str(i.discontinuity)))
    return recs


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(a) for a in oid.strip(".").split("."))


def write_snmprec(path: str | Path, records: Iterable[Record]) -> Path:
    """Write ``OID|TAG|VALUE`` lines sorted numerically by OID (snmpsim needs OID order)."""
    path = Path(path)
    lines = [f"{oid.strip('.')}|{tag}|{value}" for oid, tag, value in
             sorted(records, key=lambda r: _oid_key(r[0]))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_udp_port(host: str = "127.0.0.1", *, also_ipv6: bool = False) -> int:
    """A UDP port free on ``host`` (and on [::1] as well when ``also_ipv6``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if not also_ipv6:
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free UDP port on {host}")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def world_dir(prefix: str = "netmon-sim-", parent: str | Path | None = None) -> Path:
    """A directory ``nobody`` can traverse (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=str(parent or "/tmp")))
    d.chmod(0o755)
    return d


class SnmpSimProcess:
    """snmpsim-command-responder serving a directory of recordings on loopback.

    The community string is a recording's path below ``data_dir`` without the
    ``.snmprec`` suffix. ``ready`` is a callable that returns True once the
    agent answers (the caller supplies a real SNMP GET).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        ipv6_host: str | None = None,
        max_var_binds: int | None = None,
        venv: Path = SNMPSIM_VENV,
    ) -> None:
        self.data_dir = data_dir
        self.root = data_dir.parent
        self.cache_dir = self.root / "cache"
        self.log_path = self.root / "snmpsim.log"
        self.host = host
        self.ipv6_host = ipv6_host
        self.port = port or free_udp_port(host, also_ipv6=ipv6_host is not None)
        self.max_var_binds = max_var_binds
        self.binary = venv / "bin" / "snmpsim-command-responder"
        self._proc: subprocess.Popen[bytes] | None = None

    def _permissions(self) -> None:
        self.cache_dir.mkdir(exist_ok=True)
        for p in [self.data_dir, *self.data_dir.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        self.cache_dir.chmod(0o777)
        self.log_path.touch()
        self.log_path.chmod(0o666)

    def command(self) -> list[str]:
        cmd = [
            str(self.binary),
            f"--data-dir={self.data_dir}",
            f"--cache-dir={self.cache_dir}",
            f"--logging-method=file:{self.log_path}",
            "--log-level=error",
        ]
        if os.geteuid() == 0:
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        if ":" in self.host:
            cmd.append(f"--agent-udpv6-endpoint=[{self.host}]:{self.port}")
        else:
            cmd.append(f"--agent-udpv4-endpoint={self.host}:{self.port}")
        if self.ipv6_host:
            cmd.append(f"--agent-udpv6-endpoint=[{self.ipv6_host}]:{self.port}")
        if self.max_var_binds is not None:
            cmd.append(f"--max-var-binds={self.max_var_binds}")
        return cmd

    def start(self, ready: Callable[[], bool] | None = None) -> SnmpSimProcess:
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} is missing: run scripts/install-deps.sh")
        self._permissions()
        self._proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.root
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while ready is not None and time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if ready():
                return self
            time.sleep(0.1)
        else:
            if ready is None:
                return self
        log = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"snmpsim did not answer on port {self.port}; log:\n{log}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def install_recordings(recordings: Mapping[str, Iterable[Record]], root: Path) -> Path:
    """Write ``{community: records}`` under ``root/data`` and return the data dir."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for community, records in recordings.items():
        target = data / f"{community}.snmprec"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_snmprec(target, records)
    return data


# -- the example network ------------------------------------------------------------------

PLANE_BPS = 1_200_000_000


def example_network() -> dict[str, list[SimInterface]]:
    """Devices of the demo network, with traffic that puts some links over 50%."""
    net: dict[str, list[SimInterface]] = {
        "core-a": [
            SimInterface(1, "xe-0/0/0", "PLANE-A to core-b", 10_000, 420e6, 380e6),
            SimInterface(2, "xe-0/0/1", "PLANE-A to prov-north", 10_000, 150e6, 90e6),
            SimInterface(3, "xe-0/0/2", "PLANE-A to prov-south", 10_000, 230e6, 260e6),
            SimInterface(4, "ge-0/0/9", "mgmt", 1_000, 1e6, 1e6),
        ],
        "core-b": [
            SimInterface(1, "xe-0/0/0", "PLANE-B to core-a", 10_000, 380e6, 420e6),
            SimInterface(2, "xe-0/0/1", "PLANE-B to prov-north", 10_000, 80e6, 60e6),
            SimInterface(3, "xe-0/0/2", "PLANE-B to prov-south", 10_000, 690e6, 300e6),
        ],
        "prov-north": [
            SimInterface(1, "Gi0/0/0", "UPLINK-A core-a", 1_000, 90e6, 150e6),
            SimInterface(2, "Gi0/0/1", "UPLINK-B core-b", 1_000, 60e6, 80e6),
            SimInterface(3, "Gi0/0/2", "district-1", 100, 12e6, 4e6),
        ],
        "prov-south": [
            SimInterface(1, "Gi0/0/0", "UPLINK-A core-a", 1_000, 260e6, 230e6),
            SimInterface(2, "Gi0/0/1", "UPLINK-B core-b", 1_000, 300e6, 690e6),
            SimInterface(3, "Gi0/0/2", "district-2", 100, 30e6, 8e6, oper=2),
        ],
        "ministry-finance": [
            SimInterface(1, "GigabitEthernet0/1", "WAN to prov-north", 1_000, 22e6, 31e6),
        ],
        "district-1": [
            SimInterface(1, "fa0/0", "WAN", 100, 4e6, 12e6, hc=False),
        ],
        "dc-main": [
            SimInterface(1, "Ethernet1/1", "DC uplink A", 10_000, 310e6, 280e6),
            SimInterface(2, "Ethernet1/2", "DC uplink B", 10_000, 290e6, 330e6),
        ],
    }
    return net


def example_targets_yaml(port: int, host: str = "127.0.0.1") -> str:
    """Target file for the example network served on ``host:port``.

    Communities are the recording names; secrets come from ``file:`` references
    written beside the config, never inline.
    """
    def target(name: str, site: str, tier: str, province: str, links: str) -> str:
        return (
            f"  - name: {name}\n    site: {site}\n    tier: {tier}\n"
            f"    province: {province}\n    address: \"{host}\"\n    port: {port}\n"
            f"    snmp: {name}\n    links:\n{links}"
        )

    def link(sel: str, capacity: str, role: str) -> str:
        return f"      - {{{sel}, capacity: {capacity}, role: {role}}}\n"

    return "targets:\n" + "".join([
        target("core-a", "BB-A", "backbone", "Capital",
               link("ifName: xe-0/0/0", "1.2G", "plane-a")
               + link("ifName: xe-0/0/1", "400M", "plane-a")
               + link("ifName: xe-0/0/2", "400M", "plane-a")),
        target("core-b", "BB-B", "backbone", "Capital",
               link("ifName: xe-0/0/0", "1.2G", "plane-b")
               + link("ifName: xe-0/0/1", "400M", "plane-b")
               + link("ifName: xe-0/0/2", "1.2G", "plane-b")),
        target("prov-north", "PRV-N", "province", "North",
               link("ifAlias: '^UPLINK-A'", "400M", "plane-a")
               + link("ifAlias: '^UPLINK-B'", "400M", "plane-b")
               + link("ifName: Gi0/0/2", "50M", "access")),
        target("prov-south", "PRV-S", "province", "South",
               link("ifAlias: '^UPLINK-A'", "400M", "plane-a")
               + link("ifAlias: '^UPLINK-B'", "1.2G", "plane-b")
               + link("ifName: Gi0/0/2", "50M", "access")),
        target("ministry-finance", "MIN-FIN", "ministry", "Capital",
               link("ifIndex: 1", "100M", "uplink")),
        target("district-1", "DST-N1", "district", "North",
               link("ifName: fa0/0", "20M", "uplink")),
        target("dc-main", "DC-1", "datacentre", "Capital",
               link("ifName: Ethernet1/1", "1.2G", "plane-a")
               + link("ifName: Ethernet1/2", "1.2G", "plane-b")),
    ])


def write_demo(root: Path, port: int, *, interval: str = "10s", host: str = "127.0.0.1",
               state_dir: Path | None = None, http_listen: str = "127.0.0.1:9161") -> Path:
    """Recordings plus a complete netmon config for the example network; returns netmon.yaml."""
    install_recordings(
        {name: device_records(ifaces, sys_name=name) for name, ifaces in example_network().items()},
        root,
    )
    conf = root / "config"
    secrets = conf / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    secrets.chmod(0o700)
    profiles = []
    for name in example_network():
        (secrets / name).write_text(name + "\n", encoding="utf-8")
        (secrets / name).chmod(0o600)
        profiles.append(f"  {name}: {{version: \"2c\", community: \"file:secrets/{name}\"}}\n")
    (conf / "targets").mkdir(exist_ok=True)
    (conf / "targets" / "simulated.yaml").write_text(example_targets_yaml(port, host))
    # Alerts show within the demo's first minute: `for` is two intervals (5 min in
    # production), and the engine evaluates five times an interval.
    interval_s = parse_duration(interval)
    alerts = (
        "alerts:\n"
        f"  eval_interval: {interval_s / 5:g}s\n"
        "  rules:\n"
        f"    link_utilisation_high: {{for: {2 * interval_s:g}s}}\n"
        f"    failover_headroom_low: {{for: {2 * interval_s:g}s}}\n"
    )
    main = conf / "netmon.yaml"
    main.write_text(
        "# Generated by netmon for the simulated example network.\n"
        f"state_dir: {state_dir or root / 'state'}\n"
        "include: [targets/*.yaml]\n"
        f"http: {{listen: \"{http_listen}\"}}\n"
        f"defaults: {{interval: {interval}, timeout: 1s, retries: 1}}\n"
        "snmp_profiles:\n" + "".join(profiles) + alerts,
        encoding="utf-8",
    )
    return main

