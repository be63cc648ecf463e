"""The alarm queue through the API: severe events wait for a person; operators share one
queue (acknowledge, assign, note, close), every change is audited and streamed; each
alarm gets a small picture of its camera at the event's time."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from tests.conftest import bearer
from tests.eventually import eventually
from tests.loops import sim_config
from tests.playback.recorded import (
    RecordingSite,
    clock_seconds,
    minute_difference,
    recording_bias,
    seconds_of_minute,
)
from tests.simulator.conftest import small_camera
from vms_core.alarms.thumbnails import bounded_jpeg
from vms_core.db.models import Alarm
from vms_core.simulator.media import read_clock_stripe
from vms_core.simulator.simulator import Simulator
from vms_core.timeutil import iso

CAMERAS = "".join(
    f'[[cameras]]\nname = "{name}"\nrtsp_url = "rtsp://127.0.0.1:1/{name}"\n'
    for name in ("lobby", "dock")
) + "".join(f"[plugins.{name}]\nenabled = false\n" for name in ("analytics", "lpr", "gunshot"))
OLD = "2026-11-20T12:00:00Z"  # no recording then: these alarms get no picture


async def _post(
    http: aiohttp.ClientSession, url: str, token: str, body: object | None = None
) -> tuple[int, Any]:
    async with http.post(url, json=body if body is not None else {}, headers=bearer(token)) as r:
        return r.status, await r.json()


async def _event(
    http: aiohttp.ClientSession, base: str, token: str, **fields: Any
) -> dict[str, Any]:
    status, event = await _post(http, base + "/api/events", token, fields)
    assert status == 201, event
    return event


async def _queue(http: aiohttp.ClientSession, base: str, token: str, query: str = "") -> Any:
    async with http.get(f"{base}/api/alarms{query}", headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_operators_share_one_queue_and_every_change_is_audited(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    server, base = running.server, running.url
    ids = {c.name: c.id for c in await server.cameras.visible()}
    admin = await running.admin_token()
    both = list(ids.values())
    ana = await running.token("ana", "operator", both)
    ben = await running.token("ben", "operator", both)
    viewer = await running.token("vic", "viewer", both)
    lobby_only = await running.token("lou", "operator", [ids["lobby"]])

    shot = await _event(
        http,
        base,
        ana,
        type="gunshot.detected",
        camera_ids=[ids["dock"]],
        severity="critical",
        time=OLD,
    )
    await _event(http, base, ana, type="motion.start", camera_ids=[ids["dock"]], time=OLD)
    await _event(http, base, ana, type="lpr.read", camera_ids=[ids["dock"]], severity="medium")
    await server.events.drain()

    queue = await _queue(http, base, ben)
    assert [a["event"]["id"] for a in queue["alarms"]] == [shot["id"]]  # high and above only
    assert queue["open"] == {"new": 1, "acknowledged": 0}
    alarm = queue["alarms"][0]
    assert alarm["state"] == "new" and alarm["event"]["label"] == "Gunshot"
    path = f"{base}/api/alarms/{alarm['id']}"

    # Whoever acknowledges first has it; the second operator is told who.
    first, second = await asyncio.gather(
        _post(http, path + "/acknowledge", ana), _post(http, path + "/acknowledge", ben)
    )
    statuses = sorted([first[0], second[0]])
    assert statuses == [200, 409]
    winner = "ana" if first[0] == 200 else "ben"
    refused = second[1] if first[0] == 200 else first[1]
    assert f"already acknowledged by {winner}" in refused["error"]["message"]

    status, body = await _post(http, path + "/assign", ben, {"assignee": "nobody-here"})
    assert status == 400 and "assignee" in body["error"]["message"]
    status, body = await _post(http, path + "/assign", ben, {"assignee": "ana"})
    assert status == 200 and body["assignee"] == "ana"
    status, body = await _post(http, path + "/notes", ana, {"text": "units on scene"})
    assert status == 201 and [n["text"] for n in body["notes"]] == ["units on scene"]
    status, body = await _post(http, path + "/notes", ana, {"text": ""})
    assert status == 400 and "text" in body["error"]["message"]

    # A viewer watches the queue but does not work it; someone who may not see the dock
    # does not even see the alarm.
    status, body = await _post(http, path + "/acknowledge", viewer)
    assert status == 403
    assert (await _queue(http, base, lobby_only))["alarms"] == []
    status, body = await _post(http, path + "/close", lobby_only)
    assert status == 404

    status, body = await _post(http, path + "/close", ben, {"note": "false alarm: fireworks"})
    assert status == 200 and body["state"] == "closed" and body["closed_by"] == "ben"
    assert body["notes"][-1]["text"] == "false alarm: fireworks"
    status, body = await _post(http, path + "/assign", ana, {"assignee": None})
    assert status == 409 and "closed by ben" in body["error"]["message"]
    assert (await _queue(http, base, ana))["alarms"] == []
    closed = await _queue(http, base, ana, "?state=closed")
    assert [a["id"] for a in closed["alarms"]] == [alarm["id"]]

    async with http.get(f"{base}/api/audit?limit=50", headers=bearer(admin)) as r:
        actions = [
            (e["action"], e["username"]) for e in await r.json() if e["action"].startswith("alarm.")
        ]
    assert sorted(actions) == sorted(
        [
            ("alarm.acknowledge", winner),
            ("alarm.assign", "ben"),
            ("alarm.note", "ana"),
            ("alarm.close", "ben"),
        ]
    )


async def test_alarm_changes_reach_every_console_over_the_event_stream(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    base = running.url
    lobby = (await running.server.cameras.visible())[0].id
    operator = await running.token("ana", "operator", [lobby])
    messages: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> None:
        async with http.get(base + "/api/events/stream", headers=bearer(operator)) as r:
            name = ""
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    messages.append((name, json.loads(line[6:])))

    reader = asyncio.create_task(listen())
    try:
        await eventually(lambda: running.server.events._live, 10, what="stream connected")
        shot = await _event(
            http,
            base,
            operator,
            type="gunshot.detected",
            camera_ids=[lobby],
            severity="high",
            time=OLD,
        )

        def alarm_states() -> list[str]:
            return [m["state"] for n, m in messages if n == "alarm"]

        await eventually(lambda: "new" in alarm_states(), 10, what="the new alarm streamed")
        alarm_id = next(m["id"] for n, m in messages if n == "alarm")
        await _post(http, f"{base}/api/alarms/{alarm_id}/acknowledge", operator)
        await eventually(
            lambda: "acknowledged" in alarm_states(), 10, what="the acknowledgement streamed"
        )
        assert shot in [m for n, m in messages if n == "event"]
    finally:
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader


@pytest.fixture
async def one_camera() -> AsyncIterator[Simulator]:
    sim = Simulator(
        sim_config(cameras=[small_camera(1)], discovery=False, discovery_multicast=False)
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_a_fresh_alarm_shows_the_cameras_live_picture(
    one_camera: Simulator, make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    info = one_camera.cameras[0]
    running = await make_server(
        f'[[cameras]]\nname = "{info.name}"\nonvif_url = "{info.onvif_url}"\n'
        f'rtsp_url = "{info.rtsp_main_url}"\nusername = "{info.username}"\n'
        f'password = "{info.password}"\n'
        "[alarms]\nthumbnail_width = 160\nthumbnail_max_bytes = 8192\n"
    )
    camera = (await running.server.cameras.visible())[0].id
    token = await running.token("ana", "operator", [camera])
    await _event(
        http, running.url, token, type="gunshot.detected", camera_ids=[camera], severity="high"
    )

    async def ready() -> dict[str, Any]:
        alarms = (await _queue(http, running.url, token))["alarms"]
        assert alarms, "no alarm yet"
        alarm = alarms[0]
        assert alarm["thumbnail"]["state"] == "ready", alarm["thumbnail"]
        return alarm

    # Hang guard: an ONVIF snapshot of a small picture takes well under a second.
    alarm = await eventually(ready, 20, what="a thumbnail")
    assert alarm["thumbnail"]["note"] == "from the live picture"  # nothing is recorded
    async with http.get(running.url + alarm["thumbnail"]["url"], headers=bearer(token)) as r:
        assert r.status == 200 and r.content_type == "image/jpeg"
        jpeg = await r.read()
    assert len(jpeg) <= 8192
    with Image.open(io.BytesIO(jpeg)) as picture:
        assert picture.format == "JPEG" and picture.width == 160


async def test_an_old_alarm_shows_the_recording_at_the_event_time(
    recorded_site: RecordingSite, http: aiohttp.ClientSession
) -> None:
    site = recorded_site
    camera = site.camera_ids["cam-a"]
    segments = site.segments("cam-a")
    # Half an hour into the recording, between two frames and mid-segment.
    wanted = segments[0].start_us + 1800 * 1_000_000 + 4_370_000
    token = site.token("alarm-op", "operator", [camera])
    await _event(
        http,
        site.url,
        token,
        type="gunshot.detected",
        camera_ids=[camera],
        severity="critical",
        time=iso(wanted),
        id="site-thumbnail-shot",
    )

    async def ready() -> dict[str, Any]:
        async with http.get(
            f"{site.url}/api/events/site-thumbnail-shot", headers=bearer(token)
        ) as r:
            alarm = (await r.json())["alarm"]
        assert alarm, "no alarm yet"
        assert alarm["thumbnail"]["state"] == "ready", alarm["thumbnail"]
        return dict(alarm)

    alarm = await eventually(ready, 30, what="a thumbnail from the recording")
    assert alarm["thumbnail"]["note"] == "from the recording picture"
    async with http.get(site.url + alarm["thumbnail"]["url"], headers=bearer(token)) as r:
        jpeg = await r.read()
    with Image.open(io.BytesIO(jpeg)) as picture:
        clock = read_clock_stripe(np.asarray(picture.convert("RGB")))
    assert clock is not None, "the burned-in clock is readable in the thumbnail"
    shown = clock_seconds(clock) + recording_bias(site, "cam-a", wanted)
    # The frame shown at the event time: at most one frame (0.1 s) before it.
    assert minute_difference(shown, seconds_of_minute(wanted)) <= 0.15


async def test_an_alarm_without_a_recording_says_why_it_has_no_picture(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    lobby = (await running.server.cameras.visible())[0].id
    token = await running.token("ana", "operator", [lobby])
    await _event(
        http,
        running.url,
        token,
        type="gunshot.detected",
        camera_ids=[lobby],
        severity="high",
        time=OLD,
    )

    async def settled() -> dict[str, Any]:
        alarms = (await _queue(http, running.url, token))["alarms"]
        assert alarms, "no alarm yet"
        alarm = alarms[0]
        assert alarm["thumbnail"]["state"] == "none", alarm["thumbnail"]
        return alarm

    alarm = await eventually(settled, 10, what="the thumbnail given up")
    assert alarm["thumbnail"]["note"] == "no recording at the event time"
    async with http.get(
        f"{running.url}/api/alarms/{alarm['id']}/thumbnail.jpg", headers=bearer(token)
    ) as r:
        assert r.status == 404


def test_a_thumbnail_fits_its_bounds_whatever_the_camera_sends() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    jpeg = bounded_jpeg(Image.fromarray(noise), width=320, max_bytes=16 * 1024)
    assert len(jpeg) <= 16 * 1024
    with Image.open(io.BytesIO(jpeg)) as picture:
        assert picture.width <= 320


async def test_a_picture_left_pending_by_a_stop_is_given_up_at_the_next_start(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS)
    server = running.server
    lobby = (await server.cameras.visible())[0].id
    token = await running.token("ana", "operator", [lobby])
    await _event(
        http, running.url, token, type="gunshot.detected", camera_ids=[lobby], severity="high"
    )
    await server.events.drain()
    await server.alarms.stop()  # as a stop does, before the picture is taken

    async with server.db.session() as session:
        await session.execute(update(Alarm).values(thumbnail="pending", thumbnail_note=""))
    await server.alarms.start()  # what the next start does first
    [alarm] = (await _queue(http, running.url, token))["alarms"]
    assert alarm["thumbnail"] == {
        "state": "none",
        "note": "the server stopped before taking it",
        "url": None,
    }
