"""Data-centre rules on samples: UPS, environment and server rules judge what the
collectors report, with hysteresis, the device's own limits first, and annotations in
English and Vietnamese that show the value, the limit and where the limit came from.

Step: samples -> **rules** (and, at the end, through the alert engine)."""

from __future__ import annotations

from typing import Any

from alertkit import Recorder, at

from alerts.engine import AlertEngine
from alerts.rules.shipped import DEFAULTS_FILE
from netmon import plugins
from netmon.model import HOST, SENSOR, UPS, Sample

TAGS = {"device": "ups-hn-1", "site": "DC-HN", "tier": "datacentre", "province": "Ha Noi"}


def ups(t: float = 0, **fields: Any) -> Sample:
    base = {"mib": "UPS-MIB", "battery_status": "normal", "output_source": "normal",
            "runtime_s": 3000, "charge_pct": 100, "on_battery_s": 0, "output_load_pct": 30}
    return Sample("ups-hn-1", UPS, TAGS, {**base, **fields}, at(t))


def sensor(value: float, *, t: float = 0, kind: str = "temperature", name: str = "rack 3 inlet",
           device: str = "probe-hn-1", site: str = "DC-HN", status: str = "ok",
           **limits: float | str) -> Sample:
    unit = {"temperature": ("c", "C"), "humidity": ("pct", "%RH")}[kind]
    fields: dict[str, Any] = {f"{kind}_{unit[0]}": value, "status": status}
    for key, limit in limits.items():
        fields[key if key == "limits_from" else f"{key}_{unit[0]}"] = limit
    tags = {"device": device, "site": site, "tier": "datacentre", "sensor": name,
            "kind": kind, "unit": unit[1]}
    return Sample(device, SENSOR, tags, fields, at(t))


def rule(name: str, language: str = "en", **options: Any):
    plugin = plugins.rules()[name]
    built = plugin.factory(plugin.options.model_validate(options))
    built.language = language
    return built


# A rule reports a thing while it fires and once when it stops (alerts.rule.Reporter):
# a reading that is fine, and was fine, gives no observation.
def verdicts(r, *samples: Sample) -> list[tuple[bool, float | None]]:
    return [(o.firing, o.value) for s in samples for o in r.evaluate([s])]


# -- UPS -------------------------------------------------------------------------------


def test_on_battery_fires_and_resolves_with_english_and_vietnamese():
    r = rule("ups_on_battery")
    assert verdicts(r, ups(0), ups(60, output_source="battery", on_battery_s=45,
                                   runtime_s=840)) == [(True, 45.0)]
    (obs,) = r.evaluate([ups(120, output_source="battery", on_battery_s=105, runtime_s=780)])
    assert obs.labels == {"alertname": "ups_on_battery", "severity": "critical", **TAGS}
    assert obs.annotations["summary"] == \
        "UPS ups-hn-1 (DC-HN) on battery for 1m, 13m runtime left"
    vi = rule("ups_on_battery", "vi")
    (obs,) = vi.evaluate([ups(0, output_source="battery", on_battery_s=105, runtime_s=780)])
    assert obs.annotations["summary"] == \
        "UPS ups-hn-1 (DC-HN) đang chạy bằng ắc quy 1m, còn 13m"
    assert verdicts(r, ups(180)) == [(False, 0.0)]


def test_battery_low_on_low_and_depleted_only():
    r = rule("ups_battery_low")
    got = [o.firing for s in (ups(0), ups(1, battery_status="low"),
                              ups(2, battery_status="depleted"), ups(3, battery_status="unknown"))
           for o in r.evaluate([s])]
    assert got == [True, True, False]


def test_runtime_low_default_floor_10_minutes_with_hysteresis():
    r = rule("ups_runtime_low")
    series = [ups(0, runtime_s=900), ups(1, runtime_s=599), ups(2, runtime_s=700),
              ups(3, runtime_s=720), ups(4, runtime_s=650)]
    assert [o.firing for s in series for o in r.evaluate([s])] == [True, True, False]
    # runtime 0 on mains with a normal battery is "not estimated", never an alert
    assert r.evaluate([ups(5, runtime_s=0)]) == []
    (obs,) = r.evaluate([ups(6, runtime_s=240, output_source="battery")])
    assert obs.annotations["summary"] == "UPS ups-hn-1 (DC-HN): 4m runtime left, below the " \
        "floor 10m"


