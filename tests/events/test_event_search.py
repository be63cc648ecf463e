"""The events page's server side: the catalog searched by type, camera, severity, kind and
date range, a page at a time; any event opened by id whatever its age; motion told apart
by who detected it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from vms_sdk import Event, Severity

from tests.conftest import bearer, fresh_pg_database
from vms_core.db.engine import sync_url, upgrade_schema
from vms_core.db.models import Event as EventRow
from vms_core.timeutil import to_us

CAMERAS = "".join(
    f'[[cameras]]\nname = "{name}"\nrtsp_url = "rtsp://127.0.0.1:1/{name}"\n'
    for name in ("lobby", "dock", "roof")
) + "".join(f"[plugins.{name}]\nenabled = false\n" for name in ("analytics", "lpr", "gunshot"))
BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


async def _publish_many(server: Any, count: int, camera_ids: dict[str, int]) -> None:
    """``count`` events a second apart from BASE: a gunshot every 10th, a camera state
    change every 7th, motion otherwise, spread over the three cameras; several share a
    time (the cursor must order ties by id)."""
    names = ["lobby", "dock", "roof"]
    for i in range(count):
        if i % 10 == 0:
            kind, severity, source = "gunshot.detected", Severity.HIGH, "gunshot"
        elif i % 7 == 0:
            kind, severity, source = "camera.lost", Severity.LOW, "recording"
        else:
            kind, severity, source = "motion.start", Severity.INFO, "onvif"
        await server.events.publish(
            Event(
                type=kind,
                time=BASE + timedelta(seconds=i // 2),  # two events per second
                camera_ids=(str(camera_ids[names[i % 3]]),),
                severity=severity,
                source=source,
                id=f"ev-{i:04d}",
            )
        )


async def _walk(http: aiohttp.ClientSession, url: str, token: str, query: str) -> list[dict]:
    """Every page of a search, following ``next``."""
    found: list[dict] = []
    after = ""
    while True:
        async with http.get(
            f"{url}/api/events/search?{query}&limit=37{after}", headers=bearer(token)
        ) as r:
            assert r.status == 200, await r.text()
            page = await r.json()
        found += page["events"]
        if page["next"] is None:
            return found
        after = f"&after={page['next']}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_search_pages_through_the_whole_catalog_with_every_filter(
    backend: str, make_server: Callable[..., Any], http: aiohttp.ClientSession, pg_url: str
) -> None:
    database = fresh_pg_database(pg_url) if backend == "postgresql" else None
    running = await make_server(CAMERAS, database_url=database)
    server = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    await _publish_many(server, 400, ids)
    admin = await running.admin_token()

    everything = await _walk(http, running.url, admin, "")
    assert len(everything) == 400
    assert len({e["id"] for e in everything}) == 400  # no event twice across pages
    times = [e["time"] for e in everything]
    assert times == sorted(times, reverse=True)

    gunshots = await _walk(http, running.url, admin, "type=gunshot*")
    assert len(gunshots) == 40 and {e["label"] for e in gunshots} == {"Gunshot"}
    severe = await _walk(http, running.url, admin, "severity=medium")
    assert {e["type"] for e in severe} == {"gunshot.detected"}
    no_motion = await _walk(http, running.url, admin, "kind=detection,system")
    assert len(no_motion) == 40 + sum(1 for i in range(400) if i % 10 and i % 7 == 0)
    assert "motion" not in {e["kind"] for e in no_motion}
    dock = await _walk(http, running.url, admin, f"camera={ids['dock']}")
    assert {tuple(e["camera_ids"]) for e in dock} == {(ids["dock"],)}
    since, until = BASE + timedelta(seconds=50), BASE + timedelta(seconds=59)
    window = await _walk(
        http,
        running.url,
        admin,
        f"since={since.isoformat().replace('+00:00', 'Z')}"
        f"&until={until.isoformat().replace('+00:00', 'Z')}",
    )
    assert len(window) == 20  # two a second, both ends included

    # A user granted the lobby only finds the lobby's events, in full pages.
    lobby_only = await running.token("lobby-viewer", "viewer", [ids["lobby"]])
    seen = await _walk(http, running.url, lobby_only, "")
    assert len(seen) == len([i for i in range(400) if i % 3 == 0])
    assert {tuple(e["camera_ids"]) for e in seen} == {(ids["lobby"],)}


async def test_new_events_between_pages_neither_repeat_nor_hide_older_ones(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    server = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    await _publish_many(server, 100, ids)
    admin = await running.admin_token()
    async with http.get(f"{running.url}/api/events/search?limit=30", headers=bearer(admin)) as r:
        first = await r.json()
    # Motion keeps arriving while the operator reads page 1 (an offset would shift).
    for i in range(25):
        await server.events.publish(
            Event(type="motion.start", camera_ids=(str(ids["roof"]),), source="onvif", id=f"n{i}")
        )
    rest: list[dict] = []
    after = first["next"]
    while after:
        async with http.get(
            f"{running.url}/api/events/search?limit=30&after={after}", headers=bearer(admin)
        ) as r:
            page = await r.json()
        rest += page["events"]
        after = page["next"]
    older = [e["id"] for e in first["events"] + rest]
    assert older == [f"ev-{i:04d}" for i in sorted(range(100), key=lambda i: (-(i // 2), -i))]


async def test_bad_search_parameters_name_the_parameter(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    admin = await running.admin_token()
    for query, named in [
        ("after=yesterday", "after"),
        ("severity=loud", "severity"),
        ("kind=motion,noise", "kind"),
        ("camera=lobby", "camera"),
        ("since=tuesday", "since"),
        ("limit=5000", "limit"),
    ]:
        async with http.get(f"{running.url}/api/events/search?{query}", headers=bearer(admin)) as r:
            assert r.status == 400, query
            assert named in (await r.json())["error"]["message"], query


async def test_an_event_opens_by_id_whatever_its_age(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    """The incident page opened `#/incident/<id>` by searching the last 1,000 events: an
    older one said "No event". It is now looked up by id."""
    running = await make_server(CAMERAS)
    server = running.server
    ids = {c.name: c.id for c in await server.cameras.visible()}
    old = await server.events.publish(
        Event(
            type="gunshot.detected",
            time=BASE - timedelta(days=3),
            camera_ids=(str(ids["dock"]),),
            severity=Severity.CRITICAL,
            data={"rounds": 4},
        )
    )
    # 1,100 newer events, written straight to the catalog (publishing them one by one
    # through the bus is not the point here and takes seconds).
    async with server.db.session() as session:
        session.add_all(
            EventRow(
                uid=f"newer-{i}",
                type="motion.start",
                kind="motion",
                time_us=to_us(BASE) + i,
                severity="info",
                source="onvif",
                camera_ids=[ids["dock"]],
                data={},
            )
            for i in range(1100)
        )
    await server.events.drain()
    admin = await running.admin_token()
    async with http.get(f"{running.url}/api/events/{old.id}", headers=bearer(admin)) as r:
        assert r.status == 200, await r.text()
        found = await r.json()
    assert found["type"] == "gunshot.detected" and found["data"] == {"rounds": 4}
    assert found["alarm"]["state"] == "new"  # critical: it is in the alarm queue
    # Someone who may not see the dock gets the answer a missing id gets.
    lobby_only = await running.token("lobby-viewer", "viewer", [ids["lobby"]])
    for uid in (old.id, "no-such-event"):
        async with http.get(f"{running.url}/api/events/{uid}", headers=bearer(lobby_only)) as r:
            assert r.status == 404
            assert "no event" in (await r.json())["error"]["message"]


async def test_motion_is_labelled_by_the_detector_that_saw_it(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    server = running.server
    lobby = str((await server.cameras.visible())[0].id)
    await server.events.publish(Event("motion.start", camera_ids=(lobby,), source="onvif"))
    await server.events.publish(Event("motion.start", camera_ids=(lobby,), source="analytics"))
    await server.events.publish(Event("motion.end", camera_ids=(lobby,), source="analytics"))
    admin = await running.admin_token()
    async with http.get(f"{running.url}/api/events/search?kind=motion", headers=bearer(admin)) as r:
        labels = sorted(e["label"] for e in (await r.json())["events"])
    assert labels == ["Motion (analytics)", "Motion (camera)", "Motion ended (analytics)"]


def test_the_migration_classifies_existing_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade_schema(url, "0003")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for i, kind in enumerate(["motion.start", "camera.lost", "gunshot.detected"]):
            conn.execute(
                text(
                    "INSERT INTO events (uid, type, time_us, severity, source, camera_ids, data)"
                    " VALUES (:uid, :type, :t, 'info', '', '[]', '{}')"
                ),
                {"uid": f"e{i}", "type": kind, "t": to_us(BASE) + i},
            )
    upgrade_schema(url)
    with engine.connect() as conn:
        kinds = {t: k for t, k in conn.execute(text("SELECT type, kind FROM events"))}
    engine.dispose()
    assert kinds == {
        "motion.start": "motion",
        "camera.lost": "system",
        "gunshot.detected": "detection",
    }
