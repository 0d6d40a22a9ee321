"""The embedded defaults behind ``netmon run --demo``: a simulated network and a local store.

Step: stands in front of YAML. It writes recordings for the example network
(netmon.simnet), starts snmpsim on loopback to serve them, and writes a config
whose storage is the local SQLite store, so the daemon is useful with no
external server at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from netmon import simnet


class Demo:
    def __init__(self, root: Path, *, interval: str = "10s",
                 http_listen: str = "127.0.0.1:9161") -> None:
        self.root = root
        self.interval = interval
        self.http_listen = http_listen
        self.port = 0
        self._agent: simnet.SnmpSimProcess | None = None

    def start(self) -> Path:
        """Write recordings and config, start the agent; returns the config path."""
        for sub in ("data", "cache", "config"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        # snmpsim drops to 'nobody': it must be able to reach its data.
        self.root.chmod(0o755)
        self.port = simnet.free_udp_port()
        config = simnet.write_demo(self.root, self.port, interval=self.interval,
                                   state_dir=self.root / "state", http_listen=self.http_listen)
        agent = simnet.SnmpSimProcess(self.root / "data", port=self.port)
        agent.start(ready=lambda: simnet.v2c_answers("127.0.0.1", self.port, "core-a"))
        self._agent = agent
        return config

    def stop(self) -> None:
        if self._agent is not None:
            self._agent.stop()
            self._agent = None
