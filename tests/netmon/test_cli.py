"""The ``netmon`` command as an operator runs it: poll, check-config, run with a bad file.

Step: entry point. Each test runs ``python -m netmon.cli`` as a process
against snmpsim on loopback and reads what it prints. An operator must see
one clear line for what went wrong, never a stack trace.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

CORES = ["core-a", "core-b"]
COLUMNS = ["LINK", "ALIAS", "IN Mbps", "OUT Mbps", "CAPACITY", "UTIL %", "STATUS"]


def netmon(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netmon.cli", *args], capture_output=True,
                          text=True, timeout=timeout_s, check=False)


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def close(got: float, want: float) -> bool:
    # 1 s apart on a busy CI machine; rate accuracy is held to 2% in tests/collectors.
    return abs(got - want) <= 0.05 * want


def table_rows(block: str) -> tuple[str, dict[str, list[str]]]:
    """(title line, {link: cells}) of one table printed by ``netmon poll``."""
    title, head, *rows = block.splitlines()
    assert re.split(r"\s{2,}", head.strip()) == COLUMNS, head
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows if not row.startswith("!")]
    return title, {c[0]: c for c in cells}


def test_poll_prints_a_table_per_poll(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    done = netmon("poll", "--config", str(config.path), "core-a", "--count", "2",
                  "--interval", "1s")
    assert done.returncode == 0, done.stderr
    no_traceback(done)
    first, second = done.stdout.strip().split("\n\n")
    title, rows = table_rows(first)
    assert title.startswith("core-a at ")
    expected = {link.if_name: link for link in simnet_agent.links["core-a"]}
    assert set(rows) == set(expected)
    assert all(r[5] == "-" for r in rows.values()), "the first poll has no rate yet"

    _, rows = table_rows(second)
    assert set(rows) == set(expected)
    for name, (_, alias, in_mbps, out_mbps, capacity, util, status) in rows.items():
        link = expected[name]
        assert alias.startswith("PLANE-A to ")
        assert close(float(in_mbps), link.in_bps / 1e6), rows[name]
        assert close(float(out_mbps), link.out_bps / 1e6), rows[name]
        assert capacity == {1_200_000_000: "1.2G", 400_000_000: "400M"}[link.capacity_bps]
        assert close(float(util), link.util_pct), rows[name]
        assert status == "ok"


def test_poll_table_marks_a_link_over_threshold(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    done = netmon("poll", "--config", str(config.path), "core-b", "--count", "2",
                  "--interval", "0.5s")
    assert done.returncode == 0, done.stderr
    _, rows = table_rows(done.stdout.strip().split("\n\n")[1])
    assert rows["xe-0/0/0"][6] == "OVER 50%"
    assert close(float(rows["xe-0/0/0"][5]), simnet_agent.links["core-b"][0].util_pct)


def test_poll_json_prints_one_object_per_poll(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    done = netmon("poll", "--config", str(config.path), "core-a", "--count", "2",
                  "--interval", "1s", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    polls = [json.loads(line) for line in lines]
    expected = {link.if_name: link for link in simnet_agent.links["core-a"]}
    for poll in polls:
        assert set(poll) == {"target", "ts", "links", "errors"}
        assert poll["target"] == "core-a" and poll["errors"] == []
        assert {link["name"] for link in poll["links"]} == set(expected)
        for link in poll["links"]:
            assert {"name", "ifIndex", "in_bps", "out_bps", "capacity_bps", "util_pct",
                    "status"} <= set(link)
            assert link["capacity_bps"] == expected[link["name"]].capacity_bps
    gap = (datetime.fromisoformat(polls[1]["ts"]) - datetime.fromisoformat(polls[0]["ts"]))
    assert 0.8 <= gap.total_seconds() <= 1.5
    assert all(link["util_pct"] is None for link in polls[0]["links"])
    for link in polls[1]["links"]:
        want = expected[link["name"]]
        assert link["ifIndex"] in (1, 2)
        assert close(link["in_bps"], want.in_bps) and close(link["out_bps"], want.out_bps)
        assert close(link["util_pct"], want.util_pct) and link["status"] == "ok"


def test_poll_of_an_unreachable_target(simnet_agent, netmon_config) -> None:
    config = netmon_config(
        [simnet_agent.target("ghost", links=[], extra=", timeout: 0.3s, retries: 0")],
        communities=["ghost"],
    )
    done = netmon("poll", "--config", str(config.path), "ghost", "--count", "1")
    assert done.returncode == 1
    no_traceback(done)
    # The error, not an empty table: a title line, then the error.
    title, error = done.stdout.splitlines()
    assert title.startswith("ghost at ")
    assert error.startswith("! ghost: no response"), done.stdout
    assert "no response" not in done.stderr

    done = netmon("poll", "--config", str(config.path), "ghost", "--count", "1", "--json")
    assert done.returncode == 1
    no_traceback(done)
    (poll,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert poll["links"] == [] and len(poll["errors"]) == 1
    assert poll["errors"][0].startswith("ghost: no response")


def test_poll_unknown_target_names_the_known_ones(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    done = netmon("poll", "--config", str(config.path), "core-c", "--count", "1")
    assert done.returncode == 2
    no_traceback(done)
    assert "unknown target 'core-c'" in done.stderr
    assert "core-a, core-b" in done.stderr


def bad_config(simnet_agent, netmon_config):
    """A config whose targets file has ``capacity: 400Mbs`` on line 2."""
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    link = simnet_agent.links["core-a"][0]
    bad = replace(link, yaml=link.yaml.replace("1.2G", "400Mbs"))
    config.write_targets([simnet_agent.target("core-a", links=[bad]),
                          simnet_agent.target("core-b")])
    line = config.targets_file.read_text().splitlines()[1]
    where = f"{config.targets_file}:2:{line.index('400Mbs') + 1}"
    message = (f"{where}: targets[0].links[0].capacity: '400Mbs' is not a bandwidth "
               "(examples: 50M, 400M, 1.2G)")
    return config, message


def test_check_config(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(n) for n in CORES])
    done = netmon("check-config", str(config.path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "OK: 2 targets, 3 links in 2 files\n"

    config, message = bad_config(simnet_agent, netmon_config)
    done = netmon("check-config", str(config.path))
    assert done.returncode == 1
    no_traceback(done)
    assert done.stderr.splitlines() == [message]


REPO = Path(__file__).resolve().parents[2]


def readme_sessions(command: str) -> list[tuple[list[str], list[str]]]:
    """``($ command args, output lines)`` of each ``$ netmon COMMAND`` shown in README.md."""
    sessions: list[tuple[list[str], list[str]]] = []
    in_block = False
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            if in_block:
                sessions.append(([], []))  # output never runs past its block
        elif in_block and line.startswith("$ "):
            sessions.append((line[2:].split(), []))
        elif in_block:
            sessions[-1][1].append(line)
    return [(argv, out) for argv, out in sessions if argv[:2] == ["netmon", command]]


def test_readme_check_config_examples_are_true() -> None:
    # As on an engineer's workstation: no systemd credentials, none of the tests'
    # variables, run from the checkout.
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    sessions = readme_sessions("check-config")
    assert [argv[-1] for argv, _ in sessions] == [
        "config/netmon.yaml", "tests/fixtures/config/bad/bandwidth_no_unit.yaml"]
    codes = []
    for argv, shown in sessions:
        done = subprocess.run([sys.executable, "-m", "netmon.cli", *argv[1:]], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=60, check=False)
        no_traceback(done)
        assert (done.stderr + done.stdout).splitlines() == shown
        codes.append(done.returncode)
    assert codes == [0, 1]  # as the README says


def test_check_config_strict_refuses_what_it_cannot_resolve(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "check-config", "--strict",
                           "config/netmon.yaml"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert [line.split(": ")[1] for line in done.stderr.splitlines()] == [
        "snmp_profiles.district-v2.community", "snmp_profiles.backbone-v3.auth_key",
        "snmp_profiles.backbone-v3.priv_key"]


def test_version() -> None:
    import tomllib

    done = netmon("--version")
    assert done.returncode == 0
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert done.stdout == f"netmon {project['version']}\n"


def test_check_config_help_names_its_default_path() -> None:
    done = netmon("check-config", "--help")
    assert done.returncode == 0
    assert "(default /etc/netmon/netmon.yaml)" in " ".join(done.stdout.split())


def test_run_refuses_a_bad_config_without_a_traceback(simnet_agent, netmon_config) -> None:
    config, message = bad_config(simnet_agent, netmon_config)
    done = netmon("run", "--config", str(config.path), timeout_s=30)
    assert done.returncode == 1
    no_traceback(done)
    assert message in done.stderr.splitlines()

    missing = config.dir / "nowhere.yaml"
    done = netmon("run", "--config", str(missing), timeout_s=30)
    assert done.returncode == 1
    no_traceback(done)
    assert done.stderr.splitlines() == [f"{missing}: cannot read config file: "
                                        "No such file or directory"]


def test_run_says_why_it_cannot_start_without_a_traceback(simnet_agent, netmon_config) -> None:
    config = netmon_config([simnet_agent.target(name) for name in CORES])
    # The HTTP port is taken by someone else.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", config.http_port))
        squatter.listen(1)
        done = netmon("run", "--config", str(config.path), timeout_s=30)
    assert done.returncode == 1
    no_traceback(done)
    assert f"cannot listen on 127.0.0.1:{config.http_port}" in done.stderr

    # The state directory cannot be created (a file stands in its way).
    text = config.path.read_text()
    blocker = config.dir / "not-a-dir"
    blocker.write_text("")
    config.path.write_text(text.replace(str(config.dir / "state"), str(blocker / "state")))
    done = netmon("run", "--config", str(config.path), timeout_s=30)
    assert done.returncode == 1
    no_traceback(done)
    assert f"cannot open storage in {blocker / 'state'}" in done.stderr
