"""Human units in YAML: one row per way an engineer writes (or mistypes) a figure."""

from __future__ import annotations

import pytest

from netmon.units import parse_bandwidth, parse_percent


@pytest.mark.parametrize(
    ("value", "bps"),
    [("400M", 400_000_000), ("1.2G", 1_200_000_000), ("50 M", 50_000_000), ("1k", 1_000),
     ("10Gbps", 10_000_000_000), ("2.5kb/s", 2_500), ("1000bps", 1_000)],
)
def test_bandwidth(value, bps):
    assert parse_bandwidth(value) == bps


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (400, "400 needs a unit: 400M?"),                        # a 400M circuit, not 400 bit/s
        ("400", "'400' needs a unit: 400M?"),
        (0.5, "0.5 needs a unit: 0.5M?"),
        (1_200_000_000, "1200000000 needs a unit: 1.2G?"),       # bit/s written out in full
        (10_000, "10000 needs a unit: 10k?"),
        ("500bps", "'500bps' is below 1k, the smallest capacity (examples: 50M, 400M)"),
        ("0.5k", "'0.5k' is below 1k, the smallest capacity (examples: 50M, 400M)"),
        ("400Mbs", "'400Mbs' is not a bandwidth (examples: 50M, 400M, 1.2G)"),
        (0, "0 is not a bandwidth (examples: 50M, 400M, 1.2G)"),
        ("0", "'0' is not a bandwidth (examples: 50M, 400M, 1.2G)"),
        (True, "True is not a bandwidth (examples: 50M, 400M, 1.2G)"),
    ],
)
def test_bandwidth_mistakes(value, message):
    with pytest.raises(ValueError) as caught:
        parse_bandwidth(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(("value", "pct"), [("50%", 50.0), ("40 %", 40.0), ("0.5%", 0.5),
                                           ("100%", 100.0)])
def test_percent(value, pct):
    assert parse_percent(value) == pct


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.5, "0.5 needs a %: did you mean 50%?"),               # a fraction, not half a percent
        ("0.7", "'0.7' needs a %: did you mean 70%?"),
        (0.005, "0.005 needs a %: did you mean 0.5%?"),
        (1, "1 needs a %: 1% or 100%?"),                          # either, so never guessed
        (50, "50 needs a %: 50%?"),
        ("50", "'50' needs a %: 50%?"),
        ("150%", "'150%' is not a percentage between 0 and 100 (examples: 50%, 70%)"),
        (150, "150 is not a percentage between 0 and 100 (examples: 50%, 70%)"),
        ("0%", "'0%' is not a percentage between 0 and 100 (examples: 50%, 70%)"),
        ("half", "'half' is not a percentage between 0 and 100 (examples: 50%, 70%)"),
        (True, "True is not a percentage between 0 and 100 (examples: 50%, 70%)"),
    ],
)
def test_percent_mistakes(value, message):
    with pytest.raises(ValueError) as caught:
        parse_percent(value)
    assert str(caught.value) == message
