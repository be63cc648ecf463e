"""The video wall: a camera dragged from the list onto a tile, named views saved per user
and shared by admins, a tile popped out into its own window, keyboard shortcuts listed on
a `?` overlay, and up to 16 cameras played back in step from one timeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.conftest import bearer
from tests.eventually import eventually
from tests.web.conftest import WebSetup, login, new_page, screenshot
from tests.web.pictures import clock, frames_apart

WALLS_JS = """() => [...document.querySelectorAll('.wall .tile .video-box')].map(
  (b) => [b.closest('.tile').dataset.camera, b.dataset.state, Number(b.dataset.wall || 0)])"""


async def tiles(page: Page) -> list[tuple[str, str, float]]:
    found: list[tuple[str, str, float]] = [tuple(t) for t in await page.evaluate(WALLS_JS)]
    return found


async def recorded_wall(start_web: Callable[..., Any], cameras: int) -> tuple[WebSetup, int]:
    setup: WebSetup = await start_web(cameras=cameras, live=False, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    return setup, setup.recorded_until_us // 1000 - 150_000


async def test_drag_a_camera_onto_a_tile_and_save_views(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup, at = await recorded_wall(start_web, 3)
    ids = {c.name: c.id for c in await setup.server.server.cameras.visible()}
    page = await new_page(browser)
    await login(page, setup, f"/#/grid?t={at}")
    await page.click('.layout-btn[data-layout="4"]')
    await expect(page.locator(".wall .tile")).to_have_count(4)
    first = page.locator('.wall .tile[data-index="0"]')
    await expect(first).to_have_attribute("data-camera", str(ids["cam-01"]))

    # cam-03 dragged from the camera list onto the first tile, and nothing else moves.
    await page.locator(".camera-list li", has_text="cam-03").locator("a").drag_to(first)
    await expect(first).to_have_attribute("data-camera", str(ids["cam-03"]))
    await expect(page.locator('.wall .tile[data-index="1"]')).to_have_attribute(
        "data-camera", str(ids["cam-02"])
    )
    await first.locator('.video-box[data-state="playing"]').wait_for()

    # Saved as a view of the user's own.
    await page.click("text=Save view")
    await page.fill(".view-name", "Night shift")
    await page.click('.view-save button[type="submit"]')
    await expect(page.locator(".view-select option", has_text="Night shift")).to_have_count(1)
    # Back to the cameras in order, then the view again.
    await page.click("button:text-is('Auto')")
    await expect(first).to_have_attribute("data-camera", str(ids["cam-01"]))
    await page.select_option(".view-select", label="Night shift")
    await expect(first).to_have_attribute("data-camera", str(ids["cam-03"]))

    # An admin shares one: an operator finds it among theirs, and may not delete it.
    await page.click("button:text-is('Save view')")
    await page.fill(".view-name", "Park")
    await page.check(".view-save .view-shared")
    await page.click('.view-save button[type="submit"]')
    await expect(page.locator(".view-select option", has_text="Park (shared)")).to_have_count(1)
    await screenshot(page, "wall-views.png")
    await setup.server.token("olive", "operator", list(ids.values()))
    other = await new_page(browser)
    await login(other, setup, f"/#/grid?t={at}", user="olive")
    await expect(other.locator(".view-select option")).to_have_text(["Views…", "Park (shared)"])
    await other.select_option(".view-select", label="Park (shared)")
    await expect(other.locator('.wall .tile[data-index="0"]')).to_have_attribute(
        "data-camera", str(ids["cam-03"])
    )
    await expect(other.locator("button:text-is('Delete')")).to_be_hidden()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{setup.url}/api/views", headers=bearer(await setup.server.admin_token())) as r,
    ):
        saved = {v["name"]: v for v in await r.json()}
    assert saved["Night shift"]["tiles"][0] == ids["cam-03"] and saved["Park"]["shared"]


async def test_pop_out_a_live_tile_and_list_the_shortcuts(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup: WebSetup = await start_web(cameras=2)
    page = await new_page(browser)
    await login(page, setup, "/#/grid")
    await page.wait_for_selector('.wall .video-box[data-state="live"]')

    # ? lists the keys of the page and of the whole app; 3 makes the wall 9 tiles.
    await page.keyboard.press("?")
    overlay = page.locator(".help-overlay")
    await expect(overlay.locator("h3")).to_contain_text(["Anywhere", "Video wall"])
    await expect(overlay).to_contain_text("1, 4, 9 or 16 tiles")
    await screenshot(page, "shortcuts.png")
    await page.keyboard.press("Escape")
    await expect(overlay).to_have_count(0)
    await page.keyboard.press("3")
    await expect(page.locator(".wall")).to_have_attribute("data-layout", "9")

    # A tile in its own window, playing the camera's main stream.
    tile = page.locator(".wall .tile").first
    camera_id = await tile.get_attribute("data-camera")
    await tile.hover()
    async with page.context.expect_page() as popup_info:
        await tile.locator(".tool", has_text="Pop out").click()
    popup = await popup_info.value
    await popup.wait_for_selector(f'.popout[data-camera="{camera_id}"]')
    await popup.wait_for_selector('.popout .video-box[data-state="live"][data-stream="main"]')
    assert await popup.locator(".topbar").count() == 0, "the pop-out has no shell"
    await screenshot(popup, "pop-out.png")
    await popup.close()


async def test_sixteen_cameras_play_back_in_step(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup, at = await recorded_wall(start_web, 16)
    page = await new_page(browser)
    await login(page, setup, f"/#/grid?t={at}")
    await page.keyboard.press("4")  # 16 tiles
    await expect(page.locator(".wall .tile")).to_have_count(16)

    async def all_playing() -> list[tuple[str, str, float]]:
        shown = await tiles(page)
        states = [state for _, state, _ in shown]
        assert states.count("playing") == 16, states
        return shown

    started = time.monotonic()
    await eventually(all_playing, 60, 0.2, what="16 tiles playing")
    print(f"\n16 tiles playing {time.monotonic() - started:.1f} s after the wall opened")

    async def in_step(spread_ms: float) -> list[float]:
        shown = await _walls(page)
        assert max(shown) - min(shown) <= spread_ms, max(shown) - min(shown)
        return shown

    # Paused, the tiles show the same moment: the cameras' burned-in clocks agree.
    await page.keyboard.press("Space")
    walls = await eventually(lambda: in_step(60), 20, 0.2, what="16 tiles paused together")

    async def same_picture() -> bool:
        clocks = [await clock(page, f".wall .tile:nth-child({i + 1}) video") for i in range(16)]
        assert None not in clocks, clocks
        apart = [frames_apart(clocks[0], c) for c in clocks if c is not None]
        assert max(apart) - min(apart) <= 1, clocks
        return True

    # Pausing seeks every tile to one moment; a tile's picture follows when its seek is done
    # (on a loaded machine a few frames after the others').
    await eventually(same_picture, 10, 0.2, what="16 tiles showing the same picture")
    await screenshot(page, "wall-playback.png")

    # One click on the shared timeline moves them all.
    view_start = int(await page.get_attribute(".wall-playback .timeline", "data-view-start") or 0)
    view_end = int(await page.get_attribute(".wall-playback .timeline", "data-view-end") or 0)
    box = await page.locator(".wall-playback .timeline-canvas").bounding_box()
    assert box is not None
    target = walls[0] - 60_000
    x = (target - view_start) / (view_end - view_start) * box["width"]
    await page.mouse.click(box["x"] + x, box["y"] + 22)
    clicked = float(await page.get_attribute(".wall-playback .timeline", "data-seek") or 0)

    async def moved_together() -> bool:
        shown = await in_step(60)
        assert all(abs(w - clicked) < 1500 for w in shown), [w - clicked for w in shown]
        return True

    await eventually(moved_together, 20, 0.2, what="16 tiles at the clicked moment")


async def _walls(page: Page) -> list[float]:
    return [w for _, _, w in await tiles(page)]
