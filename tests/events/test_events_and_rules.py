"""Events through the bus: stored, queryable, streamed live, and acted on by rules."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from tests.conftest import bearer

# Six cameras along Main St (Hartford). Distances from the shot at (41.76580, -72.67340):
# c1 ~0 m, c2 ~111 m, c3 ~250 m, c4 ~445 m, c5 ~890 m, c6 ~2.2 km.
PLACED = "".join(
    f'[[cameras]]\nname = "c{i}"\nrtsp_url = "rtsp://127.0.0.1:1/c{i}"\n'
    f"lat = {41.76580 + dlat}\nlon = -72.67340\n"
    for i, dlat in enumerate([0.0, 0.001, 0.00225, 0.004, 0.008, 0.02], start=1)
)
RULE = """
[[rules]]
name = "gunshot evidence"
match = "gunshot.*"
[[rules.actions]]
type = "bookmark"
before_seconds = 30
after_seconds = 120
radius_m = 300
lock = true
"""


async def test_gunshot_rule_locks_exactly_the_cameras_within_300m(make_server, http) -> None:
    srv = await make_server(PLACED + RULE)
    token = await srv.admin_token()
    when = datetime(2026, 11, 22, 3, 14, 15, tzinfo=UTC)
    async with http.post(
        srv.url + "/api/events",
        headers=bearer(token),
        json={
            "type": "gunshot.detected",
            "time": when.isoformat(),
            "lat": 41.76580,
            "lon": -72.67340,
            "severity": "high",
            "data": {"rounds": 3},
        },
    ) as r:
        assert r.status == 201, await r.text()
    # A shot that matches no rule pattern changes nothing.
    async with http.post(
        srv.url + "/api/events",
        headers=bearer(token),
        json={"type": "door.opened", "lat": 41.76580, "lon": -72.67340},
    ) as r:
        assert r.status == 201
    await srv.server.events.drain()
    async with http.get(srv.url + "/api/bookmarks", headers=bearer(token)) as r:
        marks = await r.json()
    names = {c.id: c.name for c in await srv.server.cameras.visible()}
    assert sorted(names[m["camera_id"]] for m in marks) == ["c1", "c2", "c3"]
    for mark in marks:
        assert mark["locked"] is True
        assert mark["start"] == "2026-11-22T03:13:45.000Z"
        assert mark["end"] == "2026-11-22T03:16:15.000Z"
    async with http.get(srv.url + "/api/audit?action=evidence.lock", headers=bearer(token)) as r:
        assert len(await r.json()) == 1


async def test_events_query_filters(make_server, http) -> None:
    srv = await make_server(PLACED)
    token = await srv.admin_token()
    cams = {c.name: c.id for c in await srv.server.cameras.visible()}
    base = datetime.now(UTC) - timedelta(minutes=10)
    posts = [
        {"type": "motion.start", "camera_ids": [cams["c1"]], "time": base.isoformat()},
        {
            "type": "motion.end",
            "camera_ids": [cams["c1"]],
            "time": (base + timedelta(minutes=1)).isoformat(),
        },
        {
            "type": "lpr.read",
            "camera_ids": [cams["c5"]],
            "lat": 41.7738,
            "lon": -72.6734,
            "time": (base + timedelta(minutes=2)).isoformat(),
        },
    ]
    for body in posts:
        async with http.post(srv.url + "/api/events", headers=bearer(token), json=body) as r:
            assert r.status == 201

    async def types(query: str) -> list[str]:
        async with http.get(srv.url + "/api/events" + query, headers=bearer(token)) as r:
            assert r.status == 200, await r.text()
            return [e["type"] for e in await r.json()]

    assert await types("") == ["lpr.read", "motion.end", "motion.start"]
    assert await types("?type=motion.*") == ["motion.end", "motion.start"]
    assert await types(f"?camera={cams['c5']}") == ["lpr.read"]
    assert await types("?near=41.7738,-72.6734,100") == ["lpr.read"]
    assert await types("?near=41.7658,-72.6734,100") == []
    since = (base + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    assert await types(f"?since={since}") == ["lpr.read", "motion.end"]
    # A viewer granted only c1 sees only c1's events.
    viewer = await srv.token("vic", "viewer", [cams["c1"]])
    async with http.get(srv.url + "/api/events", headers=bearer(viewer)) as r:
        assert {e["type"] for e in await r.json()} == {"motion.start", "motion.end"}
    # Newer events about a camera the viewer may not see do not crowd out theirs.
    for minute in range(3, 8):
        body = {
            "type": "lpr.read",
            "camera_ids": [cams["c5"]],
            "time": (base + timedelta(minutes=minute)).isoformat(),
        }
        async with http.post(srv.url + "/api/events", headers=bearer(token), json=body) as r:
            assert r.status == 201
    async with http.get(srv.url + "/api/events?limit=2", headers=bearer(viewer)) as r:
        assert [e["type"] for e in await r.json()] == ["motion.end", "motion.start"]
    async with http.get(srv.url + "/api/events?near=1,2", headers=bearer(token)) as r:
        assert r.status == 400
        assert "near" in (await r.json())["error"]["message"]


async def test_publishing_the_same_event_id_twice_stores_one(make_server, http) -> None:
    srv = await make_server()
    token = await srv.admin_token()
    for _ in range(2):
        async with http.post(
            srv.url + "/api/events",
            headers=bearer(token),
            json={"type": "gunshot.detected", "id": "alert-77"},
        ) as r:
            assert r.status == 201
    async with http.get(srv.url + "/api/events", headers=bearer(token)) as r:
        assert [e["id"] for e in await r.json()] == ["alert-77"]


async def test_live_event_stream(make_server, http) -> None:
    srv = await make_server()
    token = await srv.admin_token()
    async with http.get(srv.url + "/api/events/stream", headers=bearer(token)) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert (await stream.content.readline()).startswith(b": connected")
        await stream.content.readline()
        async with http.post(
            srv.url + "/api/events",
            headers=bearer(token),
            json={"type": "analytics.intrusion", "severity": "high"},
        ) as r:
            assert r.status == 201
        lines = []
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(await asyncio.wait_for(stream.content.readline(), 5))
        data = json.loads(next(line for line in lines if line.startswith(b"data:"))[5:])
        assert data["type"] == "analytics.intrusion" and data["severity"] == "high"


async def test_reload_reports_and_applies_a_new_rule(make_server, http, tmp_path) -> None:
    srv = await make_server(PLACED)
    token = await srv.admin_token()
    shot = {"type": "gunshot.detected", "lat": 41.76580, "lon": -72.67340, "severity": "high"}
    async with http.post(srv.url + "/api/events", headers=bearer(token), json=shot) as r:
        assert r.status == 201
    await srv.server.events.drain()
    async with http.get(srv.url + "/api/bookmarks", headers=bearer(token)) as r:
        assert await r.json() == []  # no rule yet

    config = tmp_path / "vms.toml"
    config.write_text(
        config.read_text() + RULE + "\n[retention]\nmax_days = 7\n[onvif]\ntimeout_seconds = 5\n"
    )
    async with http.post(srv.url + "/api/config/reload", headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        report = await r.json()
    assert report["changes"] == []
    assert report["rules"] == {"added": ["gunshot evidence"]}
    assert report["retention_changed"] is True
    assert report["restart_needed"] == ["onvif"]  # read once at start: said, not hidden

    async with http.post(srv.url + "/api/events", headers=bearer(token), json=shot) as r:
        assert r.status == 201
    await srv.server.events.drain()
    async with http.get(srv.url + "/api/bookmarks", headers=bearer(token)) as r:
        assert len(await r.json()) == 3  # the new rule acted on the next shot
