"""The alert webhook: signed alerts open one incident; everything else is refused."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import vms_plugin_gunshot
from vms_plugin_gunshot.webhook import sign
from vms_sdk import Camera
from vms_sdk.testing import PluginTestHost

SECRET = "correct horse battery staple"
# Three cameras around a corner of a (made-up) street grid, one far away.
CAMERAS = [
    Camera("1", "Madison & Ogden", lat=41.8810, lon=-87.6630, heading_deg=90, fov_deg=90),
    Camera("2", "Madison east", lat=41.8812, lon=-87.6610, heading_deg=270, fov_deg=90),
    Camera("3", "Ogden north", lat=41.8825, lon=-87.6622, heading_deg=0, fov_deg=60),
    Camera("4", "Far away", lat=41.9000, lon=-87.7000),
]
SPOT = (41.8812, -87.6620)


def alert(alert_id: str = "SST-1", **changes: Any) -> dict[str, Any]:
    body = {
        "id": alert_id,
        "time": datetime.now(UTC).isoformat(),
        "lat": SPOT[0],
        "lon": SPOT[1],
        "address": "1500 W Madison St",
        "rounds": 3,
        "confidence": 0.93,
    }
    body.update(changes)
    return body


def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time() if at is None else at)
    return {"X-Gunshot-Timestamp": str(ts), "X-Gunshot-Signature": sign(secret, ts, body)}


@pytest.fixture
async def host() -> AsyncIterator[PluginTestHost]:
    config = {"secret": SECRET, "radius_m": 200, "notify_channels": ["slack"]}
    async with PluginTestHost(vms_plugin_gunshot.GunshotPlugin, config, CAMERAS) as test_host:
        yield test_host


def nothing_happened(host: PluginTestHost) -> bool:
    return not host.events and not host.bookmarks and not host.notifications


async def post(host: PluginTestHost, body: bytes, headers: dict[str, str]) -> Any:
    return await host.request("POST", "/alerts", body=body, headers=headers)


async def test_signed_alert_opens_one_incident_on_nearby_cameras(host: PluginTestHost) -> None:
    body = json.dumps(alert()).encode()
    resp = await post(host, body, signed(body))
    assert resp.status == 201, resp.decoded_json()
    answer = resp.decoded_json()
    named = [c["id"] for c in answer["cameras"]]
    assert sorted(named) == ["1", "2", "3"]
    [event] = host.events
    assert event.type == "gunshot.detected" and event.id == answer["incident"]
    assert sorted(event.camera_ids) == ["1", "2", "3"]
    assert event.data["rounds"] == 3 and event.data["alert_id"] == "SST-1"
    [mark] = host.bookmarks
    assert mark.locked and sorted(mark.camera_ids) == ["1", "2", "3"]
    assert mark.start == event.time - timedelta(seconds=30)
    assert mark.end == event.time + timedelta(minutes=2)


async def test_same_alert_id_twice_is_one_incident(host: PluginTestHost) -> None:
    first = json.dumps(alert("SST-7")).encode()
    again = json.dumps(alert("SST-7", rounds=4)).encode()  # re-sent, newly signed
    one = await post(host, first, signed(first))
    two = await post(host, again, signed(again, time.time() + 1))
    assert (one.status, two.status) == (201, 200)
    assert two.decoded_json() == {"incident": one.decoded_json()["incident"], "duplicate": True}
    assert len(host.events) == 1 and len(host.bookmarks) == 1


async def test_concurrent_copies_share_one_incident(host: PluginTestHost) -> None:
    import asyncio

    bodies = [json.dumps(alert("SST-9", rounds=r)).encode() for r in (1, 2, 3)]
    answers = await asyncio.gather(*(post(host, b, signed(b)) for b in bodies))
    assert sorted(a.status for a in answers) == [200, 200, 201]
    assert len({a.decoded_json()["incident"] for a in answers}) == 1
    assert len(host.events) == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unsigned", 401, "unsigned"),
        ("no_timestamp", 401, "unsigned"),
        ("wrong_secret", 401, "bad_signature"),
        ("body_changed", 401, "bad_signature"),
        ("stale", 401, "stale"),
        ("from_the_future", 401, "stale"),
        ("not_json", 400, "malformed"),
        ("missing_lat", 400, "malformed"),
        ("lat_out_of_range", 400, "malformed"),
        ("naive_time", 400, "malformed"),
        ("rounds_not_int", 400, "malformed"),
    ],
)
async def test_refusals_change_nothing(
    host: PluginTestHost, case: str, status: int, code: str
) -> None:
    body = json.dumps(alert()).encode()
    headers = signed(body)
    if case == "unsigned":
        headers = {}
    elif case == "no_timestamp":
        del headers["X-Gunshot-Timestamp"]
    elif case == "wrong_secret":
        headers = signed(body, secret="not the shared secret at all")
    elif case == "body_changed":
        body = json.dumps(alert(rounds=9)).encode()
    elif case == "stale":
        headers = signed(body, time.time() - 301)
    elif case == "from_the_future":
        headers = signed(body, time.time() + 400)
    else:
        raw: Any = {
            "not_json": b"{id: 1,",
            "missing_lat": json.dumps({k: v for k, v in alert().items() if k != "lat"}).encode(),
            "lat_out_of_range": json.dumps(alert(lat=91.5)).encode(),
            "naive_time": json.dumps(alert(time="2026-11-22T09:00:00")).encode(),
            "rounds_not_int": json.dumps(alert(rounds="three")).encode(),
        }[case]
        body, headers = raw, signed(raw)
    resp = await post(host, body, headers)
    assert resp.status == status
    error = resp.decoded_json()["error"]
    assert error["code"] == code and error["message"]
    assert nothing_happened(host)
    assert host.kv.get("alerts") is None
    status_page = (await host.request("GET", "/status")).decoded_json()
    assert status_page["refused"] == {code: 1}


async def test_replayed_request_is_refused(host: PluginTestHost) -> None:
    body = json.dumps(alert("SST-3")).encode()
    headers = signed(body)
    assert (await post(host, body, headers)).status == 201
    resp = await post(host, body, headers)
    assert resp.status == 409
    assert resp.decoded_json()["error"]["code"] == "replayed"
    assert len(host.events) == 1


async def test_without_secret_the_webhook_refuses() -> None:
    async with PluginTestHost(vms_plugin_gunshot.GunshotPlugin, {}, CAMERAS) as host:
        body = json.dumps(alert()).encode()
        resp = await post(host, body, signed(body))
        assert resp.status == 503
        assert nothing_happened(host)