def test_runtime_floor_per_site_names_its_source():
    r = rule("ups_runtime_low", overrides=[{"match": {"site": "DC-HN"}, "floor": "20m",
                                            "clear_above": "25m"}])
    (obs,) = r.evaluate([ups(0, runtime_s=900)])
    assert obs.firing
    assert "below the limit configured for site DC-HN 20m" in obs.annotations["summary"]


def test_overload_default_80_clears_below_75():
    r = rule("ups_overload")
    loads = [79, 80, 77, 75, 74.9]
    assert [o.firing for load in loads for o in r.evaluate([ups(load, output_load_pct=load)])] \
        == [True, True, True, False]
    r = rule("ups_overload", language="vi")
    (obs,) = r.evaluate([ups(0, output_load_pct=91)])
    assert obs.annotations["summary"] == "UPS ups-hn-1 (DC-HN) tải đầu ra 91% vượt ngưỡng 80%"


def test_bypass_and_self_test():
    assert verdicts(rule("ups_on_bypass"), ups(0, output_source="bypass")) == [(True, 1.0)]
    r = rule("ups_self_test_failed")
    assert [o.firing for s in (ups(0, self_test="passed"), ups(1, self_test="in_progress"),
                               ups(2, self_test="error")) for o in r.evaluate([s])] \
        == [True]


def test_alarm_each_named_resolves_when_it_leaves_the_table():
    r = rule("ups_alarm")
    first = r.evaluate([ups(0, alarms_present=3, alarms="onBattery,fanFailure,chargerFailed")])
    assert {(o.labels["alarm"], o.firing) for o in first} == {("fanFailure", True),
                                                             ("chargerFailed", True)}
    fan = next(o for o in first if o.labels["alarm"] == "fanFailure")
    assert fan.annotations["summary"] == "UPS ups-hn-1 (DC-HN) alarm: fanFailure"
    assert "onBattery, fanFailure, chargerFailed" in fan.annotations["description"]
    second = r.evaluate([ups(60, alarms_present=1, alarms="chargerFailed")])
    assert {(o.labels["alarm"], o.firing) for o in second} == {("fanFailure", False),
                                                              ("chargerFailed", True)}
    # a UPS without an alarm group (no alarms field) is not judged
    assert r.evaluate([ups(120)]) == []


# -- environment -------------------------------------------------------------------------


def test_temperature_against_the_probes_own_limit_first():
    r = rule("temperature_high", high=35)  # configured, but the probe has its own
    (obs,) = r.evaluate([sensor(24.5, high_warning=24, high_critical=30, limits_from="probe")])
    assert obs.firing and obs.value == 24.5
    assert obs.labels["sensor"] == "rack 3 inlet" and obs.labels["kind"] == "temperature"
    assert obs.annotations["summary"] == \
        "rack 3 inlet on probe-hn-1 (DC-HN): 24.5 °C above the probe's high warning 24 °C"
    vi = rule("temperature_high", "vi")
    (obs,) = vi.evaluate([sensor(24.5, high_warning=24, limits_from="probe")])
    assert obs.annotations["summary"] == ("rack 3 inlet trên probe-hn-1 (DC-HN): 24.5 °C vượt "
                                          "ngưỡng cảnh báo cao của đầu dò 24 °C")
    # hysteresis 1 °C: 23.5 keeps firing, 22.9 resolves
    assert [o.firing for v in (23.5, 22.9)
            for o in r.evaluate([sensor(v, high_warning=24, limits_from="probe")])] \
        == [True, False]


def test_temperature_never_guesses_a_limit():
    r = rule("temperature_high")  # shipped: no configured limit
    assert r.evaluate([sensor(55.0)]) == []


