"""Agency services over IPv6 against real servers on loopback.

dnsmasq (127.0.0.1 and [::1]) is the resolver and the agency's name server;
aiohttp serves the portals over HTTPS on [::1] with certificates from a test
CA made here with ``cryptography``; aiosmtpd is the agency's mail server on
[::1]. One service of each colour, and the ways a service is yellow.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dnsmasq import Dnsmasq
from pydantic import SecretStr

from collectors.ipv6 import Ipv6Options
from collectors.ipv6_services import ServiceChecker, check_services, split_server
from netmon.config import Target
from netmon.credentials import SnmpV2c
from netmon.model import IPV6_SERVICE

DOMAIN = "gov.test"


# -- a test CA and certificates ---------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "netmon test CA") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn))
            .issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, host: str, out: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = out / f"{host}.crt", out / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = make_ca()
    (out / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    rogue_key, rogue_cert = make_ca("rogue CA")  # a CA the checker does not trust
    paths = {"ca": out / "ca.pem"}
    for host in (f"green.{DOMAIN}", f"wrongname.{DOMAIN}", f"error.{DOMAIN}"):
        paths[host] = make_leaf(ca_key, ca_cert, host, out)[0]
    make_leaf(ca_key, ca_cert, f"other.{DOMAIN}", out)
    make_leaf(rogue_key, rogue_cert, f"untrusted.{DOMAIN}", out)
    return {**paths, "dir": out}


def free_tcp6_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


async def https_site(pki: dict[str, Path], cert_host: str, status: int = 200
                     ) -> tuple[web.AppRunner, int]:
    """An aiohttp HTTPS server on [::1] presenting ``cert_host``'s certificate."""
    async def index(_: web.Request) -> web.Response:
        return web.Response(text="portal", status=status)

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    d = pki["dir"]
    ctx.load_cert_chain(d / f"{cert_host}.crt", d / f"{cert_host}.key")
    port = free_tcp6_port()
    await web.TCPSite(runner, "::1", port, ssl_context=ctx).start()
    return runner, port


# -- the services world --------------------------------------------------------------------

HOSTS = {
    f"green.{DOMAIN}": ["::1", "127.0.0.1"],
    f"closed.{DOMAIN}": ["::1", "127.0.0.1"],
    f"untrusted.{DOMAIN}": ["::1"],
    f"wrongname.{DOMAIN}": ["::1"],
    f"error.{DOMAIN}": ["::1"],
    f"red.{DOMAIN}": ["127.0.0.1"],             # IPv4 only: no AAAA
    f"grey.{DOMAIN}": ["127.0.0.1"],
    f"ns1.{DOMAIN}": ["::1", "127.0.0.1"],
    f"mx.{DOMAIN}": ["::1"],
    f"mx4.{DOMAIN}": ["127.0.0.1"],
}


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[Dnsmasq]:
    with Dnsmasq(DOMAIN, HOSTS, mx={f"mail.{DOMAIN}": f"mx.{DOMAIN}",
                                    f"mail4.{DOMAIN}": f"mx4.{DOMAIN}"},
                 ns={DOMAIN: f"ns1.{DOMAIN}"}) as server:
        yield server


