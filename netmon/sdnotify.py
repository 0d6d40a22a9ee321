"""sd_notify client: daemon lifecycle -> systemd.

Step: daemon lifecycle -> systemd. The daemon tells the service manager when it
is ready, reloading, stopping and still alive (watchdog), over the datagram
socket named by ``$NOTIFY_SOCKET`` (see sd_notify(3)). No dependency on
libsystemd: the protocol is one ``KEY=VALUE`` per line in one datagram.

Without ``$NOTIFY_SOCKET`` (run from a shell, in tests, under another
supervisor) every method is a no-op. A failed send is logged once at debug
level and otherwise ignored: telling systemd about the daemon must never take
the daemon down. Sends are non-blocking, so calling from the event loop is fine.

Reload protocol (``Type=notify``; on systemd >= 253 also ``Type=notify-reload``)::

    notifier.reloading()   # on SIGHUP, before re-reading the YAML
    ...                    # re-read, validate, swap
    notifier.ready()       # reload finished (also when it failed: old config kept)
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

__all__ = ["SdNotifier"]

log = logging.getLogger(__name__)

# Linux: do not raise SIGPIPE if the peer went away; 0 elsewhere.
_MSG_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


def _monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC= with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _one_line(text: str) -> str:
    """A value must not carry a newline: it would start another KEY=VALUE assignment."""
    return " ".join(text.splitlines()).strip()


def _address(value: str | None) -> str | bytes | None:
    """``$NOTIFY_SOCKET`` -> an AF_UNIX address, or None when unset or unsupported.

    ``/path`` is a filesystem socket; ``@name`` is an abstract socket (leading NUL).
    Other forms (``vsock:`` from systemd >= 254) are not supported and disable sending.
    """
    if not value:
        return None
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    log.debug("NOTIFY_SOCKET=%r is not a unix socket address; notifications disabled", value)
    return None


class SdNotifier:
    """Sends service state to systemd. All methods are no-ops when not run by systemd.

    ``environ`` defaults to ``os.environ`` and is read once, at construction.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._env = dict(env)
        self._address = _address(env.get("NOTIFY_SOCKET"))
        self._sock: socket.socket | None = None
        self._failed_logged = False

    @property
    def enabled(self) -> bool:
        """True when ``$NOTIFY_SOCKET`` names a socket to send to."""
        return self._address is not None

    # -- lifecycle -------------------------------------------------------------

    def ready(self, status: str | None = None) -> bool:
        """Startup (or a reload) finished: the daemon is polling."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(f"STATUS={_one_line(status)}")
        return self.notify(*lines)

    def reloading(self) -> bool:
        """A reload started; follow with :meth:`ready` when it has finished.

        ``MONOTONIC_USEC`` is what systemd >= 253 requires with ``Type=notify-reload``;
        older managers ignore the unknown field.
        """
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={_monotonic_usec()}")

    def stopping(self) -> bool:
        """Shutdown started (flushing sinks); systemd stops expecting watchdog pings."""
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        """Keep-alive ping; send every :meth:`watchdog_interval_s` seconds."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Free-form one-line status shown by ``systemctl status``."""
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half of ``$WATCHDOG_USEC``, or None if the watchdog is off.

        Off means: ``WATCHDOG_USEC`` unset, not a positive integer, or
        ``WATCHDOG_PID`` set to another process (the variable was inherited).
        """
        pid = self._env.get("WATCHDOG_PID")
        if pid is not None:
            try:
                if int(pid) != os.getpid():
                    return None
            except ValueError:
                return None
        try:
            usec = int(self._env.get("WATCHDOG_USEC", ""))
        except ValueError:
            return None
        if usec <= 0:
            return None
        return usec / 2 / 1_000_000

    # -- transport -------------------------------------------------------------

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram. True if sent; never raises."""
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(payload, _MSG_NOSIGNAL, self._address)
        except OSError as exc:
            if not self._failed_logged:
                self._failed_logged = True
                log.debug("sd_notify to %r failed (further failures not logged): %s",
                          self._address, exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
