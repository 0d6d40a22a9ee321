"""Step: YAML. netmon.config turns the engineers' YAML into models, or says exactly what is wrong.

Bad configs live under tests/fixtures/config/; each row names a file and the
exact ``FILE:LINE:COL: PATH: MESSAGE`` lines an engineer would read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from netmon import plugins
from netmon.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    ConfigIssue,
    Link,
    Target,
    check_config,
    load_config,
    settings_model,
)
from netmon.credentials import SnmpV2c, SnmpV3

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "config"
EXAMPLE = REPO / "config" / "netmon.yaml"

COMMUNITY = "community-for-tests"


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths, as an engineer types them: messages then name files relative too."""
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", COMMUNITY)
    monkeypatch.delenv("NETMON_TEST_UNSET", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def issues_of(path: str | Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(issue) for issue in caught.value.issues]


# Every registered collector (netmon.plugins), as an unknown name's message lists them.
KNOWN_COLLECTORS = ", ".join(sorted(plugins.collectors()))
# netmon's own keys and every registered plugin section (netmon.plugins), as listed.
TOP_LEVEL_KEYS = ", ".join(sorted([*settings_model().model_fields, "targets"]))

# One row per mistake seen in real configs.
BAD = [
    ("bad/bandwidth.yaml", [
        "bad/bandwidth.yaml:14:19: targets[0].links[0].capacity: "
        "'400Mbs' is not a bandwidth (examples: 50M, 400M, 1.2G)",
    ]),
    ("bad/bandwidth_no_unit.yaml", [  # meant 400M, would have been 400 bit/s
        "bad/bandwidth_no_unit.yaml:14:19: targets[0].links[0].capacity: "
        "400 needs a unit: 400M?",
    ]),
    ("bad/bandwidth_below_1k.yaml", [
        "bad/bandwidth_below_1k.yaml:14:19: targets[0].links[0].capacity: "
        "'500bps' is below 1k, the smallest capacity (examples: 50M, 400M)",
    ]),
    ("bad/threshold_fraction.yaml", [  # meant 50%, would have been 0.5%
        "bad/threshold_fraction.yaml:14:20: targets[0].links[0].threshold: "
        "0.5 needs a %: did you mean 50%?",
    ]),
    ("bad/threshold_bare.yaml", [
        "bad/threshold_bare.yaml:14:20: targets[0].links[0].threshold: 50 needs a %: 50%?",
    ]),
    ("bad/unknown_key.yaml", [
        "bad/unknown_key.yaml:14:9: targets[0].links[0].capcity: unknown key 'capcity' "
        "(expected one of: capacity, ifAlias, ifIndex, ifName, name, role, threshold); "
        "did you mean 'capacity'?",
    ]),
    ("bad/missing_site.yaml", [
        "bad/missing_site.yaml:8:5: targets[0]: missing required key 'site'",
    ]),
    ("bad/bad_tier.yaml", [
        "bad/bad_tier.yaml:10:11: targets[0].tier: "
        "'core' is not one of: backbone, ministry, province, district, datacentre",
    ]),
    ("bad/bad_interval.yaml", [
        "bad/bad_interval.yaml:12:15: targets[0].interval: "
        "'5 minutes' is not a duration (examples: 500ms, 30s, 5m, 1h, 30d)",
    ]),
    ("bad/two_selectors.yaml", [
        "bad/two_selectors.yaml:13:9: targets[0].links[0]: "
        "a link needs exactly one of ifName, ifAlias or ifIndex (got ifName and ifIndex)",
    ]),
    ("bad/no_selector.yaml", [
        "bad/no_selector.yaml:13:9: targets[0].links[0]: "
        "a link needs exactly one of ifName, ifAlias or ifIndex",
    ]),
    ("bad/bad_regex.yaml", [
        "bad/bad_regex.yaml:13:18: targets[0].links[0].ifAlias: '^UPLINK-(PROV' is not a valid "
        "regular expression: missing ), unterminated subpattern at position 8",
    ]),
    ("bad/unknown_profile.yaml", [
        "bad/unknown_profile.yaml:12:11: targets[0].snmp: "
        "unknown SNMP profile 'bb-v3' (defined: v2)",
    ]),
    ("bad/inline_target_snmp.yaml", [
        "bad/inline_target_snmp.yaml:13:7: targets[0].snmp: expected an SNMP profile name; "
        "credentials belong under snmp_profiles in the main file (defined: v2)",
    ]),
    ("bad/dup_yaml_key.yaml", [
        "bad/dup_yaml_key.yaml:11:5: targets[0].site: "
        "duplicate key 'site' (first written at line 9)",
    ]),
    ("bad/syntax_error.yaml", [
        "bad/syntax_error.yaml:6:9: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 5)",
    ]),
    ("bad/inline_community.yaml", [
        "bad/inline_community.yaml:4:16: snmp_profiles.v2.community: secrets must not be "
        "written inline; use ${ENV_VAR}, file:PATH or credential:NAME",
    ]),
    ("bad/unset_env.yaml", [
        "bad/unset_env.yaml:4:16: snmp_profiles.v2.community: "
        "environment variable NETMON_TEST_UNSET is not set",
    ]),
    ("bad/missing_secret_file.yaml", [
        # file: is relative to the YAML file, not to the working directory
        "bad/missing_secret_file.yaml:7:15: snmp_profiles.bb.auth_key: "
        "secret file bad/secrets/missing.key does not exist",
    ]),
    ("bad/authpriv_no_priv.yaml", [
        # 'version: 3' unquoted is a YAML int; accepted as "3"
        "bad/authpriv_no_priv.yaml:3:5: snmp_profiles.bb: "
        "authPriv needs priv_protocol and priv_key",
    ]),
    ("bad/bad_version.yaml", [
        "bad/bad_version.yaml:3:14: snmp_profiles.v1.version: '1' is not one of: 2c, 3",
    ]),
    ("bad/port_range.yaml", [
        "bad/port_range.yaml:12:11: targets[0].port: must be at most 65535 (got 70000)",
    ]),
    ("bad/threshold.yaml", [
        "bad/threshold.yaml:14:20: targets[0].links[0].threshold: "
        "'150%' is not a percentage between 0 and 100 (examples: 50%, 70%)",
    ]),
    ("bad/bad_address.yaml", [
        "bad/bad_address.yaml:11:14: targets[0].address: "
        "'300.1.1.1' is not a valid IPv4 address (four numbers 0-255)",
    ]),
    ("bad/include_nomatch.yaml", [
        "bad/include_nomatch.yaml:3:5: include[1]: "
        "'nowhere/*.yaml' matches no files (looked in bad)",
    ]),
    ("bad/dup_selector.yaml", [
        "bad/dup_selector.yaml:16:9: targets[0].links[2]: "
        "duplicate link ifName=Gi0/0 (links[0] and links[2])",
    ]),
    ("bad/name_whitespace.yaml", [
        "bad/name_whitespace.yaml:8:11: targets[0].name: "
        "target name must be non-empty and contain no whitespace",
    ]),
    ("bad/top_level_typo.yaml", [
        "bad/top_level_typo.yaml:2:1: inlcude: unknown key 'inlcude' (expected one of: "
        f"{TOP_LEVEL_KEYS}); did you mean 'include'?",
        "bad/top_level_typo.yaml:3:12: log_level: "
        "'verbose' is not one of: debug, info, warning, error",
    ]),
    ("dup_names/netmon.yaml", [
        "dup_names/targets/b.yaml:6:11: targets[1].name: duplicate target name 'prov-north' "
        "(first defined at dup_names/targets/a.yaml:2:11)",
    ]),
    ("bad/bad_defaults.yaml", [
        # inherited by r1 and r2, overridden by r3: reported once, where it is written
        "bad/bad_defaults.yaml:7:13: defaults.interval: "
        "'5 minutes' is not a duration (examples: 500ms, 30s, 5m, 1h, 30d)",
    ]),
]


@pytest.mark.parametrize(("path", "expected"), BAD, ids=[row[0] for row in BAD])
def test_bad_config_reports_exact_location_and_message(path: str, expected: list[str]) -> None:
    assert issues_of(path) == expected


def test_every_error_in_every_file_is_reported_at_once() -> None:
    assert issues_of("multi/netmon.yaml") == [
        "multi/netmon.yaml:3:12: log_level: 'loud' is not one of: debug, info, warning, error",
        "multi/netmon.yaml:14:20: snmp_profiles.v3.priv_protocol: "
        "'AES-512' is not one of: AES-128, AES-192, AES-256",
        # core-a-1 uses the broken v3 profile: that is reported once, at the profile
        "multi/targets/backbone.yaml:12:15: targets[0].links[0].role: "
        "'plane-c' is not one of: uplink, plane-a, plane-b, access",
        "multi/targets/districts.yaml:8:19: targets[0].links[0].capacity: "
        "'400Mbs' is not a bandwidth (examples: 50M, 400M, 1.2G)",
        "multi/targets/districts.yaml:9:5: targets[1]: missing required key 'site'",
        "multi/targets/districts.yaml:12:14: targets[1].retries: must be at most 10 (got 11)",
    ]


def test_config_error_str_is_one_issue_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("multi/netmon.yaml")
    assert str(caught.value) == "\n".join(str(i) for i in caught.value.issues)
    assert len(str(caught.value).splitlines()) == 6


def test_issue_format() -> None:
    issue = ConfigIssue("config/targets/provinces.yaml", 42, 7, "targets[12].links[0].capacity",
                        "'400Mbs' is not a bandwidth (examples: 50M, 400M, 1.2G)")
    assert str(issue) == (
        "config/targets/provinces.yaml:42:7: targets[12].links[0].capacity: "
        "'400Mbs' is not a bandwidth (examples: 50M, 400M, 1.2G)"
    )


def test_missing_main_file() -> None:
    assert issues_of("nowhere.yaml") == [
        "nowhere.yaml: cannot read config file: No such file or directory"
    ]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


PROFILES = """\
snmp_profiles:
  v2: {version: "2c", community: "${NETMON_TEST_COMMUNITY}"}
defaults:
  snmp: v2
"""
MAIN = "include: [targets/*.yaml]\n" + PROFILES


def test_target_file_problems(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", MAIN)
    write(tmp_path / "targets" / "a.yaml", """\
target:
  - name: r1
""")
    write(tmp_path / "targets" / "b.yaml", """\
defaults:
  snmp: v3
  intervall: 30s
targets:
  - name: r2
    site: S2
    tier: district
    address: 192.0.2.2
  - just-a-name
""")
    write(tmp_path / "targets" / "c.yaml", "targets: [ {name: r3\n")
    a, b, c = (f"{tmp_path}/targets/{n}.yaml" for n in "abc")
    assert issues_of(main) == [
        f"{a}:1:1: target: unknown key 'target' (expected one of: defaults, targets); "
        "did you mean 'targets'?",
        f"{b}:2:9: defaults.snmp: unknown SNMP profile 'v3' (defined: v2)",
        f"{b}:3:3: defaults.intervall: unknown key 'intervall' (expected one of: collectors, "
        "deadline, discover, interval, max_repetitions, port, retries, snmp, timeout); "
        "did you mean 'interval'?",
        f"{b}:9:5: targets[1]: expected a mapping (one target), got text",
        f"{c}:2:1: YAML syntax error: expected ',' or '}}', but got '<stream end>' "
        "(while parsing a flow mapping at line 1)",
    ]


def test_bad_defaults_are_reported_once_where_written(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", """\
include: [targets/*.yaml]
snmp_profiles:
  v2: {version: "2c", community: "${NETMON_TEST_COMMUNITY}"}
defaults:
  snmp: [v2]
  port: 70000
  retries: -1
  discover: maybe
""")
    write(tmp_path / "targets" / "a.yaml", """\
defaults:
  max_repetitions: 500
  timeout: 2 seconds
targets:
  - {name: r1, site: S1, tier: district, address: 192.0.2.1}
  - {name: r2, site: S2, tier: district, address: 192.0.2.2}
  - {name: r3, site: S3, tier: district, address: 192.0.2.3, snmp: v2, port: 1161}
""")
    a = f"{tmp_path}/targets/a.yaml"
    assert issues_of(main) == [
        f"{main}:5:9: defaults.snmp: expected text, got a list",
        f"{main}:6:9: defaults.port: must be at most 65535 (got 70000)",
        f"{main}:7:12: defaults.retries: must be at least 0 (got -1)",
        f"{main}:8:13: defaults.discover: expected true or false, got 'maybe'",
        f"{a}:2:20: defaults.max_repetitions: must be at most 200 (got 500)",
        f"{a}:3:12: defaults.timeout: "
        "'2 seconds' is not a duration (examples: 500ms, 30s, 5m, 1h, 30d)",
    ]


def test_target_without_any_profile(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", """\
targets:
  - {name: r1, site: S1, tier: district, address: 192.0.2.1}
""")
    assert issues_of(main) == [
        f"{main}:2:5: targets[0]: missing required key 'snmp': name an SNMP profile here or "
        "under defaults (no snmp_profiles are defined in the main file)",
    ]


def test_yaml_type_mistakes(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
targets:
  - name: r1
    site: 7
    tier: district
    address: 192.0.2.1
    discover: maybe
    links: {ifName: Gi0/0}
""")
    assert issues_of(main) == [
        f"{main}:7:11: targets[0].site: expected text, got a number (put quotes around the value)",
        f"{main}:10:15: targets[0].discover: expected true or false, got 'maybe'",
        f"{main}:11:12: targets[0].links: expected a list, got a mapping",
    ]


def test_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
targets:
  - &district
    name: r1
    site: S1
    tier: district
    address: 192.0.2.1
  - <<: *district
    name: r2
    address: 192.0.2.2
""")
    config = load_config(main)
    assert [(t.name, t.site, t.address) for t in config.targets] == [
        ("r1", "S1", "192.0.2.1"), ("r2", "S1", "192.0.2.2"),
    ]


# --------------------------------------------------------------------------- models


def test_link_selector_and_label() -> None:
    assert Link(ifName="xe-0/0/0").selector == "ifName=xe-0/0/0"
    assert Link(ifAlias="^UPLINK").selector == "ifAlias~^UPLINK"
    assert Link(ifIndex=3).label == "ifIndex=3"
    assert Link(ifIndex=3, name="A to B").label == "A to B"
    link = Link(if_name="ge-0/0/0", capacity="400M", threshold="40%")
    assert (link.capacity_bps, link.threshold_pct, link.role) == (400_000_000, 40.0, "access")


def test_target_deadline_and_defaults() -> None:
    snmp = SnmpV2c(version="2c", community="${NETMON_TEST_COMMUNITY}")
    target = Target(name="r1", site="S1", tier="district", address="r1.example.net", snmp=snmp)
    assert (target.port, target.interval_s, target.timeout_s, target.retries) == (161, 60.0, 2.0, 1)
    assert target.effective_deadline_s == pytest.approx(48.0)
    assert target.model_copy(update={"deadline_s": 10.0}).effective_deadline_s == 10.0


# --------------------------------------------------------------------------- secrets

ENV_SECRET = "Env-Secret-7f3a91c2"
FILE_SECRET = "File-Secret-b81d22e0"
AUTH_SECRET = "Auth-Secret-55c0de19"
PRIV_SECRET = "Priv-Secret-0a9e6b74"


def test_secrets_never_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             caplog: pytest.LogCaptureFixture) -> None:
    creds = tmp_path / "creds"
    write(creds / "snmp-auth", AUTH_SECRET + "\n")
    write(creds / "snmp-priv", PRIV_SECRET + "\n")
    base = write(tmp_path / "cfg" / "netmon.yaml",
                 (FIXTURES / "secret_refs" / "netmon.yaml").read_text())
    write(base.parent / "community.txt", FILE_SECRET + "\n")
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", ENV_SECRET)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))

    with caplog.at_level(logging.DEBUG):
        config = load_config(base)

    env_t, file_t, cred_t = (config.target(n) for n in ("r-env", "r-file", "r-cred"))
    assert isinstance(env_t.snmp, SnmpV2c) and isinstance(file_t.snmp, SnmpV2c)
    assert isinstance(cred_t.snmp, SnmpV3)
    assert env_t.snmp.community.get_secret_value() == ENV_SECRET
    assert file_t.snmp.community.get_secret_value() == FILE_SECRET
    assert cred_t.snmp.auth_key is not None and cred_t.snmp.priv_key is not None
    assert cred_t.snmp.auth_key.get_secret_value() == AUTH_SECRET
    assert cred_t.snmp.priv_key.get_secret_value() == PRIV_SECRET

    shown = [repr(config), str(config), config.settings.model_dump_json(), caplog.text]
    shown += [t.model_dump_json() for t in config.targets]
    shown += [repr(t) for t in config.targets]
    for text in shown:
        for secret in (ENV_SECRET, FILE_SECRET, AUTH_SECRET, PRIV_SECRET):
            assert secret not in text


def test_secrets_never_print_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    inline = "Inline-Secret-3c5e7a9b"
    monkeypatch.setenv("NETMON_TEST_COMMUNITY", ENV_SECRET)
    main = write(tmp_path / "netmon.yaml", f"""\
snmp_profiles:
  v2:
    version: "2c"
    community: {inline}
  v3:
    version: "3"
    username: netmon
    security_level: authPriv
    auth_protocol: MD5
    auth_key: ${{NETMON_TEST_COMMUNITY}}
    priv_protocol: AES-128
    priv_key: {inline}
  short:
    version: "3"
    username: netmon
    security_level: authNoPriv
    auth_protocol: SHA
    auth_key: ${{NETMON_TEST_SHORT}}
http:
  token: {inline}
""")
    monkeypatch.setenv("NETMON_TEST_SHORT", "Short1")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as caught:
        load_config(main)
    text = str(caught.value)
    assert text.splitlines() == [
        f"{main}:4:16: snmp_profiles.v2.community: secrets must not be written inline; "
        "use ${ENV_VAR}, file:PATH or credential:NAME",
        f"{main}:9:20: snmp_profiles.v3.auth_protocol: "
        "'MD5' is not one of: SHA, SHA-224, SHA-256, SHA-384, SHA-512",
        f"{main}:12:15: snmp_profiles.v3.priv_key: secrets must not be written inline; "
        "use ${ENV_VAR}, file:PATH or credential:NAME",
        f"{main}:14:5: snmp_profiles.short: SNMPv3 keys must be at least 8 characters (RFC 3414)",
        f"{main}:20:10: http.token: secrets must not be written inline; "
        "use ${ENV_VAR}, file:PATH or credential:NAME",
    ]
    for secret in (inline, ENV_SECRET, "Short1"):
        assert secret not in text
        assert secret not in repr(caught.value)
        assert secret not in caplog.text


# --------------------------------------------------------------------------- example network


@pytest.fixture
def example_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The names systemd/netmon.service loads with LoadCredential=.
    write(tmp_path / "snmp-v3-auth", "example-auth-passphrase\n")
    write(tmp_path / "snmp-v3-priv", "example-priv-passphrase\n")
    write(tmp_path / "snmp-community", "example-community\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))


@pytest.mark.usefixtures("example_env")
def test_shipped_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    targets = {t.name: t for t in config.targets}
    assert [p.name for p in config.files] == [
        "netmon.yaml", "backbone.yaml", "datacentre.yaml", "districts.yaml", "ministries.yaml",
        "provinces.yaml",
    ]
    assert {t.tier for t in config.targets} == {
        "backbone", "ministry", "province", "district", "datacentre",
    }

    # both backbone planes, at 1.2G, held to the 50% rule
    plane_links = [link for t in config.targets for link in t.links
                   if link.role in ("plane-a", "plane-b") and t.tier == "backbone"]
    assert {link.role for link in plane_links} == {"plane-a", "plane-b"}
    assert all(link.capacity_bps == 1_200_000_000 for link in plane_links)
    assert all(link.threshold_pct == 50.0 for link in plane_links)

    # file defaults: backbone.yaml polls every 30s with SNMPv3
    core = targets["core-a-1"]
    assert isinstance(core.snmp, SnmpV3) and core.interval_s == 30.0
    assert core.max_repetitions == 50
    assert core.links[2].if_alias is not None and core.links[2].if_alias.match("UPLINK-PROV-N")
    assert core.source.endswith("targets/backbone.yaml:9")

    # districts say nothing about SNMP or timing: main defaults apply
    district = targets["dist-north-01"]
    assert isinstance(district.snmp, SnmpV2c)
    assert district.snmp.community.get_secret_value() == "example-community"
    assert (district.interval_s, district.timeout_s, district.retries) == (60.0, 2.0, 1)
    assert targets["dist-east-01"].discover and targets["dist-east-01"].links == ()

    # circuit capacity, not port speed
    assert {link.capacity_bps for link in targets["prov-north"].links} == {400_000_000}
    assert targets["prov-highlands"].links[0].threshold_pct == 40.0
    assert targets["prov-highlands"].address == "prov-highlands.example.net"
    assert any(":" in t.address for t in config.targets)  # IPv6
    assert config.settings.interfaces.meta_refresh_s == 900.0
    assert config.settings.storage.local.retention_s == 30 * 86400.0
    # the data centre: tier defaults, unless a target names its collectors
    assert targets["dc-probe-row1"].collectors == (
        "interfaces", "akcp", "apc", "entity_sensor", "geist", "host", "ups")
    assert targets["dc-ups-b"].collectors == ("apc",)
    assert targets["dc-edge-1"].collectors == ("interfaces",)
    with pytest.raises(KeyError):
        config.target("no-such-router")


@pytest.mark.usefixtures("example_env")
def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_config(EXAMPLE) == 0
    out, err = capsys.readouterr()
    assert out == "OK: 19 targets, 23 links in 6 files\n"
    assert err == ""


def test_check_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_config("multi/netmon.yaml") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 6
    assert err.splitlines()[0].startswith("multi/netmon.yaml:3:12: log_level: ")


def test_example_config_without_secrets_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    issues = issues_of(EXAMPLE)
    assert len(issues) == 3
    assert issues[0].endswith(
        "snmp_profiles.district-v2.community: credential:snmp-community needs "
        "CREDENTIALS_DIRECTORY (set by systemd LoadCredential=)"
    )


def test_default_path() -> None:
    assert Path("/etc/netmon/netmon.yaml") == DEFAULT_CONFIG_PATH


def test_plugin_sections_and_collectors_are_located(tmp_path: Path) -> None:
    """Options registered by plugins (netmon.plugins) keep file:line:col and key path."""
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
interfaces:
  meta_refresh: soon
http:
  listen: nowhere
storage:
  local: {retension: 30d}
targets:
  - name: r1
    site: S1
    tier: district
    address: 192.0.2.1
    collectors: [interfaces, interfacs]
""")
    assert issues_of(main) == [
        f"{main}:6:17: interfaces.meta_refresh: 'soon' is not a duration "
        "(examples: 500ms, 30s, 5m, 1h, 30d)",
        f"{main}:8:11: http.listen: 'nowhere' is not HOST:PORT "
        "(examples: 127.0.0.1:9161, [::1]:9161)",
        f"{main}:10:11: storage.local.retension: unknown key 'retension' "
        "(expected one of: retention); did you mean 'retention'?",
        f"{main}:16:17: targets[0].collectors: unknown collector 'interfacs' "
        f"(known: {KNOWN_COLLECTORS}); did you mean 'interfaces'?",
    ]


def test_settings_sections_come_from_the_registry() -> None:
    from netmon import plugins
    from netmon.config import settings_model

    assert set(plugins.sections()) >= {"http", "storage", "interfaces"}
    settings = settings_model()()
    assert settings.interfaces.meta_refresh_s == 900.0
    assert settings.http.listen == "127.0.0.1:9161"


def test_unresolvable_secrets_are_warnings_when_not_strict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from netmon.secrets import UnresolvedSecret

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = load_config(EXAMPLE, strict=False)
    assert [f"{w.line}:{w.column} {w.path}" for w in config.warnings] == [
        "30:16 snmp_profiles.district-v2.community",
        "36:15 snmp_profiles.backbone-v3.auth_key",
        "38:15 snmp_profiles.backbone-v3.priv_key",
    ]
    # Everything else is still checked, through placeholders that never leave check-config.
    assert len(config.targets) == 19
    core = config.target("core-a-1")
    assert isinstance(core.snmp, SnmpV3) and isinstance(core.snmp.auth_key, UnresolvedSecret)

    # A missing file is a warning too; an inline secret and a bad key stay errors.
    main = tmp_path / "netmon.yaml"
    main.write_text(
        "snmp_profiles:\n"
        "  a:\n"
        "    version: '2c'\n"
        "    community: file:absent.txt\n"
        "  b:\n"
        "    version: '3'\n"
        "    username: u\n"
        "    auth_protocol: MD5\n"
        "    auth_key: ${NETMON_SURELY_UNSET}\n"
        "    priv_protocol: AES-128\n"
        "    priv_key: inline-secret-value\n"
        "targets:\n"
        "  - {name: r1, site: S, tier: district, address: 192.0.2.1, snmp: a}\n"
    )
    monkeypatch.delenv("NETMON_SURELY_UNSET", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(main, strict=False)
    assert [str(i).removeprefix(f"{main}:") for i in caught.value.issues] == [
        "8:20: snmp_profiles.b.auth_protocol: 'MD5' is not one of: "
        "SHA, SHA-224, SHA-256, SHA-384, SHA-512",
        "11:15: snmp_profiles.b.priv_key: secrets must not be written inline; "
        "use ${ENV_VAR}, file:PATH or credential:NAME",
    ]
    assert [str(w).removeprefix(f"{main}:") for w in caught.value.warnings] == [
        f"4:16: snmp_profiles.a.community: secret file {tmp_path}/absent.txt does not exist",
        "9:15: snmp_profiles.b.auth_key: environment variable NETMON_SURELY_UNSET is not set",
    ]


def test_checks_across_fields_run_behind_unresolvable_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # The model-level check needs every field valid: it runs on the placeholders.
    main = tmp_path / "netmon.yaml"
    main.write_text(
        "snmp_profiles:\n"
        "  b:\n"
        "    version: '3'\n"
        "    username: u\n"
        "    security_level: authNoPriv\n"
        "    auth_protocol: SHA\n"
        "    auth_key: ${NETMON_SURELY_UNSET}\n"
        "    priv_protocol: AES-128\n"
        "    priv_key: ${NETMON_SURELY_UNSET}\n"
    )
    monkeypatch.delenv("NETMON_SURELY_UNSET", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(main, strict=False)
    assert [str(i).removeprefix(f"{main}:") for i in caught.value.issues] == [
        "3:5: snmp_profiles.b: authNoPriv takes no priv_protocol or priv_key",
    ]
    assert len(caught.value.warnings) == 2
# --------------------------------------------------------------------------- explicit YAML tags

TAGGED_SECRET = "Tagged-S3cret-7f1e"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"!!int {TAGGED_SECRET}", "the value is not a valid !!int"),
        (f'!!int "{TAGGED_SECRET}"', "the value is not a valid !!int"),
        (f"!!float {TAGGED_SECRET}", "the value is not a valid !!float"),
        (f"!!bool {TAGGED_SECRET}", "the value is not a valid !!bool"),
        ("!!timestamp 2020-13-45", "the value is not a valid !!timestamp"),
        ("2026-13-45", "the value is not a valid !!timestamp; put quotes around the value"),
        (f"!!binary {TAGGED_SECRET}", "the YAML tag !!binary is not supported here"),
        (f"!!python/object {TAGGED_SECRET}", "the YAML tag !!python/object is not supported"),
        (f"!secret {TAGGED_SECRET}", "the YAML tag !secret is not supported here"),
        (f"!!set {{{TAGGED_SECRET}}}", "the YAML tag !!set is not supported here"),
        (f"!!omap [{TAGGED_SECRET}]", "the YAML tag !!omap is not supported here"),
    ],
)
def test_explicit_yaml_tags_are_config_errors_that_never_quote_the_value(
        tmp_path: Path, value: str, message: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue: a tag crashed check-config, poll and run with a traceback quoting the value."""
    main = write(tmp_path / "netmon.yaml", PROFILES + f"""\
http:
  token: {value}
targets:
  - {{name: r1, site: HNI, tier: backbone, address: 192.0.2.1, discover: true}}
""")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as caught:
        load_config(main)
    issues = [str(i) for i in caught.value.issues]
    assert len(issues) == 1 and issues[0].startswith(f"{main}:6:10: http.token: {message}")
    assert TAGGED_SECRET not in str(caught.value) + repr(caught.value) + caplog.text


def test_harmless_explicit_tags_still_work(tmp_path: Path) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + """\
targets:
  - {name: !!str r1, site: !!str 12345, tier: backbone, address: 192.0.2.1, discover: !!bool true,
     interval: !!int 30}
""")
    target = load_config(main).target("r1")
    assert (target.site, target.discover, target.interval_s) == ("12345", True, 30.0)


def test_check_config_reports_a_tag_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = write(tmp_path / "netmon.yaml", PROFILES + f"""\
targets:
  - {{name: r1, site: !!int {TAGGED_SECRET}, tier: backbone, address: 192.0.2.1}}
""")
    assert check_config(main) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"{main}:6:22:" in text and "targets[0].site: the value is not a valid !!int" in text
    assert "Traceback" not in text and TAGGED_SECRET not in text
