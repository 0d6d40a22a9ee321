"""sd_notify client against real AF_UNIX datagram sockets bound by the test."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.sdnotify import SdNotifier


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    yield address, sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"netmon-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    yield "@" + name, sock
    sock.close()


def recv(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> tuple[str, socket.socket]:
    return request.getfixturevalue(f"{request.param}_socket")


def test_lifecycle_messages_reach_the_socket(receiver: tuple[str, socket.socket]) -> None:
    address, sock = receiver
    with SdNotifier({"NOTIFY_SOCKET": address}) as notifier:
        assert notifier.enabled

        assert notifier.ready()
        assert recv(sock) == ["READY=1"]

        assert notifier.ready(status="polling 42 targets")
        assert recv(sock) == ["READY=1", "STATUS=polling 42 targets"]

        before_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert notifier.reloading()
        after_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        reloading, monotonic = recv(sock)
        assert reloading == "RELOADING=1"
        key, _, value = monotonic.partition("=")
        assert key == "MONOTONIC_USEC"
        assert before_usec <= int(value) <= after_usec

        assert notifier.watchdog()
        assert recv(sock) == ["WATCHDOG=1"]

        assert notifier.status("3 of 40 targets unreachable")
        assert recv(sock) == ["STATUS=3 of 40 targets unreachable"]

        assert notifier.stopping()
        assert recv(sock) == ["STOPPING=1"]


def test_status_newlines_cannot_inject_assignments(path_socket: tuple[str, socket.socket]) -> None:
    address, sock = path_socket
    notifier = SdNotifier({"NOTIFY_SOCKET": address})
    notifier.status("bad\nREADY=1")
    assert recv(sock) == ["STATUS=bad READY=1"]
    notifier.close()


def test_reads_os_environ_by_default(
    path_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    address, sock = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    with SdNotifier() as notifier:
        notifier.ready()
    assert recv(sock) == ["READY=1"]


@pytest.mark.parametrize("value", [None, "", "vsock:2:1234", "@", "relative/path"])
def test_no_socket_is_a_no_op(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    env = {} if value is None else {"NOTIFY_SOCKET": value}
    notifier = SdNotifier(env)
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.reloading() is False
    assert notifier.stopping() is False
    assert notifier.watchdog() is False
    assert notifier.status("x") is False
    notifier.close()


def test_send_failure_never_raises_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="netmon.sdnotify")
    notifier = SdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    failures = [r for r in caplog.records if "sd_notify" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.DEBUG
    notifier.close()


def test_receiver_gone_after_first_send(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    notifier = SdNotifier({"NOTIFY_SOCKET": address})
    assert notifier.ready()
    sock.close()
    os.unlink(address)
    assert notifier.watchdog() is False
    notifier.close()


WATCHDOG_CASES = [
    # (id, env, expected interval_s)
    ("60s watchdog, our pid", {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "SELF"}, 30.0),
    ("no WATCHDOG_PID", {"WATCHDOG_USEC": "60000000"}, 30.0),
    ("sub-second", {"WATCHDOG_USEC": "500000"}, 0.25),
    ("inherited from parent", {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),
    ("pid not a number", {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "x"}, None),
    ("unset", {}, None),
    ("zero", {"WATCHDOG_USEC": "0"}, None),
    ("negative", {"WATCHDOG_USEC": "-5"}, None),
    ("garbage", {"WATCHDOG_USEC": "60s"}, None),
    ("empty", {"WATCHDOG_USEC": ""}, None),
]


@pytest.mark.parametrize(
    ("env", "expected_s"), [c[1:] for c in WATCHDOG_CASES], ids=[c[0] for c in WATCHDOG_CASES]
)
def test_watchdog_interval(env: dict[str, str], expected_s: float | None) -> None:
    env = {k: (str(os.getpid()) if v == "SELF" else v) for k, v in env.items()}
    assert SdNotifier(env).watchdog_interval_s() == expected_s


def test_watchdog_interval_works_without_notify_socket() -> None:
    # Interval is independent of whether the socket is set; pinging is then a no-op.
    notifier = SdNotifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert notifier.watchdog_interval_s() == 10.0
    assert notifier.watchdog() is False
