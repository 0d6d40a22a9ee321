"""Waiting for real peers in tests: poll a condition, GET a URL (urllib, no client library),
a free loopback port for a peer, and stopping a peer's process.

Step: test helpers, shared by tests/netmon/conftest.py and the test modules that need
them (imported by module name, as tests/agents.py and tests/vmetrics.py are: pytest's
``conftest`` modules share one name and cannot be imported reliably).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it has not exited within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str,
             step_s: float = 0.05) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(step_s)


@dataclass(slots=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> object:
        return json.loads(self.body)


def http_get(url: str, token: str | None = None, timeout_s: float = 5.0) -> HttpAnswer:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return HttpAnswer(resp.status, resp.read().decode(), dict(resp.headers))
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.read().decode(), dict(exc.headers))