@pytest.fixture
async def smtp() -> AsyncIterator[int]:
    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_tcp6_port()
    controller = Controller(Sink(), hostname="::1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
async def portals(pki) -> AsyncIterator[dict[str, int]]:
    runners = []
    ports = {}
    for name, cert_host, status in (("green", f"green.{DOMAIN}", 200),
                                    ("untrusted", f"untrusted.{DOMAIN}", 200),
                                    ("wrongname", f"other.{DOMAIN}", 200),
                                    ("error", f"error.{DOMAIN}", 503)):
        runner, port = await https_site(pki, cert_host, status)
        runners.append(runner)
        ports[name] = port
    ports["closed"] = free_tcp6_port()  # nothing listens there
    try:
        yield ports
    finally:
        for runner in runners:
            await runner.cleanup()


def options(dnsmasq: Dnsmasq, pki: dict[str, Path]) -> Ipv6Options:
    return Ipv6Options(resolvers=[dnsmasq.server], ca_file=str(pki["ca"]),
                       dns_timeout="2s", connect_timeout="2s")


def target(services: list[dict]) -> Target:
    return Target.model_validate({
        "name": "mof-gw", "site": "MOF", "tier": "ministry", "address": "127.0.0.1",
        "snmp": SnmpV2c(version="2c", community=SecretStr("x")), "services": services,
    })


def by_service(samples) -> dict[str, dict]:
    return {s.tags["service"]: s for s in samples if s.measurement == IPV6_SERVICE}


async def test_one_service_of_each_colour(dnsmasq, pki, portals, smtp):
    t = target([
        {"portal": f"https://green.{DOMAIN}:{portals['green']}/", "agency": "MOF"},
        {"portal": f"https://closed.{DOMAIN}:{portals['closed']}/"},
        {"portal": f"red.{DOMAIN}"},
        {"portal": f"https://grey.{DOMAIN}/", "offered": False},
        {"dns": DOMAIN, "port": dnsmasq.port},
        {"mail": f"mail.{DOMAIN}", "port": smtp},
    ])
    got = by_service(await check_services(t, options(dnsmasq, pki)))
    colours = {name: s.fields.get("colour") for name, s in got.items()}
    assert colours == {
        f"https://green.{DOMAIN}:{portals['green']}/": "green",
        f"https://closed.{DOMAIN}:{portals['closed']}/": "yellow",
        f"red.{DOMAIN}": "red",
        f"https://grey.{DOMAIN}/": "grey",
        DOMAIN: "green",
        f"mail.{DOMAIN}": "green",
    }
    green = got[f"https://green.{DOMAIN}:{portals['green']}/"]
    assert green.fields["http_status"] == 200
    assert green.fields["tls_valid"] is True
    assert green.fields["address"] == "::1"
    assert green.tags == {"device": "mof-gw", "site": "MOF", "tier": "ministry",
                          "agency": "MOF", "service": green.tags["service"], "kind": "portal"}
    closed = got[f"https://closed.{DOMAIN}:{portals['closed']}/"]
    assert closed.fields["reasons"] == (f"closed.{DOMAIN} at [::1]:{portals['closed']}: "
                                        "Connection refused")
    assert got[f"red.{DOMAIN}"].fields["reasons"] == f"no AAAA record for red.{DOMAIN}"
    assert got[f"red.{DOMAIN}"].fields["aaaa"] == 0
    assert got[f"https://grey.{DOMAIN}/"].fields["reasons"] == \
        "not offered over IPv6 (set in the config)"
    assert got[DOMAIN].tags["kind"] == "dns"
    assert got[f"mail.{DOMAIN}"].fields["tcp"] is True


@pytest.mark.parametrize(("name", "reason"), [
    ("untrusted", "TLS certificate does not validate (unable to get local issuer certificate)"),
    ("wrongname", "TLS certificate does not validate (Hostname mismatch, certificate is not "
                  f"valid for 'wrongname.{DOMAIN}'.)"),
    ("error", "HTTP 503"),
])
async def test_portal_yellow_when_not_working(dnsmasq, pki, portals, name, reason):
    url = f"https://{name}.{DOMAIN}:{portals[name]}/"
    (s,) = await check_services(target([{"portal": url}]), options(dnsmasq, pki))
    assert s.fields["colour"] == "yellow"
    assert s.fields["reasons"] == f"{name}.{DOMAIN} at [::1]:{portals[name]}: {reason}"
    assert s.fields["tcp"] is True


async def test_same_portal_green_with_its_ca_and_yellow_without(dnsmasq, pki, portals):
    url = f"https://green.{DOMAIN}:{portals['green']}/"
    (trusted,) = await check_services(target([{"portal": url}]), options(dnsmasq, pki))
    assert trusted.fields["colour"] == "green"
    # The system CAs do not know the test CA: the certificate does not validate.
    system = Ipv6Options(resolvers=[dnsmasq.server], connect_timeout="2s")
    (untrusted,) = await check_services(target([{"portal": url}]), system)
    assert untrusted.fields["colour"] == "yellow"
    assert untrusted.fields["tls_valid"] is False


async def test_portal_by_address(dnsmasq, pki, portals):
    # An IPv6 literal needs no AAAA record (the certificate is not for it: yellow, but
    # reached); an IPv4 literal has no IPv6 address at all: red.
    (v6,) = await check_services(target([{"portal": f"https://[::1]:{portals['green']}/"}]),
                                 options(dnsmasq, pki))
    assert v6.fields["colour"] == "yellow" and v6.fields["tcp"] is True
    assert "TLS certificate does not validate" in v6.fields["reasons"]
    (v4,) = await check_services(target([{"portal": "https://127.0.0.1/"}]),
                                 options(dnsmasq, pki))
    assert v4.fields["colour"] == "red"
    assert v4.fields["reasons"] == "127.0.0.1 is an IPv4 address"


async def test_mail_without_ipv6_mx_is_red(dnsmasq, pki):
    (s,) = await check_services(target([{"mail": f"mail4.{DOMAIN}"}]), options(dnsmasq, pki))
    assert s.fields["colour"] == "red"
    assert s.fields["reasons"] == f"no AAAA record for mx4.{DOMAIN}"


async def test_mail_server_that_is_not_listening_is_yellow(dnsmasq, pki):
    port = free_tcp6_port()
    (s,) = await check_services(target([{"mail": f"mail.{DOMAIN}", "port": port}]),
                                options(dnsmasq, pki))
    assert s.fields["colour"] == "yellow"
    assert s.fields["reasons"] == f"mx.{DOMAIN} at [::1]:{port}: Connection refused"


async def test_zone_without_ns_is_red(dnsmasq, pki):
    (s,) = await check_services(target([{"dns": f"nozone.{DOMAIN}"}]), options(dnsmasq, pki))
    assert s.fields["colour"] == "red"
    assert s.fields["reasons"] == f"no NS records for nozone.{DOMAIN}"


async def test_resolver_down_is_an_error_not_a_colour(pki):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        opts = Ipv6Options(resolvers=[f"127.0.0.1:{silent.getsockname()[1]}"],
                           dns_timeout="500ms", ca_file=str(pki["ca"]))
        (s,) = await check_services(target([{"portal": f"green.{DOMAIN}"}]), opts)
    finally:
        silent.close()
    assert "colour" not in s.fields
    assert s.fields["error"].startswith(f"AAAA lookup of green.{DOMAIN} failed")


def test_resolver_addresses():
    assert split_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert split_server("192.0.2.53") == ("192.0.2.53", 53)
    assert split_server("[::1]:5300") == ("::1", 5300)
    assert split_server("2001:db8::53") == ("2001:db8::53", 53)
    checker = ServiceChecker(Ipv6Options(resolvers=["[::1]:5300", "127.0.0.1"]))
    assert [(str(ipaddress.ip_address(n.address)), n.port)
            for n in checker.resolver.nameservers] == [("::1", 5300), ("127.0.0.1", 53)]
