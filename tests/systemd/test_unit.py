"""The systemd unit: required directives, offline security exposure, and offline verify."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "netmon.service"
MAX_EXPOSURE = 2.0
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def directives(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``{section: [(key, value), ...]}`` in file order; comments and blanks dropped."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"keep directives on one line: {line!r}"
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a directive: {line!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(key: str) -> list[str]:
    return [v for k, v in directives(UNIT)["Service"] if k == key]


def systemd_analyze(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe is not None, "systemd-analyze is not installed"
    env = {**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )


REQUIRED = [
    # (directive, exact value the unit must have)
    ("Type", "notify"),
    ("NotifyAccess", "main"),
    ("WatchdogSec", "60s"),
    ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ("Restart", "on-failure"),
    ("TimeoutStopSec", "15s"),
    ("StateDirectory", "netmon"),
    ("ConfigurationDirectory", "netmon"),
    ("DynamicUser", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("PrivateUsers", "yes"),
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources"),
    ("SystemCallArchitectures", "native"),
    ("MemoryDenyWriteExecute", "yes"),
    ("LockPersonality", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectProc", "invisible"),
    ("ProcSubset", "pid"),
    ("UMask", "0077"),
    ("RemoveIPC", "yes"),
    ("DevicePolicy", "closed"),
    ("KeyringMode", "private"),
]


@pytest.mark.parametrize(("key", "value"), REQUIRED, ids=[f"{k}={v}" for k, v in REQUIRED])
def test_required_directive(key: str, value: str) -> None:
    assert value in values(key), f"{key}={value} missing; found {values(key)}"


def test_exec_start_reads_config_from_configuration_directory() -> None:
    (exec_start,) = values("ExecStart")
    assert exec_start == (
        "/usr/local/bin/netmon run --config ${CONFIGURATION_DIRECTORY}/netmon.yaml"
    )


def test_exec_start_pre_checks_the_config_strictly() -> None:
    (pre,) = values("ExecStartPre")
    assert pre == ("/usr/local/bin/netmon check-config --strict "
                   "${CONFIGURATION_DIRECTORY}/netmon.yaml")


def run_exec_start_pre(tmp_path: Path, credentials: dict[str, str] | None) -> (
        subprocess.CompletedProcess[str]):
    """Run the unit's ExecStartPre= as systemd would: the shipped config installed in
    CONFIGURATION_DIRECTORY, and CREDENTIALS_DIRECTORY holding ``credentials``."""
    (pre,) = values("ExecStartPre")
    confdir = tmp_path / "etc-netmon"
    shutil.copytree(REPO / "config", confdir)
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    env["CONFIGURATION_DIRECTORY"] = str(confdir)
    if credentials is not None:
        creddir = tmp_path / "credentials"
        creddir.mkdir()
        for name, value in credentials.items():
            (creddir / name).write_text(value + "\n")
        env["CREDENTIALS_DIRECTORY"] = str(creddir)
    exe, *args = pre.replace("${CONFIGURATION_DIRECTORY}", str(confdir)).split()
    assert exe == "/usr/local/bin/netmon"
    netmon = Path(sys.executable).with_name("netmon")
    return subprocess.run([str(netmon), *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_exec_start_pre_fails_on_a_credential_it_was_not_given(tmp_path: Path) -> None:
    done = run_exec_start_pre(tmp_path, {"snmp-community": "example-community",
                                         "snmp-v3-auth": "example-auth-passphrase"})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{tmp_path}/etc-netmon/netmon.yaml:38:15: snmp_profiles.backbone-v3.priv_key: "
        "credential snmp-v3-priv does not exist"]


def test_exec_start_pre_passes_with_every_credential(tmp_path: Path) -> None:
    done = run_exec_start_pre(tmp_path, {"snmp-community": "example-community",
                                         "snmp-v3-auth": "example-auth-passphrase",
                                         "snmp-v3-priv": "example-priv-passphrase"})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == "OK: 19 targets, 23 links in 6 files\n"


def test_secrets_come_from_load_credential() -> None:
    creds = dict(v.split(":", 1) for v in values("LoadCredential"))
    assert {"snmp-community", "snmp-v3-auth", "snmp-v3-priv", "influx-token", "http-token"} <= set(
        creds
    )
    for name, source in creds.items():
        assert source == f"/etc/netmon/credentials/{name}"


def test_network_is_not_walled_off() -> None:
    # Routers live anywhere and the HTTP API binds 127.0.0.1:9161: no address or bind lists.
    service = dict(directives(UNIT)["Service"])
    for key in ("PrivateNetwork", "IPAddressDeny", "SocketBindDeny"):
        assert key not in service


def test_security_exposure_offline() -> None:
    result = systemd_analyze("security", "--offline=true", str(UNIT))
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings; treat them as failures.
    assert result.stderr == ""
    m = re.search(r"Overall exposure level for netmon\.service: (\d+\.\d+)", result.stdout)
    assert m, result.stdout
    assert float(m.group(1)) <= MAX_EXPOSURE, result.stdout


def test_security_threshold_exit_status() -> None:
    # --threshold is in tenths of the exposure figure.
    result = systemd_analyze(
        "security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNIT)
    )
    assert result.returncode == 0, result.stdout


def verify_root(tmp_path: Path, unit_text: str) -> Path:
    """A root for ``verify --root``: the system's units, stand-in netmon and kill, our unit.

    verify checks that ExecStart=/ExecReload= binaries exist and that the unit's
    dependencies (sysinit.target...) load, both relative to the root.
    """
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    for exe in ("usr/local/bin/netmon", "bin/kill"):
        path = root / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / UNIT.name).write_text(unit_text, encoding="utf-8")
    return root


def test_verify_offline(tmp_path: Path) -> None:
    root = verify_root(tmp_path, UNIT.read_text(encoding="utf-8"))
    result = systemd_analyze("verify", f"--root={root}", UNIT.name)
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings; treat them as failures.
    assert result.stderr == ""


def test_verify_catches_a_bad_directive(tmp_path: Path) -> None:
    # Guard for the test above: a typo must reach stderr.
    text = UNIT.read_text(encoding="utf-8").replace("ProtectClock=yes", "ProtectClok=yes")
    root = verify_root(tmp_path, text)
    result = systemd_analyze("verify", f"--root={root}", UNIT.name)
    assert "Unknown key 'ProtectClok'" in result.stderr
