"""CPU per IPv6 readiness run of one device (step: collectors -> samples, the ipv6 collector).

    python3 bench/ipv6_readiness.py [--devices 100] [--runs 5]

Serves ``--devices`` generated level-4 routers (tests/ipv6_records.py: 3
addresses, forwarding, ::/0, ipSystemStats; management checked at [::1]) and
the largest real recording with IPv6 rows (snmpsim-data ruijie-n18010: 113
addresses, 1,017 IP-MIB rows) from one snmpsim on 127.0.0.1 and [::1], and
runs ``Ipv6Collector.read_device`` on all of them concurrently, as the daemon's
hourly jobs would. Each run is timed with ``time.process_time`` (this process
only; snmpsim runs in its own) and wall time; the first run (agent warm-up)
is not measured. Prints the median of ``--runs`` runs and the machine.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import bz2
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_line  # bench/ is on sys.path when run as a script
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import ipv6_records as rec  # noqa: E402

from collectors.ipv6 import Ipv6Collector  # noqa: E402
from netmon import simnet  # noqa: E402
from netmon.config import Target  # noqa: E402
from netmon.credentials import SnmpV2c  # noqa: E402
from netmon.poll import open_session  # noqa: E402
from netmon.snmp import SnmpClient  # noqa: E402

REAL = "router/ruijie-n18010.snmprec.bz2"


def real_recording(out: Path) -> Path:
    venv = simnet.SNMPSIM_VENV
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import snmpsim_data, os; print(os.path.dirname(snmpsim_data.__file__))"],
        check=True, capture_output=True, text=True).stdout.strip()
    text = bz2.decompress((Path(where) / "data" / "network" / REAL).read_bytes()).decode(
        "utf-8", "replace")
    keep = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.2.", "1.3.6.1.2.1.31.", "1.3.6.1.2.1.4.",
            "1.3.6.1.2.1.55.")
    path = out / "ruijie.snmprec"
    path.write_text("".join(line + "\n" for line in text.splitlines() if line.startswith(keep)))
    return path


def target(name: str, port: int, address6: str | None) -> Target:
    return Target.model_validate({
        "name": name, "site": "B", "tier": "province", "address": "127.0.0.1", "port": port,
        "address6": address6, "snmp": SnmpV2c(version="2c", community=SecretStr(name)),
        "timeout": 5.0, "retries": 1,
        "links": [{"ifName": rec.UPLINK, "role": "uplink"}] if address6 else [],
    })


async def one_run(targets: list[Target], collector: Ipv6Collector) -> tuple[float, float]:
    async with SnmpClient() as client:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        levels = await asyncio.gather(*(collector.read_device(open_session(client, t), t)
                                        for t in targets))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    wrong = [(t.name, d.level, d.reasons) for t, d in zip(targets, levels, strict=True)
             if d.level != 4 and t.name != "ruijie"]
    assert not wrong, f"generated devices must reach level 4: {wrong[:3]}"
    return cpu, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="netmon-bench-ipv6-"))
    try:
        files = {f"dev{i:03d}": simnet.write_snmprec(work / f"dev{i:03d}.snmprec", rec.level(4))
                 for i in range(args.devices)}
        files["ruijie"] = real_recording(work)
        root = simnet.world_dir(prefix="netmon-bench-ipv6-agent-")
        data = root / "data"
        data.mkdir()
        for name, path in files.items():
            shutil.copyfile(path, data / f"{name}.snmprec")
        port = simnet.free_udp_port(also_ipv6=True)
        proc = simnet.SnmpSimProcess(data, host="127.0.0.1", port=port, ipv6_host="::1")
        proc.start(ready=lambda: simnet.v2c_answers("127.0.0.1", port, "dev000")
                   and simnet.v2c_answers("::1", port, "dev000"))
        try:
            targets = [target(n, port, "::1") for n in files if n != "ruijie"]
            targets.append(target("ruijie", port, None))
            collector = Ipv6Collector()
            asyncio.run(one_run(targets, collector))  # warm-up, not measured
            runs = [asyncio.run(one_run(targets, collector)) for _ in range(args.runs)]
        finally:
            proc.cleanup()
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(targets)
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    print(f"# ipv6 readiness: {args.devices} generated level-4 devices + ruijie-n18010, "
          f"median of {args.runs} runs")
    print(machine_line())
    print("| what | measured |")
    print("|---|---|")
    print(f"| CPU per device run (walk, mgmt GET over [::1], level) | {cpu / n * 1e3:.2f} ms |")
    print(f"| wall time for all {n} devices at once | {wall:.2f} s |")


if __name__ == "__main__":
    main()
