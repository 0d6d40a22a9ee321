"""Fixtures for the daemon, HTTP API and CLI tests: a simulated network, configs, daemons.

Step: test peers around ``netmon run`` / ``netmon poll`` / ``netmon query``.
Everything is real and on loopback: snmpsim serves generated recordings
(netmon.simnet), VictoriaMetrics stores what the daemon writes
(tests/vmetrics.py), and the daemon runs as its own process, stopped with real
signals.

The simulated devices are named so that their slot offsets
(``netmon.daemon.slot_offset_s``) lie close together: at 1 s intervals they
are all polled between 0.70 s and 0.78 s past each second, which leaves a
quiet window in every interval where a test can read /metrics and send a
signal without a poll in flight (see ``quiet_moment``).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from vmetrics import VictoriaMetrics, free_port
from waiting import HttpAnswer, http_get, wait_for

from netmon import simnet
from netmon.daemon import slot_offset_s
from netmon.simnet import SimInterface

NETMON = [sys.executable, "-m", "netmon.cli"]
HTTP_TOKEN = "http-t0ken-for-tests"
INFLUX_TOKEN = "influx-t0ken-for-tests"

# name -> interfaces; rates are bit/s. Offsets at 1 s: core-a .701, core-b .704, pe-2 .756.
DEVICES: dict[str, list[SimInterface]] = {
    "core-a": [
        SimInterface(1, "xe-0/0/0", "PLANE-A to core-b", 10_000, 420e6, 380e6),
        SimInterface(2, "xe-0/0/1", "PLANE-A to prov-north", 10_000, 150e6, 90e6),
        SimInterface(3, "ge-0/0/9", "mgmt", 1_000, 1e6, 1e6),
    ],
    "core-b": [
        SimInterface(1, "xe-0/0/0", "PLANE-B to core-a", 10_000, 690e6, 420e6),
    ],
    "pe-2": [
        SimInterface(1, "Gi0/0/0", "UPLINK-A core-a", 1_000, 90e6, 150e6),
    ],
}


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One configured link: selector YAML, and what the simulated traffic should give."""

    yaml: str
    if_name: str
    capacity_bps: int
    in_bps: float
    out_bps: float
    status: str

    @property
    def util_pct(self) -> float:
        return max(self.in_bps, self.out_bps) * 100 / self.capacity_bps


def _link(device: str, if_name: str, selector: str, capacity: str, capacity_bps: int,
          role: str, status: str) -> LinkSpec:
    iface = next(i for i in DEVICES[device] if i.name == if_name)
    return LinkSpec(f"{{{selector}, capacity: {capacity}, role: {role}}}", if_name,
                    capacity_bps, iface.in_bps, iface.out_bps, status)


LINKS: dict[str, list[LinkSpec]] = {
    "core-a": [
        _link("core-a", "xe-0/0/0", "ifName: xe-0/0/0", "1.2G", 1_200_000_000, "plane-a", "ok"),
        _link("core-a", "xe-0/0/1", "ifName: xe-0/0/1", "400M", 400_000_000, "plane-a", "ok"),
    ],
    "core-b": [
        _link("core-b", "xe-0/0/0", "ifName: xe-0/0/0", "1.2G", 1_200_000_000, "plane-b",
              "over_threshold"),
    ],
    "pe-2": [
        _link("pe-2", "Gi0/0/0", "ifAlias: '^UPLINK-A'", "400M", 400_000_000, "uplink", "ok"),
    ],
}


@dataclass(slots=True)
class SimNet:
    """snmpsim on 127.0.0.1:``port``; the community of each device is its name."""

    port: int
    root: Path
    links: dict[str, list[LinkSpec]] = field(default_factory=lambda: dict(LINKS))

    def target(self, name: str, *, community: str | None = None, port: int | None = None,
               links: Iterable[LinkSpec] | None = None, extra: str = "") -> str:
        """One entry of a ``targets:`` list (flow style, one line per target)."""
        items = list(self.links.get(name, []) if links is None else links)
        links_text = ", ".join(link.yaml for link in items)
        return (
            f"  - {{name: {name}, site: SITE-{name.upper()}, tier: backbone, "
            f"address: \"127.0.0.1\", port: {port or self.port}, snmp: {community or name}, "
            f"links: [{links_text}]{extra}}}\n"
        )


