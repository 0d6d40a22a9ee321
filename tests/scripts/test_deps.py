"""scripts/: what demo.sh and install-deps.sh install (step: set-up, before everything).

apt-get is a stand-in on PATH that records what it is asked for; Debian's
interpreter is made to look as if python3-venv were missing, so both scripts
take their apt step. The snmpsim venv is built for real from empty, as on a
fresh machine; netmon's own venv is this checkout's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_script(tmp_path: Path, script: str, *args: str, python3_venv: bool = False,
               sim_venv: Path = Path("/opt/netmon-snmpsim")) -> tuple[
        subprocess.CompletedProcess[str], list[str]]:
    """Run ``scripts/SCRIPT ARGS``; returns the result and the apt-get calls it made."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    log = tmp_path / "apt.log"
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (fake / "apt-get").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake}:{os.environ['PATH']}",
        # /bin/false cannot 'import venv': python3-venv looks missing.
        "NETMON_SYSTEM_PYTHON": "/usr/bin/python3" if python3_venv else "/bin/false",
        "NETMON_SNMPSIM_VENV": str(sim_venv),
        "NETMON_VENV": str(Path(sys.executable).parent.parent),
    }
    done = subprocess.run([str(REPO / "scripts" / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return done, log.read_text().splitlines() if log.exists() else []


def test_demo_installs_python3_venv_only(tmp_path: Path) -> None:
    done, apt = run_script(tmp_path, "demo.sh", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: netmon run" in done.stdout  # it went on to run netmon
    assert apt == ["update -qq", "install -y -qq --no-install-recommends python3-venv"]


def test_install_deps_installs_the_test_peers(tmp_path: Path) -> None:
    done, apt = run_script(tmp_path, "install-deps.sh")
    assert done.returncode == 0, done.stderr
    assert apt == ["update -qq", "install -y -qq --no-install-recommends snmpd snmp "
                   "victoria-metrics prometheus-alertmanager systemd python3-venv sqlite3 "
                   "chromium chromium-driver dnsmasq-base"]


def test_demo_builds_the_snmpsim_venv_without_pip_noise_or_test_data(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    done, apt = run_script(tmp_path, "demo.sh", "--help", python3_venv=True, sim_venv=sim)
    assert done.returncode == 0, done.stderr
    assert apt == []  # python3-venv is there
    # This machine's pip configuration names indexes that do not exist here; pip
    # warns about each for every package. Those lines are filtered, as for .venv.
    assert done.stderr.splitlines() == [f"install-deps: building the snmpsim venv in {sim}"]
    assert (sim / "bin" / "snmpsim-command-responder").exists()
    has_data = subprocess.run([str(sim / "bin" / "python"), "-c", "import snmpsim_data"],
                              capture_output=True, check=False)
    assert has_data.returncode != 0  # the recordings are the tests', not the demo's
