"""/api/alerts and /api/silences over real HTTP (aiohttp TestServer on 127.0.0.1).

Step: the window on the alert engine. A ``DaemonState`` holds a real
``AlertService`` (engine and alerts.sqlite in tmp_path) fed with the samples
the rate step produces; the requests are what ``netmon alerts`` / ``netmon
silence`` and operators' scripts send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alertkit import device, link

from alerts.service import AlertService
from netmon import plugins
from netmon.daemon import DaemonState
from netmon.httpapi import HttpOptions, build_app


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient, AlertService]]:
    options = plugins.sections()["alerts"].model_validate(
        {"rules": {"link_utilisation_high": {"for": "1m"}}})
    service = AlertService(options, tmp_path)
    state = DaemonState(alerts=service)
    now = datetime.now(UTC)
    for ago in (120, 60, 0):
        ts = now - timedelta(seconds=ago)
        service.submit([link("pe-1", "ge-0/0/1", 70.0, ts=ts),
                        link("pe-2", "ge-0/0/1", 55.0, ts=ts, site="HCM"),
                        link("pe-3", "ge-0/0/1", None, ts=ts, oper=2),
                        device("pe-3", True, ts=ts)])
        await service.evaluate(now=ts)
    client = TestClient(TestServer(build_app(state, HttpOptions()), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, service
    finally:
        await client.close()
        await service.aclose()


async def test_alerts_with_state_filters_and_fields(api) -> None:
    client, _ = api
    everything = (await (await client.get("/api/alerts")).json())["alerts"]
    assert [(a["labels"]["alertname"], a["labels"]["device"], a["state"]) for a in everything] \
        == [("link_down", "pe-3", "firing"), ("link_utilisation_high", "pe-1", "firing"),
            ("link_utilisation_high", "pe-2", "firing")]
    one = everything[1]
    assert one["value"] == 70.0 and one["since"] == one["starts_at"]
    assert one["silenced"] is False and one["inhibited"] is False
    assert one["annotations"]["summary"] == "ge-0/0/1 at 70.0% of 400 Mbit/s for 2m"
    hcm = await client.get("/api/alerts", params=[("filter", "site=HCM")])
    assert [a["labels"]["device"] for a in (await hcm.json())["alerts"]] == ["pe-2"]
    pending = await client.get("/api/alerts?state=pending,resolved")
    assert (await pending.json())["alerts"] == []
    bad = await client.get("/api/alerts", params=[("filter", "site HCM")])
    assert bad.status == 400 and "is not a label matcher" in (await bad.json())["error"]


async def test_silence_add_list_expire(api) -> None:
    client, service = api
    made = await client.post("/api/silences", json={
        "matchers": ["alertname=~link_.*", "site=HNI"], "duration": "2h",
        "comment": "works on the HNI ring", "created_by": "noc"})
    assert made.status == 201
    silence = await made.json()
    assert silence["state"] == "active" and silence["source"] == "api"
    await service.evaluate()
    flags = {a["labels"]["device"]: a["silenced"]
             for a in (await (await client.get("/api/alerts")).json())["alerts"]}
    assert flags == {"pe-1": True, "pe-2": False, "pe-3": True}
    listed = (await (await client.get("/api/silences")).json())["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]
    gone = await client.delete(f"/api/silences/{silence['id']}")
    assert gone.status == 200
    flags = {a["labels"]["device"]: a["silenced"]
             for a in (await (await client.get("/api/alerts")).json())["alerts"]}
    assert not any(flags.values())
    assert (await client.delete("/api/silences/nope")).status == 404


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "the body must be JSON"),
    (b'{"matchers": ["site=HNI"], "comment": "x"}', "give ends_at"),
    (b'{"matchers": ["site HNI"], "comment": "x", "duration": "1h"}', "not a label matcher"),
    (b'[]', "expected a JSON object"),
])
async def test_bad_silences_are_refused_with_the_reason(api, body: bytes, message: str) -> None:
    client, _ = api
    answer = await client.post("/api/silences", data=body,
                               headers={"Content-Type": "application/json"})
    assert answer.status == 400
    assert message in (await answer.json())["error"]