@pytest.fixture(scope="session")
def simnet_agent() -> Iterator[SimNet]:
    """One snmpsim for the whole session: the counters grow at constant rates, so tests
    that start later see the same traffic."""
    root = simnet.world_dir("netmon-daemon-tests-")
    data = simnet.install_recordings(
        {name: simnet.device_records(ifaces, sys_name=name) for name, ifaces in DEVICES.items()},
        root,
    )
    agent = simnet.SnmpSimProcess(data)
    agent.start(ready=lambda: simnet.v2c_answers("127.0.0.1", agent.port, "core-a"))
    try:
        yield SimNet(agent.port, root)
    finally:
        agent.cleanup()


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics on a free loopback port; ``stop()``/``start()`` keep port and data."""
    server = VictoriaMetrics(tmp_path / "vm-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- configs ----------------------------------------------------------------------------


@dataclass(slots=True)
class NetmonConfig:
    """A config directory: netmon.yaml, targets/sim.yaml, secrets/, state/."""

    dir: Path
    http_port: int
    interval_s: float
    http_token: str = HTTP_TOKEN

    @property
    def path(self) -> Path:
        return self.dir / "netmon.yaml"

    @property
    def targets_file(self) -> Path:
        return self.dir / "targets" / "sim.yaml"

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"

    def write_targets(self, entries: Iterable[str]) -> None:
        self.targets_file.write_text("targets:\n" + "".join(entries), encoding="utf-8")

    def quiet(self, names: Iterable[str]) -> None:
        """Wait for a moment with no poll of ``names`` in flight (see ``quiet_moment``)."""
        quiet_moment(names, self.interval_s)


def write_config(
    directory: Path,
    targets: Iterable[str],
    *,
    interval: str = "1s",
    influx_url: str | None = None,
    influx: Mapping[str, str] | None = None,
    token: bool = True,
    communities: Iterable[str] = (),
) -> NetmonConfig:
    """netmon.yaml plus a targets file; every secret is a ``file:`` reference."""
    directory.mkdir(parents=True, exist_ok=True)
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    (directory / "targets").mkdir(exist_ok=True)
    profiles = []
    for community in sorted({*DEVICES, *communities}):
        (secrets / community).write_text(community + "\n", encoding="utf-8")
        profiles.append(
            f"  {community}: {{version: \"2c\", community: \"file:secrets/{community}\"}}\n"
        )
    (secrets / "http-token").write_text(HTTP_TOKEN + "\n", encoding="utf-8")
    (secrets / "influx-token").write_text(INFLUX_TOKEN + "\n", encoding="utf-8")
    http_port = free_port()
    http_token = ", token: \"file:secrets/http-token\"" if token else ""
    storage = ""
    if influx_url is not None:
        options = {"url": f'"{influx_url}"', "org": "netmon", "bucket": "netmon",
                   "token": '"file:secrets/influx-token"', "flush_interval": "0.2s",
                   **(influx or {})}
        storage = "storage:\n  influxdb: {" + ", ".join(
            f"{k}: {v}" for k, v in options.items()) + "}\n"
    interval_s = float(interval.removesuffix("s"))
    (directory / "netmon.yaml").write_text(
        f"state_dir: {directory / 'state'}\n"
        "include: [targets/*.yaml]\n"
        f"http: {{listen: \"127.0.0.1:{http_port}\"{http_token}}}\n"
        f"defaults: {{interval: {interval}, timeout: 0.4s, retries: 1}}\n"
        "snmp_profiles:\n" + "".join(profiles) + storage,
        encoding="utf-8",
    )
    config = NetmonConfig(directory, http_port, interval_s)
    config.write_targets(targets)
    return config


# -- /metrics ---------------------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass(slots=True)
class Metrics:
    """Parsed Prometheus text: ``{name: {frozenset(labels): value}}``."""

    families: dict[str, str] = field(default_factory=dict)  # name -> type
    samples: dict[str, dict[frozenset[tuple[str, str]], float]] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        return self.samples[name][frozenset(labels.items())]

    def by(self, name: str, label: str) -> dict[str, float]:
        return {dict(k)[label]: v for k, v in self.samples.get(name, {}).items()}


def parse_prometheus(text: str) -> Metrics:
    """Strict reader of the text exposition format: every line must be a HELP, a TYPE
    before its samples, or ``name{label="value",...} value``. Raises AssertionError."""
    out = Metrics()
    assert text.endswith("\n"), "exposition must end with a newline"
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == "TYPE":
                assert re.fullmatch(_NAME, parts[2]) and len(parts) == 4, f"line {n}: {line!r}"
                assert parts[3] in _TYPES, f"line {n}: unknown type {parts[3]!r}"
                assert parts[2] not in out.families, f"line {n}: second TYPE for {parts[2]}"
                out.families[parts[2]] = parts[3]
            elif len(parts) >= 3 and parts[1] == "HELP":
                assert re.fullmatch(_NAME, parts[2]), f"line {n}: {line!r}"
            continue
        assert line.strip(), f"line {n}: blank line"
        m = _SAMPLE.match(line)
        assert m, f"line {n} is not 'name{{labels}} value': {line!r}"
        name, label_text, value_text = m.groups()
        assert name in out.families, f"line {n}: sample of {name} before its TYPE"
        labels: list[tuple[str, str]] = []
        rest = label_text or ""
        while rest:
            lm = _LABEL.match(rest)
            assert lm, f"line {n}: bad labels {label_text!r}"
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        assert len({k for k, _ in labels}) == len(labels), f"line {n}: repeated label"
        value = float(value_text)  # ValueError on anything that is not a number
        assert not math.isnan(value) or value_text == "NaN", f"line {n}"
        series = out.samples.setdefault(name, {})
        key = frozenset(labels)
        assert key not in series, f"line {n}: duplicate series {line!r}"
        series[key] = value
    return out


# -- the daemon as a process ------------------------------------------------------------


def quiet_moment(names: Iterable[str], interval_s: float, *, after_s: float = 0.35,
                 before_s: float = 0.25) -> None:
    """Sleep until every target's last slot began ``after_s`` ago or more and its next
    one is ``before_s`` or more away: no poll in flight, its points handed to the sink."""
    offsets = [slot_offset_s(n, interval_s) for n in names]
    now = time.time()
    for ms in range(int(interval_s * 2000)):
        t = now + ms / 1000
        if all(after_s <= (t - o) % interval_s <= interval_s - before_s for o in offsets):
            time.sleep(t - now)
            return
    raise AssertionError(f"no quiet window for {list(names)} at {interval_s} s")


class NetmonDaemon:
    """``python -m netmon.cli run --config PATH`` with its stderr in a file."""

    def __init__(self, config: NetmonConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # unix time the process was started

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self, timeout_s: float = 20.0) -> NetmonDaemon:
        with open(self.log_path, "ab") as log:
            self.started_at = time.time()
            self.proc = subprocess.Popen(
                [*NETMON, "run", "--config", str(self.config.path)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"netmon run exited {self.proc.returncode}:\n{self.stderr}")
            try:
                http_get(self.base + "/healthz", timeout_s=1)
            except OSError:
                time.sleep(0.05)
                continue
            return self
        raise AssertionError(f"netmon run did not serve HTTP within {timeout_s} s:\n{self.stderr}")

    def get(self, path: str, token: str | None = HTTP_TOKEN) -> HttpAnswer:
        return http_get(self.base + path, token)

    def json(self, path: str) -> dict:
        answer = self.get(path)
        assert answer.status == 200, (path, answer.status, answer.body)
        return answer.json()  # type: ignore[return-value]

    def metrics(self) -> Metrics:
        answer = self.get("/metrics")
        assert answer.status == 200, answer
        return parse_prometheus(answer.body)

    def targets(self) -> dict[str, dict]:
        return {t["name"]: t for t in self.json("/api/targets")["targets"]}

    def polls(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.metrics().by("netmon_polls_total", "target").items()}

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.stderr
        self.proc.send_signal(sig)

    def terminate(self, timeout_s: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit status, seconds it took). Fails if it takes longer."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"netmon did not exit within {timeout_s} s of SIGTERM:\n{self.stderr}"
            ) from None
        return rc, time.monotonic() - started

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[[NetmonConfig], NetmonDaemon]]:
    """``start_daemon(config)`` -> a running NetmonDaemon; killed at the end if still up."""
    started: list[NetmonDaemon] = []

    def start(config: NetmonConfig) -> NetmonDaemon:
        daemon = NetmonDaemon(config, tmp_path / f"netmon-{len(started)}.log")
        started.append(daemon)
        return daemon.start()

    yield start
    for daemon in started:
        daemon.cleanup()


@pytest.fixture
def netmon_config(tmp_path: Path) -> Callable[..., NetmonConfig]:
    """``netmon_config([sim.target(...), ...], interval="1s", influx_url=..., influx={...})``
    writes a config directory under tmp_path (see ``write_config``)."""
    made: list[Path] = []

    def make(targets: Iterable[str], **kwargs: object) -> NetmonConfig:
        directory = tmp_path / f"netmon-{len(made)}"
        made.append(directory)
        return write_config(directory, targets, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., object]:
    """``wait_for(predicate, timeout_s, what)``: poll until truthy, else fail naming ``what``."""
    return wait_for


@pytest.fixture(name="parse_prometheus")
def parse_prometheus_fixture() -> Callable[[str], Metrics]:
    """The strict Prometheus text reader (raises AssertionError on a malformed line)."""
    return parse_prometheus
