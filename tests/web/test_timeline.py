"""The camera page's timeline, read as an operator reads it (its tooltips, its axis, its
colours): not recorded yet is not a gap, event density per bucket, the date at every
zoom, operator and automatic locks apart, bookmark titles with the machine detail."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.conftest import bearer
from tests.eventually import eventually
from tests.web.conftest import WebSetup, login, new_page, screenshot
from vms_core.bookmarks import BookmarkRequest
from vms_core.timeutil import iso

ZONE = "America/New_York"  # the browser's, not the server's (UTC)
S = 1_000_000
TIMELINE = ".camera-page .timeline"
ROWS = {"recording": 24, "density": 40, "bookmarks": 66}  # row centres, px (timeline.js ROWS)


async def data_for_the_view(page: Page) -> None:
    """Until the timeline holds the data loaded for the view it shows (loads follow a
    view change after a debounce and a few requests)."""

    async def loaded() -> bool:
        timeline = page.locator(TIMELINE)
        view = [await timeline.get_attribute(f"data-view-{e}") for e in ("start", "end")]
        data = [await timeline.get_attribute(f"data-data-{e}") for e in ("start", "end")]
        return view == data

    await eventually(loaded, 20, 0.05, what="the timeline's data for its view")


async def x_of(page: Page, ms: float) -> tuple[float, float]:
    """Page coordinates of time ``ms`` on the timeline: (x, top of the canvas)."""
    start = int(await page.get_attribute(TIMELINE, "data-view-start") or 0)
    end = int(await page.get_attribute(TIMELINE, "data-view-end") or 0)
    box = await page.locator(f"{TIMELINE} canvas").bounding_box()
    assert box is not None
    return box["x"] + (ms - start) / (end - start) * box["width"], box["y"]


async def tip_at(page: Page, ms: float, row: str) -> str:
    await data_for_the_view(page)
    x, top = await x_of(page, ms)
    await page.mouse.move(x, top + ROWS[row])
    return await page.locator(f"{TIMELINE} .timeline-tip").inner_text()


async def colour_at(page: Page, ms: float, row: str) -> tuple[int, int, int]:
    await data_for_the_view(page)
    x, _top = await x_of(page, ms)
    box = await page.locator(f"{TIMELINE} canvas").bounding_box()
    assert box is not None
    rgb = await page.eval_on_selector(
        f"{TIMELINE} canvas",
        "(c, [x, y]) => { const d = window.devicePixelRatio || 1;"
        " return [...c.getContext('2d').getImageData(x * d, y * d, 1, 1).data].slice(0, 3); }",
        [x - box["x"], ROWS[row]],
    )
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


async def zoom_to(page: Page, at_ms: float, span_ms: float) -> None:
    """Wheel over ``at_ms`` until the view spans at most ``span_ms``."""

    async def narrow() -> bool:
        start = int(await page.get_attribute(TIMELINE, "data-view-start") or 0)
        end = int(await page.get_attribute(TIMELINE, "data-view-end") or 0)
        if end - start <= span_ms:
            return True
        x, top = await x_of(page, at_ms)
        await page.mouse.move(x, top + ROWS["recording"])
        await page.mouse.wheel(0, -100)
        return False

    await eventually(narrow, 30, 0.05, what=f"a view of {span_ms / 1000:g} s")


def local_date(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(ZONE)).strftime("%Y-%m-%d")


async def test_not_recorded_yet_gaps_density_and_the_date_at_every_zoom(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    # cam-01 records like cam-drop (down 3 s in every 10 s), for the last 10 minutes.
    setup: WebSetup = await start_web(
        cameras=1, live=False, recorded_minutes=10, recorded_from=["cam-drop"]
    )
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]
    token = await setup.server.admin_token()
    until = setup.recorded_until_us
    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.get(
            f"{setup.url}/api/cameras/{camera.id}/recordings",
            params={"start": iso(until - 600 * S), "end": iso(until)},
        ) as r:
            recorded = await r.json()
        busy = until - 240 * S  # a busy moment: three motions, and a gunshot 5 s later
        for offset in (0.0, 0.1, 0.2):
            event = {
                "type": "motion.start",
                "time": iso(busy + int(offset * S)),
                "camera_ids": [camera.id],
            }
            async with http.post(f"{setup.url}/api/events", json=event) as r:
                assert r.status == 201
        shot = {"type": "gunshot.detected", "time": iso(busy + 5 * S), "camera_ids": [camera.id]}
        async with http.post(f"{setup.url}/api/events", json=shot) as r:
            assert r.status == 201
    first = recorded["first_recorded"]
    assert first is not None

    def ms(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000

    # The hole nearest the busy minute: in view once the timeline is zoomed in on it.
    gap = min(
        (g for g in recorded["gaps"] if g["kind"] == "gap"),
        key=lambda g: abs(ms(g["start"]) - busy / 1000),
    )
    gap_ms = [ms(gap["start"]), ms(gap["end"])]
    first_ms = ms(first)
    page = await new_page(browser, timezone_id=ZONE)
    at = until // 1000 - 200_000
    await login(page, setup, f"/#/camera/{camera.id}?t={at}")
    await page.wait_for_selector('.camera-page .video-box[data-state="playing"]')
    # An hour's view: the date is on the axis; before the first recording is "not recorded
    # yet", not a gap.
    await expect(page.locator(f"{TIMELINE} .timeline-date")).to_have_text(local_date(at - 1800e3))
    before = await tip_at(page, first_ms - 600_000, "recording")
    assert before.startswith("not recorded yet"), before
    red, green, _blue = await colour_at(page, first_ms - 600_000, "recording")
    assert red < green + 10, "not recorded yet is not drawn red"
    # Zoomed in to about 2 minutes around the busy minute: gaps, density, the date still.
    await zoom_to(page, busy / 1000, 150_000)
    # Buckets of a second or two in this view (exact counts: tests/web/test_console_api.py);
    # the strip tells the motions and the gunshot apart.
    tip = await tip_at(page, busy / 1000 + 100, "density")
    assert re.search(r"\((1|2) s\): \d+ motion", tip), tip
    assert ": 3 motion," in tip or ": 2 motion," in tip, tip
    tip = await tip_at(page, busy / 1000 + 5000, "density")
    assert "0 motion, 1 other events" in tip, tip
    view_start = int(await page.get_attribute(TIMELINE, "data-view-start") or 0)
    await expect(page.locator(f"{TIMELINE} .timeline-date")).to_have_text(local_date(view_start))
    await screenshot(page, "timeline-density.png")
    await zoom_to(page, (gap_ms[0] + gap_ms[1]) / 2, 65_000)  # the closest zoom: a minute
    hole = await tip_at(page, (gap_ms[0] + gap_ms[1]) / 2, "recording")
    assert hole.startswith("gap"), hole
    red, green, _blue = await colour_at(page, (gap_ms[0] + gap_ms[1]) / 2, "recording")
    assert red > green + 30, "a gap is drawn red"
    view_start = int(await page.get_attribute(TIMELINE, "data-view-start") or 0)
    await expect(page.locator(f"{TIMELINE} .timeline-date")).to_have_text(local_date(view_start))
    # Seven days: dates at the midnights, and still the date of the view's start.
    await page.click("button:text-is('7 days')")
    view_start = int(await page.get_attribute(TIMELINE, "data-view-start") or 0)
    await expect(page.locator(f"{TIMELINE} .timeline-date")).to_have_text(local_date(view_start))
    ticks = await page.locator(f"{TIMELINE} .tick").all_inner_texts()
    assert any(t.count("-") == 2 for t in ticks), ticks
    await screenshot(page, "timeline-week.png")


async def test_lock_colours_and_readable_bookmark_titles(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup: WebSetup = await start_web(cameras=1, live=False, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]
    until = setup.recorded_until_us
    machine = "gunshot audio:2:2026-12-06T19:31:38.120000+00:00: 41.76420,-72.67280"
    bookmarks = setup.server.server.bookmarks
    auto = (until - 200 * S, until - 170 * S)
    mine = (until - 140 * S, until - 110 * S)
    await bookmarks.create(
        BookmarkRequest([camera.id], *auto, machine, lock=True, created_by="plugin:gunshot")
    )
    await bookmarks.create(
        BookmarkRequest([camera.id], *mine, "Case 118: grey van", lock=True, created_by="admin")
    )
    page = await new_page(browser)
    await login(page, setup, f"/#/camera/{camera.id}?t={until // 1000 - 150_000}")
    row = page.locator(".bookmarks li", has_text="Gunshot alert · automatic lock")
    await expect(row).to_have_count(1)
    assert machine in (await row.locator(".bookmark-title").get_attribute("title") or "")
    await expect(page.locator(".bookmarks li", has_text="Case 118: grey van")).to_have_count(1)
    await zoom_to(page, (auto[0] + mine[1]) / 2000, 400_000)
    middle = lambda r: (r[0] + r[1]) / 2000  # noqa: E731
    assert await colour_at(page, middle(mine), "bookmarks") == (0xF5, 0xA6, 0x23)
    assert await colour_at(page, middle(auto), "bookmarks") == (0xD9, 0x4F, 0xD0)
    tip = await tip_at(page, middle(auto), "bookmarks")
    assert tip.startswith("Gunshot alert · automatic lock (automatic lock)") and machine in tip
    tip = await tip_at(page, middle(mine), "bookmarks")
    assert tip.startswith("Case 118: grey van (operator lock)"), tip
    await screenshot(page, "timeline-locks.png")
