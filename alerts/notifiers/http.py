"""HTTP delivery shared by the webhook and Alertmanager receivers.

Step: dispatcher -> **notifiers (HTTP)**. One POST, its outcome mapped onto
the queue's retry policy: 2xx delivered; 5xx, 429 (honouring Retry-After),
timeouts and connection errors retried with backoff; any other status
refused for good (the same request would be refused again) and logged.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path

import aiohttp

from alerts.notifiers.base import DeliveryError

__all__ = ["post", "redact", "tls_context"]


def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    """Verification is on unless the config turns it off (``tls_verify: false``)."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced (a server may echo our headers back)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "**********")
    return text


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: Mapping[str, str], *, timeout_s: float,
               ssl_context: ssl.SSLContext | None, secrets: Iterable[str] = ()) -> None:
    """POST ``body`` to ``url``; raise ``DeliveryError`` unless the answer is 2xx.

    The error's message never contains any of ``secrets``.
    """
    try:
        await _post(session, url, body, headers, timeout_s=timeout_s,
                    ssl_context=ssl_context)
    except DeliveryError as exc:
        raise DeliveryError(redact(str(exc), secrets), retryable=exc.retryable,
                            retry_after_s=exc.retry_after_s) from None


async def _post(session: aiohttp.ClientSession, url: str, body: bytes,
                headers: Mapping[str, str], *, timeout_s: float,
                ssl_context: ssl.SSLContext | None) -> None:
    try:
        tls = ssl_context if url.startswith("https:") and ssl_context is not None else True
        async with session.post(url, data=body, headers=dict(headers), ssl=tls,
                                timeout=aiohttp.ClientTimeout(total=timeout_s),
                                allow_redirects=False) as resp:
            if 200 <= resp.status < 300:
                return
            detail = (await resp.text(errors="replace"))[:200].strip()
            what = f"{url}: HTTP {resp.status}" + (f": {detail}" if detail else "")
            if resp.status == 429:
                raise DeliveryError(what, retry_after_s=_retry_after(
                    resp.headers.get("Retry-After")))
            raise DeliveryError(what, retryable=resp.status >= 500)
    except TimeoutError:
        raise DeliveryError(f"{url}: no answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{url}: {exc.__class__.__name__}: {exc}") from None
