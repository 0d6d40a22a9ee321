"""Agency services over IPv6: does a citizen with only IPv6 reach the portal, DNS and mail?

Step: scheduler -> **collectors** (ipv6, its service half) -> samples (``ipv6_service``).

For each service a target lists (netmon.config.Service), as the public IPv6
monitors of government agencies check it:

1. an AAAA record exists (portal: its host; dns: the zone's NS hosts; mail:
   the domain's MX hosts, or the domain itself when it has no MX, RFC 5321);
2. an address answers TCP on the service port over IPv6 (443/80, 53, 25, or
   the service's ``port``);
3. the application answers over IPv6: an HTTPS portal returns an HTTP
   response through TLS with a certificate that validates (against
   ``ipv6.ca_file`` or the system's CAs) for the host name; a name server
   answers a query for the zone over TCP; a mail server greets with 220.

Colour: **red** no AAAA record, **yellow** an address but nothing works over
it, **green** at least one address works end to end, **grey** deliberately not
offered over IPv6 (``offered: false``). A lookup that fails for want of a
resolver (timeout, no answer from it) is not the agency's fault: the sample
then carries ``error`` and no colour, and nothing is judged on it.

DNS goes through ``ipv6.resolvers`` (dnspython), never the system's stub
resolver, so the tests point it at a DNS server on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from collectors.ipv6_options import Ipv6Options
from netmon.model import IPV6_SERVICE, Sample

if TYPE_CHECKING:
    from netmon.config import Service, Target

DEFAULT_PORT = {"portal": 443, "dns": 53, "mail": 25}
MAX_ADDRESSES = 4
"""Addresses tried per host name (a portal behind a CDN may publish many)."""


class ResolverFailed(Exception):
    """The resolver itself failed (timeout, no server answered): nothing known of the name."""


@dataclass(slots=True)
class ServiceResult:
    colour: str | None = None
    reasons: list[str] = field(default_factory=list)
    aaaa: int = 0
    tcp: bool = False
    working: bool = False
    http_status: int | None = None
    tls_valid: bool | None = None
    address: str = ""
    error: str | None = None


def split_server(text: str) -> tuple[str, int]:
    """``127.0.0.1:5353`` / ``[::1]:53`` / ``2001:db8::53`` / ``192.0.2.53`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, 53


def make_resolver(options: Ipv6Options) -> dns.asyncresolver.Resolver:
    if not options.resolvers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*split_server(s))
                                for s in options.resolvers]
    resolver.lifetime = options.dns_timeout_s
    resolver.timeout = options.dns_timeout_s
    return resolver


def make_tls_context(options: Ipv6Options) -> ssl.SSLContext:
    """Certificates must validate for the host name, against ``ca_file`` or the system CAs."""
    return ssl.create_default_context(cafile=options.ca_file)


async def _lookup(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> list[str]:
    """Record texts; [] when the name or the type does not exist; ResolverFailed otherwise."""
    try:
        answer = await resolver.resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise ResolverFailed(f"{rdtype} lookup of {name} failed: {exc}") from None
    if rdtype == "MX":
        ranked = sorted(answer, key=lambda r: r.preference)  # type: ignore[attr-defined]
        return [r.exchange.to_text(omit_final_dot=True) for r in ranked]  # type: ignore[attr-defined]
    if rdtype == "NS":
        return [r.target.to_text(omit_final_dot=True) for r in answer]  # type: ignore[attr-defined]
    return [r.to_text() for r in answer]


def _portal(service: Service) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a portal given as URL or host name (then HTTPS)."""
    text = service.name
    if "://" not in text:
        text = f"https://{text}/"
    url = urlsplit(text)
    scheme = url.scheme.lower()
    host = url.hostname or ""
    port = service.port or url.port or (443 if scheme == "https" else 80)
    path = url.path or "/"
    if url.query:
        path += f"?{url.query}"
    return scheme, host, port, path


async def _http(address: str, port: int, host: str, path: str, tls: ssl.SSLContext | None,
                timeout_s: float) -> int:
    """One GET over IPv6 to ``address``; the HTTP status. TLS is checked for ``host``."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(
            address, port, ssl=tls, server_hostname=host if tls else None)
        try:
            name = f"[{host}]" if ":" in host else host  # an IPv6 literal is bracketed
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: netmon-ipv6\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    parts = line.decode("latin-1").split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {line[:60]!r}")
    return int(parts[1])


async def _tcp(address: str, port: int, timeout_s: float) -> bytes:
    """Connect over IPv6; the first line the server says, if it speaks first (SMTP)."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(address, port)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                return await reader.readline()
        return b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _err(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate does not validate ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, OSError):
        # asyncio words a refused connection "Connect call failed (...)": say what errno says.
        return os.strerror(exc.errno) if exc.errno else exc.strerror or str(exc)
    return str(exc)


class ServiceChecker:
    """Checks services with one resolver and TLS context (built once per collector)."""

    def __init__(self, options: Ipv6Options) -> None:
        self.options = options
        self.resolver = make_resolver(options)
        self.tls = make_tls_context(options)

    async def check(self, service: Service) -> ServiceResult:
        result = ServiceResult()
        if not service.offered:
            result.colour = "grey"
            result.reasons.append("not offered over IPv6 (set in the config)")
            return result
        try:
            await self._check(service, result)
        except ResolverFailed as exc:
            result.colour = None
            result.error = str(exc)
        return result

    async def _check(self, service: Service, result: ServiceResult) -> None:
        kind = service.kind
        if kind == "portal":
            scheme, host, port, path = _portal(service)
            hosts = [host]
        elif kind == "dns":
            hosts = await _lookup(self.resolver, service.name, "NS")
            port = service.port or DEFAULT_PORT["dns"]
            if not hosts:
                result.colour = "red"
                result.reasons.append(f"no NS records for {service.name}")
                return
        else:
            hosts = await _lookup(self.resolver, service.name, "MX") or [service.name]
            port = service.port or DEFAULT_PORT["mail"]
        addresses: list[tuple[str, str]] = []
        for host in hosts:
            literal = _ip_literal(host)
            if literal is not None:  # https://[2001:db8::1]/ needs no lookup
                if literal.version == 6:
                    addresses.append((host, str(literal)))
                else:
                    result.reasons.append(f"{host} is an IPv4 address")
                continue
            found = await _lookup(self.resolver, host, "AAAA")
            if not found:
                result.reasons.append(f"no AAAA record for {host}")
            addresses += [(host, a) for a in found[:MAX_ADDRESSES]]
        result.aaaa = len(addresses)
        if not addresses:
            result.colour = "red"
            return
        timeout = self.options.connect_timeout_s
        for host, address in addresses:
            where = f"[{address}]:{port}"
            result.address = result.address or address
            try:
                if kind == "portal":
                    tls = self.tls if scheme == "https" else None
                    status = await _http(address, port, host, path, tls, timeout)
                    result.tcp = True
                    result.http_status = status
                    if tls is not None:
                        result.tls_valid = True
                    if status >= 500:
                        result.reasons.append(f"{host} at {where}: HTTP {status}")
                        continue
                elif kind == "dns":
                    query = dns.message.make_query(service.name, dns.rdatatype.SOA)
                    reply = await dns.asyncquery.tcp(query, address, timeout=timeout, port=port)
                    result.tcp = True
                    if reply.rcode() in (dns.rcode.REFUSED, dns.rcode.SERVFAIL):
                        result.reasons.append(f"{host} at {where}: answers "
                                              f"{dns.rcode.to_text(reply.rcode())} for the zone")
                        continue
                else:
                    banner = await _tcp(address, port, timeout)
                    result.tcp = True
                    if not banner.startswith(b"220"):
                        result.reasons.append(f"{host} at {where}: no SMTP greeting (220)")
                        continue
            except ssl.SSLCertVerificationError as exc:
                result.tcp = True
                result.tls_valid = False
                result.reasons.append(f"{host} at {where}: {_err(exc)}")
                continue
            except (OSError, TimeoutError, ValueError, dns.exception.DNSException) as exc:
                # OSError covers refused and unreachable connections and TLS errors.
                result.reasons.append(f"{host} at {where}: {_err(exc)}")
                continue
            result.working = True
            result.address = address
            break
        result.colour = "green" if result.working else "yellow"
        if result.working:
            result.reasons = [r for r in result.reasons if r.startswith("no AAAA")]


def service_tags(target: Target, service: Service) -> dict[str, str]:
    tags = {"device": target.name, "site": target.site, "tier": target.tier}
    if target.province:
        tags["province"] = target.province
    tags["agency"] = service.agency or target.site
    tags["service"] = service.name
    tags["kind"] = service.kind
    return tags


def service_sample(target: Target, service: Service, result: ServiceResult,
                   ts: datetime) -> Sample:
    fields: dict[str, float | int | str | bool] = {"reasons": "; ".join(result.reasons)}
    if result.colour is not None:
        fields["colour"] = result.colour
    if result.error is not None:
        fields["error"] = result.error
    if result.colour not in (None, "grey"):
        fields.update(aaaa=result.aaaa, tcp=result.tcp, working=result.working)
    if result.http_status is not None:
        fields["http_status"] = result.http_status
    if result.tls_valid is not None:
        fields["tls_valid"] = result.tls_valid
    if result.address:
        fields["address"] = result.address
    return Sample(target.name, IPV6_SERVICE, service_tags(target, service), fields, ts)


async def check_services(target: Target, options: Ipv6Options,
                         checker: ServiceChecker | None = None) -> list[Sample]:
    """One ``ipv6_service`` sample per service of ``target``, checked concurrently."""
    checker = checker or ServiceChecker(options)
    limit = asyncio.Semaphore(options.concurrency)

    async def one(service: Service) -> Sample:
        async with limit:
            result = await checker.check(service)
        return service_sample(target, service, result, datetime.now(UTC))

    services: Sequence[Service] = target.services
    return list(await asyncio.gather(*(one(s) for s in services)))
