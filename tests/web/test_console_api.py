"""The API the operator's console draws from: saved wall views, event density per time
bucket, "not recorded yet" on the timeline, bookmark titles. Real servers on SQLite and
PostgreSQL, called over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningServer, bearer, fresh_pg_database
from tests.recording.test_storage_api import CAMERAS as CAMERA_CONFIG
from tests.recording.test_storage_api import S, add_segment
from tests.web.conftest import QUIET_PLUGINS
from vms_core.bookmarks import BookmarkRequest
from vms_core.timeutil import iso, now_us, parse_time

# The plug-ins that decode cameras are not needed to answer these requests.
CAMERAS = CAMERA_CONFIG + QUIET_PLUGINS


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> str | None:
    """A database URL for make_server: None (its own SQLite) or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return None
    request.applymarker(pytest.mark.postgres)
    return fresh_pg_database(request.getfixturevalue("pg_url"))


async def start(make_server: Callable[..., Any], catalog: str | None) -> RunningServer:
    running: RunningServer = await make_server(CAMERAS, database_url=catalog)
    return running


async def camera_ids(running: RunningServer) -> dict[str, int]:
    return {c.name: c.id for c in await running.server.cameras.visible()}


# -- saved views --------------------------------------------------------------------------


async def test_views_are_per_user_and_admins_share_them(
    make_server: Callable[..., Any], http: aiohttp.ClientSession, catalog: str | None
) -> None:
    running = await start(make_server, catalog)
    ids = await camera_ids(running)
    url = f"{running.url}/api/views"
    admin = bearer(await running.admin_token())
    alice = bearer(await running.token("alice", "operator", [ids["front"], ids["back"]]))
    bob = bearer(await running.token("bob", "viewer", [ids["back"]]))

    mine = {"name": "Night shift", "layout": 4, "tiles": [ids["back"], None, ids["front"], None]}
    async with http.post(url, json=mine, headers=alice) as r:
        assert r.status == 201, await r.text()
        created = await r.json()
    assert created["tiles"] == mine["tiles"] and not created["shared"] and created["editable"]
    # Bob has a view of the same name: names are per user.
    async with http.post(
        url, json={**mine, "tiles": [ids["back"], None, None, None]}, headers=bob
    ) as r:
        assert r.status == 201, await r.text()
    async with http.post(url, json=mine, headers=alice) as r:
        assert r.status == 409
        assert "Night shift" in (await r.json())["error"]["message"]

    # Only admins share; a shared view is offered to everyone, changed by admins only.
    async with http.post(url, json={**mine, "name": "Park", "shared": True}, headers=alice) as r:
        assert r.status == 403
    park = {"name": "Park", "layout": 4, "tiles": [ids["front"], ids["back"], None, None]}
    async with http.post(url, json={**park, "shared": True}, headers=admin) as r:
        assert r.status == 201, await r.text()
        shared = await r.json()
    async with http.get(url, headers=bob) as r:
        seen = {v["name"]: v for v in await r.json()}
    assert set(seen) == {"Night shift", "Park"}
    assert seen["Night shift"]["tiles"] == [ids["back"], None, None, None], "not Alice's view"
    # Bob may not see camera front: its tile is empty for him.
    assert seen["Park"]["tiles"] == [None, ids["back"], None, None]
    assert seen["Park"]["shared"] and not seen["Park"]["editable"]
    async with http.put(f"{url}/{shared['id']}", json=park, headers=bob) as r:
        assert r.status == 403
    async with http.delete(f"{url}/{created['id']}", headers=bob) as r:
        assert r.status == 404, "Alice's view is not Bob's to delete"

    # Alice renames and rearranges her view, then deletes it.
    moved = {"name": "Nights", "layout": 1, "tiles": [ids["front"]]}
    async with http.put(f"{url}/{created['id']}", json=moved, headers=alice) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["tiles"] == [ids["front"]]
    async with http.delete(f"{url}/{created['id']}", headers=alice) as r:
        assert r.status == 204
    async with http.get(url, headers=alice) as r:
        assert [v["name"] for v in await r.json()] == ["Park"]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"name": "x", "layout": 4, "tiles": [None]}, "tiles: 4 tiles"),
        ({"name": "x", "layout": 5, "tiles": [None] * 5}, "layout"),
        ({"name": "x", "layout": 4, "tiles": [None, None, 999, None]}, "tiles[2]: no camera 999"),
        ({"name": "  ", "layout": 1, "tiles": [None]}, "name"),
        ({"name": "x", "layout": 1, "tiles": [None], "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_view_is_refused_naming_what_is_wrong(
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    body: dict[str, Any],
    complaint: str,
) -> None:
    running = await make_server(CAMERAS)
    admin = bearer(await running.admin_token())
    async with http.post(f"{running.url}/api/views", json=body, headers=admin) as r:
        assert r.status == 400
        assert complaint in (await r.json())["error"]["message"]


async def test_a_view_may_not_name_a_camera_the_user_cannot_see(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    ids = await camera_ids(running)
    bob = bearer(await running.token("bob", "viewer", [ids["back"]]))
    body = {"name": "peek", "layout": 1, "tiles": [ids["front"]]}
    async with http.post(f"{running.url}/api/views", json=body, headers=bob) as r:
        assert r.status == 400
        assert f"no camera {ids['front']}" in (await r.json())["error"]["message"]


# -- event density ------------------------------------------------------------------------


async def test_event_density_counts_motion_and_other_events_per_bucket(
    make_server: Callable[..., Any], http: aiohttp.ClientSession, catalog: str | None
) -> None:
    running = await start(make_server, catalog)
    ids = await camera_ids(running)
    admin = bearer(await running.admin_token())
    base = parse_time("2026-03-02T10:00:00Z")

    async def publish(kind: str, seconds: float, camera: str = "front") -> None:
        event = {"type": kind, "time": iso(base + int(seconds * S)), "camera_ids": [ids[camera]]}
        async with http.post(f"{running.url}/api/events", json=event, headers=admin) as r:
            assert r.status == 201, await r.text()

    for at in (5, 20, 59.9):  # minute 0: three motions (their ends not counted)
        await publish("motion.start", at)
        await publish("motion.end", at + 0.05)
    await publish("gunshot.detected", 61)  # minute 1
    await publish("motion.start", 200)  # minute 3
    await publish("vehicle.plate", 210)
    await publish("motion.start", 30, camera="back")  # another camera
    await publish("motion.start", 600)  # outside the range
    url = f"{running.url}/api/cameras/{ids['front']}/events/density"
    query = {"start": iso(base), "end": iso(base + 300 * S), "buckets": "5"}
    async with http.get(url, params=query, headers=admin) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
    assert body["bucket_seconds"] == 60
    assert [(b["start"], b["motion"], b["events"]) for b in body["buckets"]] == [
        (iso(base), 3, 0),
        (iso(base + 60 * S), 0, 1),
        (iso(base + 180 * S), 1, 1),
    ]

    # A camera the caller may not see is no camera; bad parameters name themselves.
    viewer = bearer(await running.token("bob", "viewer", [ids["back"]]))
    async with http.get(url, params=query, headers=viewer) as r:
        assert r.status == 404
    async with http.get(url, params={**query, "buckets": "0"}, headers=admin) as r:
        assert r.status == 400 and "buckets" in (await r.json())["error"]["message"]
    async with http.get(url, params={**query, "end": iso(base)}, headers=admin) as r:
        assert r.status == 400 and "start" in (await r.json())["error"]["message"]


# -- timeline: not recorded yet -----------------------------------------------------------


async def test_time_before_the_first_recording_is_not_a_gap(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    """A 7-day view of a camera recording since yesterday shows six days "not recorded
    yet", not six days of missing recording."""
    running = await make_server(CAMERAS)
    ids = await camera_ids(running)
    admin = bearer(await running.admin_token())
    first = now_us() - 86_400 * S
    await add_segment(running.server, "front", first, 10, 100)
    await add_segment(running.server, "front", first + 60 * S, 10, 100)  # 50 s missing
    url = f"{running.url}/api/cameras/{ids['front']}/recordings"
    week = {"start": iso(first - 6 * 86_400 * S), "end": iso(first + 70 * S)}
    async with http.get(url, params=week, headers=admin) as r:
        body = await r.json()
    assert body["first_recorded"] == iso(first)
    assert [(g["start"], g["end"], g["kind"]) for g in body["gaps"]] == [
        (week["start"], iso(first), "before_first"),
        (iso(first + 10 * S), iso(first + 60 * S), "gap"),
    ]
    async with http.get(
        f"{running.url}/api/cameras/{ids['back']}/recordings", params=week, headers=admin
    ) as r:
        body = await r.json()
    assert body["first_recorded"] is None
    assert [g["kind"] for g in body["gaps"]] == ["before_first"]


# -- bookmark titles ----------------------------------------------------------------------


async def test_bookmarks_carry_a_readable_title_and_say_who_made_them(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    ids = await camera_ids(running)
    admin = bearer(await running.admin_token())
    start = now_us() - 600 * S
    machine = "gunshot audio:2:2026-12-06T19:31:38.120000+00:00: 41.76420,-72.67280"
    await running.server.bookmarks.create(
        BookmarkRequest(
            [ids["front"]], start, start + 150 * S, machine, lock=True, created_by="plugin:gunshot"
        )
    )
    await running.server.bookmarks.create(
        BookmarkRequest(
            [ids["front"]],
            start + 200 * S,
            start + 210 * S,
            "rule gunshots: gunshot.detected",
            lock=True,
            event_uid="e1",
            created_by="rule:gunshots",
        )
    )
    mine = {
        "cameras": [ids["front"]],
        "start": iso(start + 300 * S),
        "end": iso(start + 360 * S),
        "reason": "Case 2026-118: grey van",
        "lock": True,
    }
    async with http.post(f"{running.url}/api/bookmarks", json=mine, headers=admin) as r:
        assert r.status == 201
    async with http.get(f"{running.url}/api/bookmarks", headers=admin) as r:
        rows = sorted(await r.json(), key=lambda b: b["start"])
    assert [(b["title"], b["kind"]) for b in rows] == [
        ("Gunshot alert · automatic lock", "automatic"),
        ("Gunshot detected · rule gunshots", "automatic"),
        ("Case 2026-118: grey van", "operator"),
    ]
    assert rows[0]["reason"] == machine, "the machine detail stays, for the tooltip"
