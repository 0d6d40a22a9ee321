"""Real alert receivers on loopback for the notifier and dispatcher tests.

* ``Alertmanager``: the Debian ``prometheus-alertmanager`` binary on a free
  127.0.0.1 port, its own storage path, clustering off
  (``--cluster.listen-address=``), a minimal config routing everything to a
  receiver with no integrations. ``alerts()`` reads ``GET /api/v2/alerts``,
  which lists only alerts whose ``endsAt`` lies in the future: a resolved
  alert disappears from it.
* ``WebhookServer``: an aiohttp server answering from a script of statuses
  (then 200), recording every request; ``hang=True`` never answers.
* ``SmtpServer``: aiosmtpd (its thread-based ``Controller``) keeping every
  message it receives, optionally requiring AUTH.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from waiting import free_port, stop_process

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


async def eventually(check: Any, timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last: {got!r})")
        await asyncio.sleep(interval_s)


class Alertmanager:
    CONFIG = """\
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
"""

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.work_dir / f"alertmanager-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> Alertmanager:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "alertmanager.yml"
        config.write_text(self.CONFIG)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={config}",
                 f"--storage.path={self.work_dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--cluster.listen-address=", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"alertmanager not ready after {timeout_s}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds as active now."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as resp:
            return json.loads(resp.read())

    def __enter__(self) -> Alertmanager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    """``statuses``: what the next requests get (then 200 for ever)."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    echo_headers: bool = False
    """Error answers carry the request's headers (as some proxies do)."""
    retry_after: str | None = None
    """Retry-After on 429 answers."""
    ssl_context: Any = None
    """Serve HTTPS with this server context."""
    host: str = "127.0.0.1"
    status_for: Any = None
    """``status_for(received) -> int | None``: a status chosen by the request itself."""
    requests: list[Received] = field(default_factory=list)
    delivered: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(dict(request.headers), await request.read())
        self.requests.append(got)
        if self.hang:
            await asyncio.sleep(3600)
        chosen = self.status_for(got) if self.status_for is not None else None
        scripted = self.statuses.pop(0) if self.statuses else 200
        status = chosen if chosen is not None else scripted
        if 200 <= status < 300:
            self.delivered.append(got)
        text = "ok" if status < 300 else "nope"
        if self.echo_headers and status >= 300:
            text = json.dumps({k: got.headers.get(k) for k in ("Authorization", "Host")})
        headers = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
        return web.Response(status=status, text=text, headers=headers)

    async def start(self) -> WebhookServer:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> WebhookServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class _Handler:
    def __init__(self, sink: list[EmailMessage]) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        self.sink.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``credentials`` (user, password) makes AUTH mandatory."""

    def __init__(self, credentials: tuple[str, str] | None = None, **kwargs: Any) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.port = free_port()
        auth: dict[str, Any] = {}
        if credentials is not None:
            def check(server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> Any:
                from aiosmtpd.smtp import AuthResult
                ok = (data.login.decode(), data.password.decode()) == credentials
                return AuthResult(success=ok, handled=False)  # failure: a 535 reply
            auth = {"authenticator": check, "auth_required": True}
        self.controller = Controller(_Handler(self.messages), hostname="127.0.0.1",
                                     port=self.port, **auth, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def subjects(messages: Iterable[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in messages]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (SAN IP) and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> Any:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
