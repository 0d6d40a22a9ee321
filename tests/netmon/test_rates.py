"""Counter math: one row per real case, plus hypothesis properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from netmon.model import Sample
from netmon.rates import (
    COUNTER_RESET,
    IF_COUNTERS,
    INTERFACE,
    MAX_RATE_FACTOR,
    POLL_ISSUE,
    RateEngine,
    Rates,
    Reading,
    assess,
    counter_delta,
    link_status,
    port_speed_bps,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
G = 1_000_000_000


def raw(ts: float, *, hc: bool = True, in_o: int, out_o: int, uptime: int | None = 100_000,
        speed_mbps: int = 1000, cfg: int | None = None, oper: int = 1,
        disc: int | None = None, errors: int = 0, if_index: str = "1") -> Sample:
    fields: dict = {
        ("ifHCInOctets" if hc else "ifInOctets"): in_o,
        ("ifHCOutOctets" if hc else "ifOutOctets"): out_o,
        "ifHighSpeed": speed_mbps,
        "ifOperStatus": oper,
        "ifAdminStatus": 1,
        "ifInErrors": errors,
        "ifOutErrors": 0,
        "ifInDiscards": 0,
        "ifOutDiscards": 0,
        "ifIndex": int(if_index),
        "threshold_pct": 50.0,
    }
    if uptime is not None:
        fields["sysUpTime"] = uptime
    if cfg is not None:
        fields["capacity_cfg_bps"] = cfg
    if disc is not None:
        fields["ifCounterDiscontinuityTime"] = disc
    return Sample("r1", IF_COUNTERS, {"ifIndex": if_index, "ifName": "xe-0/0/0"}, fields,
                  T0 + timedelta(seconds=ts))


def run(*samples: Sample) -> list[list[Sample]]:
    engine = RateEngine()
    return [engine.process([s]) for s in samples]


def iface(out: list[Sample]) -> Sample:
    (s,) = [x for x in out if x.measurement == INTERFACE]
    return s


def resets(out: list[Sample]) -> list[str]:
    return [str(x.fields["reason"]) for x in out if x.measurement == COUNTER_RESET]


# -- table of real cases --------------------------------------------------------------------

def test_first_poll_gives_no_rate_but_a_status():
    (first,) = run(raw(0, in_o=10, out_o=10))
    s = iface(first)
    assert "in_bps" not in s.fields and "util_pct" not in s.fields
    assert s.fields["status"] == "unknown"
    assert s.fields["capacity_bps"] == G
    assert "ifIndex" not in s.tags and s.tags["ifName"] == "xe-0/0/0"


def test_steady_rate_and_utilisation_against_configured_capacity():
    # 400M circuit on a 1G port; 30 s at 25 MB/s in = 200 Mbit/s -> 50% = over threshold.
    _, second = run(raw(0, in_o=0, out_o=0, cfg=400_000_000),
                    raw(30, in_o=25_000_000 * 30, out_o=12_500_000 * 30, cfg=400_000_000))
    f = iface(second).fields
    assert f["in_bps"] == pytest.approx(200e6)
    assert f["out_bps"] == pytest.approx(100e6)
    assert f["capacity_bps"] == 400_000_000
    assert f["util_in_pct"] == pytest.approx(50.0)
    assert f["util_out_pct"] == pytest.approx(25.0)
    assert f["util_pct"] == pytest.approx(50.0)
    assert f["status"] == "over_threshold"  # at the threshold counts as over


def test_below_threshold_is_ok():
    _, second = run(raw(0, in_o=0, out_o=0), raw(10, in_o=10 * 12_500_000, out_o=0))
    f = iface(second).fields
    assert f["util_pct"] == pytest.approx(10.0) and f["status"] == "ok"


def test_counter32_wrap():
    start = 2**32 - 1000
    _, second = run(raw(0, hc=False, in_o=start, out_o=0),
                    raw(10, hc=False, in_o=(start + 125_000_000) % 2**32, out_o=0))
    f = iface(second).fields
    assert f["in_bps"] == pytest.approx(100e6)
    assert f["counter_bits"] == 32
    assert resets(second) == []


def test_counter64_going_down_is_a_reset_not_a_wrap():
    # Near 2**64 and back to a small value at a plausible 100 Mbit/s: Counter64
    # does not wrap in practice (46 years at 100 Gbit/s), so this is a reset.
    start = 2**64 - 1_000
    _, second = run(raw(0, in_o=start, out_o=0),
                    raw(10, in_o=(start + 125_000_000) % 2**64, out_o=0))
    assert "in_bps" not in iface(second).fields
    assert resets(second) == ["64-bit counter went backwards (a reset: Counter64 does not wrap)"]


def test_reboot_gives_reset_event_and_no_rate():
    _, second = run(raw(0, in_o=10**12, out_o=10**12, uptime=9_000_000),
                    raw(60, in_o=5_000, out_o=7_000, uptime=3_000))
    assert "in_bps" not in iface(second).fields
    assert resets(second) == ["device restarted (sysUpTime and counters went backwards)"]
    assert iface(second).fields["status"] == "unknown"


def test_rate_resumes_after_reboot_from_new_baseline():
    engine = RateEngine()
    engine.process([raw(0, in_o=10**12, out_o=0, uptime=9_000_000)])
    engine.process([raw(60, in_o=1_000, out_o=0, uptime=3_000)])
    third = engine.process([raw(120, in_o=1_000 + 60 * 1_250_000, out_o=0, uptime=9_000)])
    assert iface(third).fields["in_bps"] == pytest.approx(10e6)


def test_uptime_rollover_with_counters_increasing_is_not_a_reboot():
    # sysUpTime wraps at 2**32 centiseconds (497.1 days) while the counters keep going.
    near = 2**32 - 1_000
    _, second = run(raw(0, in_o=1_000, out_o=1_000, uptime=near),
                    raw(30, in_o=1_000 + 30 * 1_000_000, out_o=1_000, uptime=2_000))
    assert resets(second) == []
    assert iface(second).fields["in_bps"] == pytest.approx(8e6)


def test_agent_restart_with_counters_increasing_is_not_a_reboot():
    _, second = run(raw(0, in_o=1_000, out_o=1_000, uptime=50_000_000),
                    raw(30, in_o=2_000, out_o=2_000, uptime=500))
    assert resets(second) == [] and "in_bps" in iface(second).fields


def test_discontinuity_time_change_is_a_reset():
    _, second = run(raw(0, in_o=1_000, out_o=0, disc=100),
                    raw(30, in_o=2_000, out_o=0, disc=4_000))
    assert resets(second) == ["ifCounterDiscontinuityTime changed"]
    assert "in_bps" not in iface(second).fields


def issues(out: list[Sample]) -> list[str]:
    return [str(x.fields["message"]) for x in out if x.measurement == POLL_ISSUE]


def test_counter32_wrap_above_port_speed_is_a_reset():
    # 100M port, Counter32 went down: as a wrap it would imply 2.6 Gbit/s in 10 s,
    # so the counter was reset without notice.
    _, second = run(raw(0, hc=False, in_o=10**9, out_o=0, speed_mbps=100),
                    raw(10, hc=False, in_o=5_000, out_o=0, speed_mbps=100))
    (reason,) = resets(second)
    assert reason == ("32-bit counter went backwards; as a wrap it would imply 2636.0 Mbit/s, "
                      "over 1.1 x 100.0 Mbit/s")
    assert "in_bps" not in iface(second).fields


def test_counter32_wrap_judged_against_configured_capacity_when_larger():
    # ifSpeed says 10M (Net-SNMP's lo, a sub-interface's bandwidth statement), the
    # link is configured at 1G and carries 48 Mbit/s across a wrap: a wrap, kept.
    start = 2**32 - 10_000_000
    _, second = run(raw(0, hc=False, in_o=start, out_o=0, speed_mbps=10, cfg=G),
                    raw(10, hc=False, in_o=(start + 60_000_000) % 2**32, out_o=0,
                        speed_mbps=10, cfg=G))
    assert resets(second) == []
    f = iface(second).fields
    assert f["in_bps"] == pytest.approx(48e6)
    assert f["util_pct"] == pytest.approx(4.8)
    assert issues(second) == [  # the capacity is configured already: no advice
        "speed_mismatch: xe-0/0/0 carries 48.0 Mbit/s, above its reported port speed of "
        "10.0 Mbit/s; the rate is kept"]


def test_counter32_going_down_with_unknown_port_speed_is_a_wrap():
    # No speed to judge by (ifSpeed 0): no test at all, even with a capacity configured.
    _, second = run(raw(0, hc=False, in_o=10**9, out_o=0, speed_mbps=0, cfg=100_000_000),
                    raw(10, hc=False, in_o=5_000, out_o=0, speed_mbps=0, cfg=100_000_000))
    assert resets(second) == []
    assert iface(second).fields["in_bps"] == pytest.approx(
        ((5_000 - 10**9) % 2**32) * 8 / 10)


def test_rising_counters_above_port_speed_keep_the_rate_and_raise_speed_mismatch():
    # A 50M sub-interface (its ifHighSpeed is the bandwidth statement) on a 40G
    # bundle carrying 800 Mbit/s: every interval is real traffic.
    engine = RateEngine()
    engine.process([raw(0, in_o=0, out_o=0, speed_mbps=50)])
    second = engine.process([raw(10, in_o=1_000_000_000, out_o=10, speed_mbps=50)])
    third = engine.process([raw(20, in_o=2_010_000_000, out_o=20, speed_mbps=50)])
    assert resets(second) == [] and resets(third) == []
    assert iface(second).fields["in_bps"] == pytest.approx(800e6)
    assert iface(third).fields["in_bps"] == pytest.approx(808e6)
    assert iface(second).fields["util_pct"] == pytest.approx(1600.0)
    text = ("speed_mismatch: xe-0/0/0 carries 800.0 Mbit/s, above its reported port speed "
            "of 50.0 Mbit/s; the rate is kept (set the link's capacity: to its real rate)")
    # The text stays the same while the mismatch lasts: the daemon logs and stores
    # an issue when it changes, not every cycle.
    assert issues(second) == [text] and issues(third) == [text]
    (issue,) = [x for x in third if x.measurement == POLL_ISSUE]
    assert issue.tags == {}  # raw() carries no device tags; ifName/ifIndex never leak in
    fourth = engine.process([raw(30, in_o=2_010_000_000 + 1_000_000, out_o=30, speed_mbps=50)])
    assert issues(fourth) == []
    assert iface(fourth).fields["in_bps"] == pytest.approx(800e3)


def test_counter64_backwards_without_speed_is_a_reset():
    _, second = run(raw(0, in_o=5_000_000, out_o=0, speed_mbps=0),
                    raw(10, in_o=1_000, out_o=0, speed_mbps=0))
    assert resets(second) == ["64-bit counter went backwards (a reset: Counter64 does not wrap)"]


def test_zero_or_missing_capacity_is_unknown_not_an_error():
    _, second = run(raw(0, in_o=0, out_o=0, speed_mbps=0), raw(10, in_o=1000, out_o=1000,
                                                              speed_mbps=0))
    f = iface(second).fields
    assert "capacity_bps" not in f and "util_pct" not in f
    assert f["status"] == "unknown" and f["in_bps"] == pytest.approx(800.0)


def test_oper_down_is_down_even_on_first_poll():
    (first,) = run(raw(0, in_o=0, out_o=0, oper=2))
    assert iface(first).fields["status"] == "down"


def test_error_counters_become_rates():
    _, second = run(raw(0, in_o=0, out_o=0, errors=2**32 - 5),
                    raw(10, in_o=0, out_o=0, errors=15))
    assert iface(second).fields["in_errors_per_s"] == pytest.approx(2.0)


def test_state_is_per_interface_and_slot_timestamps_are_used():
    engine = RateEngine()
    engine.process([raw(0, in_o=0, out_o=0, if_index="1"), raw(0, in_o=0, out_o=0, if_index="2")])
    slot = T0 + timedelta(seconds=60)
    out = engine.process([raw(10.3, in_o=1_250_000, out_o=0, if_index="1"),
                          raw(10.3, in_o=2_500_000, out_o=0, if_index="2")], slot=slot)
    rates = sorted(s.fields["in_bps"] for s in out)
    # Rates divide by the answer times (10.3 s), stamps are the slot.
    assert rates == pytest.approx([1_250_000 * 8 / 10.3, 2_500_000 * 8 / 10.3])
    assert {s.ts for s in out} == {slot}


def test_expire_drops_only_old_readings():
    engine = RateEngine()
    engine.process([raw(0, in_o=0, out_o=0, if_index="1")])
    engine.process([raw(3600, in_o=0, out_o=0, if_index="2")])
    assert engine.expire((T0 + timedelta(seconds=1800)).timestamp()) == 1
    # ifIndex 2 keeps its baseline: its next poll has a rate, ifIndex 1 starts over.
    out = engine.process([raw(3660, in_o=750_000, out_o=0, if_index="2"),
                          raw(3660, in_o=750_000, out_o=0, if_index="1")])
    rated = sorted(s.fields.get("in_bps", -1.0) for s in out)
    assert rated == [-1.0, pytest.approx(100_000.0)]


def test_non_counter_samples_pass_through_and_forget_drops_state():
    engine = RateEngine()
    dev = Sample("r1", "device", {}, {"reachable": True}, T0)
    assert engine.process([dev]) == [dev]
    engine.process([raw(0, in_o=0, out_o=0)])
    assert engine.targets() == {"r1"}
    engine.forget("r1")
    assert engine.targets() == set()


@pytest.mark.parametrize(
    ("high", "speed", "expected"),
    [
        (1000, 1_000_000_000, 1_000_000_000),
        (0, 100_000_000, 100_000_000),        # ifHighSpeed 0: fall back to ifSpeed
        (None, 10_000_000, 10_000_000),       # no ifXTable at all
        (0, 2**32 - 1, None),                 # saturated ifSpeed and no ifHighSpeed
        (0, 0, None),
        (10_000, 2**32 - 1, 10_000_000_000),  # 10G
        (1_000_000_000, 1_000_000_000, 1_000_000_000),  # agent puts bit/s in ifHighSpeed
    ],
)
def test_port_speed(high, speed, expected):
    assert port_speed_bps(high, speed) == expected


@pytest.mark.parametrize(
    ("oper", "util", "threshold", "status"),
    [(1, 10.0, 50.0, "ok"), (1, 50.0, 50.0, "over_threshold"), (1, 80.0, 70.0, "over_threshold"),
     (2, 80.0, 50.0, "down"), (7, None, 50.0, "down"), (1, None, 50.0, "unknown"),
     (None, 10.0, 50.0, "unknown")],
)
def test_link_status(oper, util, threshold, status):
    assert link_status(oper, util, threshold) == status


# -- properties -----------------------------------------------------------------------------

bits_st = st.sampled_from([32, 64])


@given(bits=bits_st, data=st.data())
def test_wrap_is_exact(bits, data):
    start = data.draw(st.integers(0, 2**bits - 1))
    increase = data.draw(st.integers(0, 2**bits - 1))
    assert counter_delta(start, (start + increase) % 2**bits, bits) == increase


@given(
    bits=bits_st,
    prev_in=st.integers(0, 2**64 - 1),
    cur_in=st.integers(0, 2**64 - 1),
    prev_out=st.integers(0, 2**64 - 1),
    cur_out=st.integers(0, 2**64 - 1),
    dt=st.floats(0.001, 3600),
    speed=st.one_of(st.none(), st.just(0), st.integers(1, 400 * G)),
    capacity=st.one_of(st.none(), st.integers(1_000, 400 * G)),
    up0=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    up1=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
def test_what_each_signal_proves(bits, prev_in, cur_in, prev_out, cur_out, dt, speed,
                                 capacity, up0, up1):
    mask = 2**bits - 1
    a = Reading(0.0, up0, None, bits, prev_in & mask, prev_out & mask, (0, 0, 0, 0))
    b = Reading(dt, up1, None, bits, cur_in & mask, cur_out & mask, (0, 0, 0, 0))
    in_back, out_back = b.in_octets < a.in_octets, b.out_octets < a.out_octets
    result = assess(a, b, speed, capacity)
    if not (in_back or out_back):
        # Counters that rose are traffic, whatever the reported speed: the exact rate.
        assert isinstance(result, Rates)
        assert result.in_bps == pytest.approx((b.in_octets - a.in_octets) * 8 / dt)
        assert result.out_bps == pytest.approx((b.out_octets - a.out_octets) * 8 / dt)
    elif bits == 64:
        assert isinstance(result, str)  # a Counter64 going down is never a wrap
    elif isinstance(result, Rates):
        assert result.in_bps >= 0 and result.out_bps >= 0
        if speed:  # a Counter32 wrap is kept only within what the link can carry
            bound = MAX_RATE_FACTOR * max(speed, capacity or 0)
            assert not in_back or result.in_bps <= bound
            assert not out_back or result.out_bps <= bound
    else:
        assert result  # a reason is always given
        restarted = up0 is not None and up1 is not None and up1 < up0
        assert speed or restarted  # with no port speed, only a restart stops a wrap


@given(
    bits=bits_st,
    start=st.integers(0, 2**64 - 1),
    bps=st.integers(0, 1_200_000_000),
    dt=st.integers(1, 300),
)
def test_true_rate_recovered_across_wraps(bits, start, bps, dt):
    # Any traffic below line rate is recovered exactly, across a Counter32 wrap or
    # not, provided the counter cannot wrap twice within the interval. Counter64
    # does not wrap: only intervals that stay below 2**64 are drawn for it.
    start &= 2**bits - 1
    octets = bps * dt // 8
    assume(octets < 2**bits)
    assume(bits == 32 or start + octets < 2**64)
    a = Reading(0.0, 1000, None, bits, start, start, (0, 0, 0, 0))
    b = Reading(float(dt), 1000 + dt * 100, None, bits, (start + octets) % 2**bits,
                start, (0, 0, 0, 0))
    result = assess(a, b, 1_200_000_000)
    assert isinstance(result, Rates)
    assert result.in_bps == pytest.approx(octets * 8 / dt)
    assert result.out_bps == 0
