"""The camera page: the timeline shows what is recorded, a click plays back from that
moment, and the picture's burned-in clock agrees with the clicked time."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.eventually import eventually
from tests.web.conftest import has_endpoint, login, new_page, recorded_seconds, screenshot
from vms_core.simulator.media.clock import expected_clock, read_clock_stripe

GRAB_JS = """(video) => {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
}"""


async def grab_frame(page: Page, selector: str) -> np.ndarray:
    data_url: str = await page.eval_on_selector(selector, GRAB_JS)
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def seconds_apart(a: int, b: int) -> int:
    """Distance between two seconds-of-the-minute, across the minute boundary."""
    d = abs(a - b) % 60
    return min(d, 60 - d)


async def test_timeline_click_plays_back_the_clicked_moment(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=1, record=True, loop_seconds=60)
    if not has_endpoint(setup, "GET", "/api/cameras/{id}/playback.mp4"):
        pytest.skip("waits for GET /api/cameras/{id}/playback.mp4 (playback)")
    camera = (await setup.server.server.cameras.visible())[0]
    token = await setup.server.admin_token()

    async def twelve_seconds() -> bool:
        return await recorded_seconds(setup, token, camera.id) >= 12

    await eventually(twelve_seconds, 60, 0.5, what="12 s recorded")
    # A bookmark and an event, so the screenshot shows every row of the timeline.
    now = datetime.now(UTC)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        bookmark = {
            "cameras": [camera.id],
            "start": (now - timedelta(seconds=10)).isoformat(),
            "end": (now - timedelta(seconds=4)).isoformat(),
            "reason": "case 2026-118: suspect vehicle",
            "lock": True,
        }
        async with http.post(setup.url + "/api/bookmarks", json=bookmark) as r:
            assert r.status == 201, await r.text()
        event = {"type": "vehicle.plate", "camera_ids": [camera.id], "severity": "medium"}
        async with http.post(setup.url + "/api/events", json=event) as r:
            assert r.status == 201

    page = await new_page(browser)
    await login(page, setup, f"/#/camera/{camera.id}")
    await page.wait_for_selector('.camera-page .video-box[data-state="live"]')
    await page.click("text=15 min")
    await page.wait_for_selector(".bookmarks li >> text=case 2026-118")
    timeline = page.locator(".timeline")
    view_start = int(await timeline.get_attribute("data-view-start") or 0)
    view_end = int(await timeline.get_attribute("data-view-end") or 0)
    box = await page.locator(".timeline-canvas").bounding_box()
    assert box is not None
    target_ms = time.time() * 1000 - 8000  # 8 s ago: recorded, inside the bookmark
    x = (target_ms - view_start) / (view_end - view_start) * box["width"]
    await page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
    clicked_ms = int(await timeline.get_attribute("data-seek") or 0)
    assert abs(clicked_ms - target_ms) < 2000

    video = ".camera-page .stage video.playback-video"
    await page.wait_for_selector('.camera-page .video-box[data-state="playing"]')
    await page.wait_for_function(
        f"() => document.querySelector('{video}').readyState >= 2", timeout=15000
    )
    await page.evaluate(f"() => document.querySelector('{video}').pause()")
    frame = await grab_frame(page, video)
    stripe = read_clock_stripe(frame)
    assert stripe is not None, "no burned-in clock in the played-back picture"
    shown_wall = float(await page.get_attribute(".camera-page .video-box", "data-wall") or 0)
    # The clock a frame sent at that moment carries (the loop is aligned to the wall clock).
    clicked_second = expected_clock(clicked_ms / 1000, 10, 60)[0]
    shown_second = expected_clock(shown_wall / 1000, 10, 60)[0]
    print(
        f"\nplayback: clicked :{clicked_second:02d}, picture clock :{stripe[0]:02d}, "
        f"page clock :{shown_second:02d}"
    )
    assert seconds_apart(stripe[0], clicked_second) <= 2, "picture is not the clicked moment"
    assert seconds_apart(stripe[0], shown_second) <= 2, "the page's clock disagrees with it"
    await page.evaluate(f"() => document.querySelector('{video}').play()")

    if has_endpoint(setup, "POST", "/api/exports"):
        # Shift-drag a range on the timeline and export it as an evidence package.
        x0 = (time.time() * 1000 - 10000 - view_start) / (view_end - view_start) * box["width"]
        x1 = (time.time() * 1000 - 2000 - view_start) / (view_end - view_start) * box["width"]
        y = box["y"] + box["height"] / 2
        await page.keyboard.down("Shift")
        await page.mouse.move(box["x"] + x0, y)
        await page.mouse.down()
        await page.mouse.move(box["x"] + x1, y, steps=5)
        await page.mouse.up()
        await page.keyboard.up("Shift")
        await page.fill(".reason", "case 2026-118: export for the prosecutor")
        await page.click("button:text-is('Export')")
        link = page.locator(".exports a", has_text="Download evidence package")
        await link.wait_for(timeout=60000)
        href = await link.get_attribute("href")
        assert href is not None and href.startswith("/api/exports/")
    await screenshot(page, "camera-page-timeline.png")
    # The same page on a laptop: nothing may spill off screen.
    await page.set_viewport_size({"width": 1366, "height": 768})
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a laptop screen"
    await expect(page.locator(".timeline-canvas")).to_be_in_viewport()
    await screenshot(page, "camera-page-laptop.png")

    # The link a chat alert carries (ISO time in the URL) opens playback at that moment.
    alert_ms = int(time.time() * 1000) - 9000
    iso = datetime.fromtimestamp(alert_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    await page.goto(f"{setup.url}/#/camera/{camera.id}?t={iso}")
    shows_alert_time = f"""() => {{
      const box = document.querySelector('.camera-page .video-box[data-state="playing"]');
      return box !== null && Math.abs(Number(box.dataset.wall) - {alert_ms}) < 4000;
    }}"""
    await page.wait_for_function(shows_alert_time, timeout=15000)