def test_temperature_configured_per_site_and_device():
    r = rule("temperature_high", high=30, overrides=[
        {"match": {"site": "DC-HN"}, "high": 27},
        {"match": {"device": "probe-hn-2"}, "high": 25}])
    (a,) = r.evaluate([sensor(27.2)])
    assert a.firing and "above the limit configured for site DC-HN 27 °C" in \
        a.annotations["summary"]
    (b,) = r.evaluate([sensor(26.0, device="probe-hn-2")])
    assert b.firing and "device probe-hn-2 25 °C" in b.annotations["summary"]
    # Under its limit and never firing: nothing to report (alerts.rule.Reporter).
    assert r.evaluate([sensor(29.0, site="DC-HCM", device="probe-hcm-1")]) == []
    (d,) = r.evaluate([sensor(30.5, site="DC-HCM", device="probe-hcm-1")])
    assert d.firing and "above the configured limit 30 °C" in d.annotations["summary"]


def test_humidity_both_sides_device_then_config():
    r = rule("humidity_out_of_range", high=70)
    # the PDU knows only its low limits: the high side comes from the config
    pdu = {"low_warning": 20, "low_critical": 10, "limits_from": "pdu"}
    (low,) = r.evaluate([sensor(18, kind="humidity", **pdu)])
    assert low.firing
    assert low.annotations["summary"] == ("rack 3 inlet on probe-hn-1 (DC-HN): 18 %RH below "
                                          "the PDU's low warning 20 %RH")
    (back,) = r.evaluate([sensor(23, kind="humidity", **pdu)])
    assert not back.firing
    (high,) = r.evaluate([sensor(72, kind="humidity", **pdu)])
    assert high.firing and "above the configured limit 70 %RH" in high.annotations["summary"]


def test_sensor_fault():
    r = rule("sensor_fault")
    assert [o.firing for s in (sensor(20.0), sensor(20.0, status="fault"),
                               sensor(20.0, status="unavailable"))
            for o in r.evaluate([s])] == [True, False]
    # a failed sensor's reading is not judged by temperature_high
    assert rule("temperature_high", high=10).evaluate([sensor(20.0, status="fault")]) == []


# -- servers ---------------------------------------------------------------------------


def storage(used_pct: float, kind: str = "fixed_disk", name: str = "/var") -> Sample:
    tags = {"device": "srv-hn-1", "site": "DC-HN", "tier": "datacentre", "storage": name,
            "storage_type": kind}
    return Sample("srv-hn-1", HOST, tags, {"used_pct": used_pct, "size_bytes": 100 * 2**30,
                                          "used_bytes": used_pct * 2**30}, at(0))


def test_filesystem_full_default_90_not_ram():
    r = rule("filesystem_full")
    assert [o.firing for p in (89.0, 90.0, 86.0, 84.9) for o in r.evaluate([storage(p)])] \
        == [True, True, False]
    assert r.evaluate([storage(99.0, kind="ram", name="Physical memory")]) == []
    (obs,) = r.evaluate([storage(95.5, name="/data")])
    assert obs.labels["storage"] == "/data"
    assert obs.annotations["summary"] == "/data on srv-hn-1 (DC-HN) 95.5% full, above the " \
        "limit 90%"


# -- shipped defaults, and the engine -------------------------------------------------------


def test_defaults_come_from_the_shipped_yaml():
    import yaml

    shipped = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    rules = plugins.rules()
    assert set(shipped) <= set(rules)
    assert rules["ups_runtime_low"].options().floor_s == 600
    assert rules["ups_overload"].options().threshold_pct == 80
    assert rules["filesystem_full"].options().threshold_pct == 90
    assert rules["ups_on_battery"].options().severity == "critical"
    assert rules["temperature_high"].options().for_s == 300


def test_through_the_engine_for_then_resolved():
    options = plugins.sections()["alerts"].model_validate({"rules": {"ups_overload": {
        "for": "2m"}}})
    eng, rec = AlertEngine(options), Recorder()
    for t, load in ((0, 85), (60, 86), (120, 88), (180, 70)):
        result = eng.evaluate([ups(t, output_load_pct=load)], now=at(t))
        rec.update(result.alerts, at(t))
    states = [[a.state for a in alerts if a.labels["alertname"] == "ups_overload"]
              for alerts, _ in rec.calls]
    assert states == [[], [], ["firing"], ["resolved"]]
