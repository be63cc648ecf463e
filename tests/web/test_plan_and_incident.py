"""The plan places cameras and events from lat/lon; clicking an incident opens the nearest
cameras live and at the incident's time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from playwright.async_api import Browser, FloatRect, expect

from tests.eventually import eventually
from tests.web.conftest import PLACES, login, new_page, recorded_seconds, screenshot


async def test_incident_on_the_plan_opens_nearest_cameras_live_and_at_its_time(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=3, record=True)
    cameras = sorted(await setup.server.server.cameras.visible(), key=lambda c: c.name)
    token = await setup.server.admin_token()

    async def recorded_a_while() -> bool:  # some recording before the incident's time
        seconds = [await recorded_seconds(setup, token, cam.id) for cam in cameras]
        return min(seconds) >= 5

    await eventually(recorded_a_while, 60, 0.5, what="5 s recorded by every camera")
    lat, lon, _heading = PLACES[2]  # beside the third camera
    when = datetime.now(UTC) - timedelta(seconds=3)
    incident = {
        "type": "gunshot.detected",
        "time": when.isoformat(),
        "lat": lat + 0.0002,
        "lon": lon + 0.0001,
        "severity": "critical",
        "data": {"rounds": 3, "confidence": 0.93},
    }
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.post(setup.url + "/api/events", json=incident) as r,
    ):
        assert r.status == 201
        event_id = (await r.json())["id"]

    page = await new_page(browser)
    await login(page, setup, "/#/plan")
    await expect(page.locator(".plan-camera")).to_have_count(3)
    marker = page.locator(f'.plan-event[data-event="{event_id}"]')
    await expect(marker).to_have_count(1)

    # The marker sits nearer the third camera than any other.
    def centre(box: FloatRect | None) -> tuple[float, float]:
        assert box is not None
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    ex, ey = centre(await marker.locator("circle").bounding_box())
    distances = []
    for cam in cameras:
        dot = page.locator(f'.plan-camera[data-camera="{cam.id}"] circle')
        cx, cy = centre(await dot.bounding_box())
        distances.append(((cx - ex) ** 2 + (cy - ey) ** 2, cam.name))
    assert min(distances)[1] == cameras[2].name
    await screenshot(page, "plan-incident.png")

    await marker.click()
    await page.wait_for_url(f"**/#/incident/{event_id}")
    rows = page.locator(".incident-camera")
    await expect(rows).to_have_count(3)
    assert await rows.first.get_attribute("data-camera") == str(cameras[2].id)
    first = rows.first
    await first.locator('.video-box[data-state="live"]').wait_for(timeout=20000)
    await first.locator('.video-box[data-state="playing"]').wait_for(timeout=20000)
    playing = first.locator('.video-box[data-state="playing"]')
    started = time.monotonic()
    wall = None
    while time.monotonic() - started < 10:
        wall = await playing.get_attribute("data-wall")
        if wall:
            break
        await page.wait_for_timeout(100)
    assert wall is not None, "the past view shows no time"
    # Where playback began (the shown time runs on while the test looks; a busy machine
    # makes that seconds): shown wall time minus the video's own elapsed time.
    elapsed_ms = await playing.evaluate(
        "(box) => { const v = box.querySelector('video');"
        " return box.dataset.wall - (v ? v.currentTime * 1000 : 0); }"
    )
    lead = when.timestamp() * 1000 - float(elapsed_ms)
    assert -1000 < lead < 15000, f"past view began {lead / 1000:.1f}s before the incident"
    await page.locator(".incident-page .plan-incident").wait_for()
    await screenshot(page, "incident.png")
