"""The routing tree: matchers, first match wins, ``continue``, inheritance, group keys."""

from __future__ import annotations

import pytest

from alerts.route import RouteOptions, build_routes, parse_matcher

LABELS = {"alertname": "link_down", "tier": "backbone", "site": "HNI", "severity": "critical"}


@pytest.mark.parametrize(("text", "hit"), [
    ("tier=backbone", True),
    ("tier=back", False),
    ("tier!=backbone", False),
    ("tier!=district", True),
    ("site=~HN.*", True),
    ("site=~N", False),              # anchored at both ends, as Alertmanager
    ("site!~HC.*", True),
    ("plane=", True),                # a missing label is the empty string
    ("plane!=", False),
    ('site="HNI"', True),            # quotes are optional
    ("severity=~critical|warning", True),
])
def test_matchers(text: str, hit: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is hit


@pytest.mark.parametrize("text", ["tier", "=x", "1tier=x", "tier=~(", "ti er=x"])
def test_bad_matchers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(text)


def tree(**root: object) -> object:
    return build_routes(RouteOptions.model_validate(root))


def test_first_match_wins_unless_continue() -> None:
    routes = [{"matchers": {"tier": "backbone"}, "receiver": "noc"},
              {"matchers": {"site": "HNI"}, "receiver": "hn"}]
    assert [r.receiver for r in tree(receiver="mail", routes=routes).match(LABELS)] == ["noc"]
    routes[0]["continue"] = True
    assert [r.receiver for r in tree(receiver="mail", routes=routes).match(LABELS)] == [
        "noc", "hn"]
    assert [r.receiver for r in tree(receiver="mail", routes=routes).match(
        {"tier": "district", "site": "HCM"})] == ["mail"]


def test_a_matching_parent_whose_children_do_not_match_takes_the_alert() -> None:
    root = tree(receiver="mail", routes=[
        {"matchers": {"tier": "backbone"}, "receiver": "noc",
         "routes": [{"matchers": {"severity": "info"}, "receiver": "chat"}]}])
    assert [r.receiver for r in root.match(LABELS)] == ["noc"]
    assert [r.receiver for r in root.match({**LABELS, "severity": "info"})] == ["chat"]


def test_children_inherit_and_override() -> None:
    root = tree(receiver="mail", group_by=["alertname"], group_wait="10s", routes=[
        {"matchers": {"tier": "backbone"}, "group_interval": "1m",
         "routes": [{"matchers": {"site": "HNI"}, "receiver": "hn", "group_by": ["..."]}]}])
    (leaf,) = root.match(LABELS)
    assert (leaf.receiver, leaf.group_wait_s, leaf.group_interval_s, leaf.repeat_interval_s) \
        == ("hn", 10.0, 60.0, 4 * 3600.0)
    assert leaf.group_labels(LABELS) == LABELS
    (mid,) = root.match({**LABELS, "site": "HCM"})
    assert mid.receiver == "mail" and mid.group_by == ("alertname",)
    assert mid.group_labels(LABELS) == {"alertname": "link_down"}


def test_route_keys_are_distinct_and_stable() -> None:
    opts = {"routes": [{"matchers": {"tier": "backbone"}, "receiver": "a"},
                       {"matchers": {"tier": "backbone"}, "receiver": "b"}]}
    keys = [r.key for r in tree(**opts).walk()]
    assert len(set(keys)) == 3
    assert keys == [r.key for r in tree(**opts).walk()]


def test_group_by_everything_stands_alone() -> None:
    with pytest.raises(ValueError, match="cannot be combined"):
        RouteOptions.model_validate({"group_by": ["...", "site"]})
