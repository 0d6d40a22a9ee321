"""A real DNS server for tests: Debian's dnsmasq on 127.0.0.1 and [::1], one free port.

Step: test peer for the IPv6 service checks (collectors/ipv6_services.py).
Names come from a hosts file (A and AAAA), MX from ``--mx-host``, NS from a raw
``--dns-rr``; ``--local`` makes dnsmasq answer for the test domain itself and
never forward anything (no upstream servers, no /etc/resolv.conf).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from netmon.simnet import free_udp_port, stop_process, world_dir

DNSMASQ = Path("/usr/sbin/dnsmasq")


def wire_name(name: str) -> str:
    """A domain name in DNS wire format, as hex (what ``--dns-rr`` takes)."""
    out = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split("."))
    return (out + b"\x00").hex()


def _answers(port: int) -> bool:
    """A TCP connect on [::1] and a UDP query on 127.0.0.1 both succeed."""
    query = bytes.fromhex("12340100000100000000000004746573740000010001")  # "test" A
    try:
        with socket.create_connection(("::1", port), timeout=0.3):
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            s.sendto(query, ("127.0.0.1", port))
            s.recv(512)
    except OSError:
        return False
    return True


class Dnsmasq:
    """dnsmasq serving ``hosts`` (name -> addresses), ``mx`` (domain -> host) and ``ns``
    (zone -> name server) for ``domain``; ``.port`` on 127.0.0.1 and [::1], UDP and TCP."""

    def __init__(self, domain: str, hosts: Mapping[str, Sequence[str]], *,
                 mx: Mapping[str, str] | None = None, ns: Mapping[str, str] | None = None
                 ) -> None:
        self.domain = domain
        self.hosts = hosts
        self.mx = dict(mx or {})
        self.ns = dict(ns or {})
        self.port = 0
        self._root = world_dir(prefix="netmon-dns-")
        self.log_path = self._root / "dnsmasq.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        """What ``ipv6.resolvers`` takes."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Dnsmasq:
        if not DNSMASQ.exists():
            raise RuntimeError(f"{DNSMASQ} missing: run scripts/install-deps.sh")
        hosts_file = self._root / "hosts"
        hosts_file.write_text("".join(f"{addr} {name}\n" for name, addrs in self.hosts.items()
                                      for addr in addrs))
        hosts_file.chmod(0o644)
        self.port = free_udp_port(also_ipv6=True)
        args = [str(DNSMASQ), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", f"--addn-hosts={hosts_file}", f"--port={self.port}",
                "--listen-address=127.0.0.1,::1", "--bind-interfaces", "--user=root",
                f"--local=/{self.domain}/", f"--pid-file={self._root / 'pid'}",
                f"--log-facility={self.log_path}", "--log-queries"]
        args += [f"--mx-host={domain},{host},10" for domain, host in self.mx.items()]
        args += [f"--dns-rr={zone},2,{wire_name(host)}" for zone, host in self.ns.items()]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RuntimeError(f"dnsmasq exited: {err}")
            if _answers(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dnsmasq did not answer on port {self.port}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Dnsmasq:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
