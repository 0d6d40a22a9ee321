"""Step: YAML. The ``notifications:`` section: a realistic example loads, mistakes are
reported at FILE:LINE:COL with their key path, and secrets never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.route import DEFAULT_REPEAT_INTERVAL_S, build_routes
from netmon.config import ConfigError, load_config

HMAC_KEY = "noc-hmac-key-never-shown"
SMTP_PASSWORD = "smtp-password-never-shown"

GOOD = """\
state_dir: /tmp/netmon-notify-test
notifications:
  route:
    receiver: ops-mail
    group_by: [alertname, site]
    group_wait: 30s
    group_interval: 5m
    routes:
      - matchers: {tier: backbone}
        receiver: noc
        continue: true
      - matchers: ["severity=critical", "site=~HN.*"]
        receiver: alertmanager
        repeat_interval: 1h
  receivers:
    - name: noc
      webhook:
        url: https://noc.example.gov.vn/netmon
        hmac_key: ${NOC_HMAC}
    - name: ops-mail
      email:
        host: smtp.example.gov.vn
        security: starttls
        username: netmon
        password: ${SMTP_PASSWORD}
        from: netmon@example.gov.vn
        to: [noc@example.gov.vn]
    - name: alertmanager
      alertmanager:
        urls: [http://am1.example.gov.vn:9093, http://am2.example.gov.vn:9093]
"""


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOC_HMAC", HMAC_KEY)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)


def issues(text: str) -> list[str]:
    Path("netmon.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config("netmon.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_example_loads() -> None:
    Path("netmon.yaml").write_text(GOOD)
    notifications = load_config("netmon.yaml").settings.notifications
    assert [(r.name, r.kind) for r in notifications.receivers] == [
        ("noc", "webhook"), ("ops-mail", "email"), ("alertmanager", "alertmanager")]
    root = build_routes(notifications.route)
    backbone = root.match({"tier": "backbone", "severity": "critical", "site": "HNI"})
    assert [(r.receiver, r.group_wait_s, r.repeat_interval_s) for r in backbone] == [
        ("noc", 30.0, DEFAULT_REPEAT_INTERVAL_S), ("alertmanager", 30.0, 3600.0)]
    assert [r.receiver for r in root.match({"tier": "district"})] == ["ops-mail"]
    email = notifications.receivers[1].email
    assert email.password.get_secret_value() == SMTP_PASSWORD
    assert email.effective_port == 587


def test_an_empty_section_is_the_log_receiver_only() -> None:
    Path("netmon.yaml").write_text("state_dir: /tmp/x\n")
    notifications = load_config("netmon.yaml").settings.notifications
    assert notifications.receivers == ()
    assert build_routes(notifications.route).match({"alertname": "x"})[0].receiver is None


@pytest.mark.parametrize(("edit", "expected"), [
    (("tier: backbone}", "tier: [backbone]}"),
     "netmon.yaml:9:19: notifications.route.routes[0].matchers: matcher tier: "
     "expected a label value"),
    (('"site=~HN.*"', '"site=~HN(.*"'),
     "netmon.yaml:12:19: notifications.route.routes[1].matchers: 'site=~HN(.*': bad regular "
     "expression: missing ), unterminated subpattern at position 2"),
    (("receiver: noc\n", "receiver: nco\n"),
     "netmon.yaml:4:5: notifications.route: routes[0].receiver: unknown receiver 'nco' "
     "(receivers: noc, ops-mail, alertmanager)"),
    (("        hmac_key:", "        hmac_kee:"),
     "netmon.yaml:19:9: notifications.receivers[0].webhook.hmac_kee: unknown key 'hmac_kee' "
     "(expected one of: bearer_token, ca_file, hmac_key, timeout, tls_verify, url); "
     "did you mean 'hmac_key'?"),
    (("password: ${SMTP_PASSWORD}", "password: " + SMTP_PASSWORD),
     "netmon.yaml:25:19: notifications.receivers[1].email.password: secrets must not be "
     "written inline; use ${ENV_VAR}, file:PATH or credential:NAME"),
    (("security: starttls", "security: none"),
     "netmon.yaml:22:9: notifications.receivers[1].email: a password is sent in clear over "
     "security: none; use starttls or tls (plain SMTP with a password only to a loopback "
     "relay)"),
    (("security: starttls", "security: ssl"),
     "netmon.yaml:23:19: notifications.receivers[1].email.security: 'ssl' is not one of: "
     "starttls, tls, none"),
    (("    - name: alertmanager\n", "    - name: log\n"),
     "netmon.yaml:28:13: notifications.receivers[2].name: 'log' is the built-in log "
     "receiver; choose another name"),
    (("      alertmanager:\n", "      webhook: {url: http://x}\n      alertmanager:\n"),
     "netmon.yaml:28:7: notifications.receivers[2]: receiver 'alertmanager' needs exactly "
     "one of: alertmanager, email, webhook (got 2)"),
    (("  route:\n", "  route:\n    continue: true\n"),
     "netmon.yaml:4:5: notifications.route: the root route matches every alert; matchers "
     "and continue belong to its routes"),
])
def test_mistakes_are_located(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in GOOD
    found = issues(GOOD.replace(old, new, 1))
    assert found == [expected]
    # Not even the inline one: it may be the real password written by mistake.
    assert SMTP_PASSWORD not in "".join(found)
    assert HMAC_KEY not in "".join(found)


def test_loaded_secrets_never_show() -> None:
    Path("netmon.yaml").write_text(GOOD)
    config = load_config("netmon.yaml")
    shown = repr(config.settings) + str(config.settings) + config.settings.model_dump_json()
    assert HMAC_KEY not in shown
    assert SMTP_PASSWORD not in shown
    assert "**********" in shown


def test_the_readme_example_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Alert notifications", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    creds = tmp_path / "creds"
    creds.mkdir()
    for name in ("noc-token", "smtp-password"):
        (creds / name).write_text("x-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("NOC_HMAC_KEY", HMAC_KEY)
    Path("netmon.yaml").write_text("state_dir: /tmp/x\n" + example)
    notifications = load_config("netmon.yaml").settings.notifications
    assert [r.name for r in notifications.receivers] == ["noc", "ops-mail", "alertmanager"]
    assert notifications.max_age_s == 86400.0
