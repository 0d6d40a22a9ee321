"""Silences and maintenance windows: matchers, times, and what the engine does with them.

Step: alert engine. Silenced alerts keep their lifecycle and stay listed; the
dispatcher gets them flagged. Stored silences survive a restart.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alertkit import Recorder, at, link

from alerts.engine import AlertEngine
from alerts.silences import Silence, parse_matcher, silence_from_json
from alerts.store import AlertStore
from netmon import plugins
from netmon.config import ConfigError, load_config

LABELS = {"alertname": "link_utilisation_high", "device": "core-a-1", "site": "HNI",
          "tier": "backbone"}


@pytest.mark.parametrize(("text", "hit"), [
    ("site=HNI", True),
    ("site=HN", False),
    ("site!=HCM", True),
    ("device=~core-.*", True),
    ("device=~core", False),  # anchored, as Alertmanager's
    ("device!~core-a-.*", False),
    ("plane=", True),  # absent label equals the empty string
    ("alertname = 'link_utilisation_high'", True),
])
def test_matchers(text: str, hit: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is hit


@pytest.mark.parametrize(("text", "message"), [
    ("site HNI", "is not a label matcher"),
    ("device=~core-(", "is not a valid regular expression"),
])
def test_bad_matchers_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)


@pytest.mark.parametrize(("payload", "message"), [
    ({"matchers": ["site=HNI"], "comment": "x"}, "give ends_at"),
    ({"matchers": [], "comment": "x", "duration": "1h"}, "at least one matcher"),
    ({"matchers": ["site=HNI"], "comment": " ", "duration": "1h"}, "needs a comment"),
    ({"matchers": ["site=HNI"], "comment": "x", "ends_at": "2026-12-01T10:00:00"},
     "no time zone"),
    ({"matchers": ["site=HNI"], "comment": "x", "duration": "soon"}, "not a duration"),
    ({"matchers": "site=HNI", "comment": "x", "duration": "1h"}, "list of strings"),
    ({"matchers": ["site=HNI"], "comment": "x", "duration": "1h", "who": 1}, "unknown keys"),
    ({"matchers": ["site=HNI"], "comment": "x", "starts_at": "2026-12-01T09:00:00Z",
      "ends_at": "2026-12-01T08:00:00Z"}, "end after it starts"),
])
def test_bad_silence_requests(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        silence_from_json(payload, at(0))


def engine(tmp_path: Path, **alerts: Any) -> AlertEngine:
    options = plugins.sections()["alerts"].model_validate(alerts)
    return AlertEngine(options, AlertStore.in_state_dir(tmp_path), now=lambda: at(0))


def test_a_silenced_alert_fires_stays_visible_and_is_flagged(tmp_path: Path) -> None:
    eng, rec = engine(tmp_path, rules={"link_utilisation_high": {"for": "1m"}}), Recorder()
    eng.add_silence(Silence.new(["device=pe-1"], at(0), at(3600), "circuit upgrade", "noc"))
    for t in (0, 60):
        rec.update(eng.evaluate([link("pe-1", "ge-0/0/1", 70.0, ts=at(t)),
                                 link("pe-2", "ge-0/0/1", 70.0, ts=at(t))], now=at(t)).alerts,
                   at(t))
    flags = {a.labels["device"]: (a.state, a.silenced) for a in rec.calls[-1][0]}
    assert flags == {"pe-1": ("firing", True), "pe-2": ("firing", False)}
    assert {a["labels"]["device"]: a["silenced"] for a in eng.active()} == {
        "pe-1": True, "pe-2": False}
    # After the silence ends the same episode is no longer silenced (no new firing).
    result = eng.evaluate([link("pe-1", "ge-0/0/1", 70.0, ts=at(3700))], now=at(3700))
    [pe1] = [a for a in result.alerts if a.labels["device"] == "pe-1"]
    assert (pe1.silenced, pe1.starts_at) == (False, at(60))
    assert result.events == []


def test_stored_silences_survive_a_restart_and_expire(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    silence = Silence.new(["site=HNI"], at(0), at(7200), "fibre works", "noc")
    eng.add_silence(silence)
    eng.store.close()
    eng = engine(tmp_path)
    [again] = eng.silences()
    assert (again.id, [str(m) for m in again.matchers], again.ends_at, again.comment) == (
        silence.id, ["site=HNI"], at(7200), "fibre works")
    assert eng.expire_silence(silence.id)
    assert not eng.expire_silence("nope")
    eng.store.close()
    [gone] = engine(tmp_path).silences()
    assert gone.state(at(1)) == "expired" and gone.ends_at == at(0)


def test_maintenance_window_from_yaml(tmp_path: Path) -> None:
    start, end = at(0), at(0) + timedelta(hours=4)
    eng = engine(tmp_path, silences=[{
        "matchers": ["tier=province", "alertname=~link_.*"], "start": start.isoformat(),
        "end": end.isoformat(), "comment": "province core maintenance"}])
    [window] = eng.silences()
    assert window.source == "config" and window.id == "config-1"
    result = eng.evaluate([link("pe-1", "ge-0/0/1", None, ts=at(10), oper=2)], now=at(10))
    assert [(a.name, a.silenced) for a in result.alerts] == [("link_down", True)]
    assert not eng.expire_silence("config-1")  # changed in the config only


def test_yaml_silence_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "netmon.yaml").write_text(
        "state_dir: /tmp/x\n"
        "alerts:\n"
        "  language: fr\n"
        "  silences:\n"
        "    - matchers: [\"site HNI\"]\n"
        "      start: 2026-12-01T22:00:00+07:00\n"
        "      end: 2026-12-01T20:00:00+07:00\n"
        "      comment: window\n"
        "    - matchers: [\"site=HNI\"]\n"
        "      start: 2026-12-01T22:00:00+07:00\n"
        "      end: 2026-12-01T20:00:00+07:00\n"
        "      comment: window\n"
        "  rules:\n"
        "    link_utilisation_high: {clear_below: 145%, overrides: [{match: {room: x}}]}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "netmon.yaml")
    text = str(caught.value)
    assert "netmon.yaml:3:13: alerts.language: 'fr' is not one of: en, vi" in text
    assert ("netmon.yaml:5:17: alerts.silences[0].matchers: 'site HNI' is not a label matcher"
            in text)
    assert "netmon.yaml:9:7: alerts.silences[1]: end must be after start" in text
    assert ("netmon.yaml:14:42: alerts.rules.link_utilisation_high.clear_below: '145%' is not a "
            "percentage" in text)
    assert ("netmon.yaml:14:68: alerts.rules.link_utilisation_high.overrides[0].match: cannot "
            "match on 'room' (labels: tier, site," in text)
