"""Playback controls on the camera page, checked against the clock burned into the
recorded pictures: pause, frame steps, speeds, reverse by keyframes, go to a typed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from playwright.async_api import Browser, Page, Request, expect

from tests.eventually import eventually
from tests.web.conftest import WebSetup, login, new_page, screenshot
from tests.web.pictures import clock, frames_apart, wall

BOX = ".camera-page .stage .video-box"
VIDEO = f"{BOX} video"


async def open_playback(start_web: Callable[..., Any], browser: Browser) -> tuple[Page, int]:
    """The camera page of a camera with 5 minutes of recording, playing from 2.5 minutes
    before the recording ends. Returns the page and that moment (ms)."""
    setup: WebSetup = await start_web(cameras=1, live=False, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]
    at = setup.recorded_until_us // 1000 - 150_000
    page = await new_page(browser)
    await login(page, setup, f"/#/camera/{camera.id}?t={at}")
    await page.wait_for_selector(f'{BOX}[data-state="playing"]')
    await page.wait_for_function(f"() => document.querySelector('{VIDEO}').readyState >= 2")
    return page, at


async def media_time(page: Page) -> float:
    return float(await page.eval_on_selector(VIDEO, "(v) => v.currentTime"))


async def speed(page: Page, seconds: float) -> float:
    """Media time played per real time while the test watches for ``seconds`` (an
    observation window: the time is what is measured)."""
    before, started = await media_time(page), time.monotonic()
    await page.wait_for_timeout(seconds * 1000)
    return (await media_time(page) - before) / (time.monotonic() - started)


async def test_pause_steps_frames_and_changes_speed(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    page, _at = await open_playback(start_web, browser)
    await page.click('.transport [data-action="pause"]')
    await expect(page.locator(BOX)).to_have_attribute("data-state", "paused")
    paused = await wall(page, BOX)
    await page.wait_for_timeout(800)  # observation window: a paused picture stays put
    assert await wall(page, BOX) == paused
    before = await clock(page, VIDEO)
    assert before is not None

    async def stepped() -> tuple[int, int]:
        now = await clock(page, VIDEO)
        assert now is not None and now != before, now
        return now

    await page.click('.transport [data-action="step-forward"]')
    after = await eventually(stepped, 10, 0.05, what="the next frame")
    assert frames_apart(before, after) == 1, (before, after)
    await page.keyboard.press(",")  # one frame back, by keyboard
    back = await eventually(
        lambda: _clock_is(page, before), 10, 0.05, what="the frame before, again"
    )
    assert back == before

    # Faster and slower than real time: how much faster is a figure, printed; that it is
    # faster (or slower) is what the operator asked for.
    await page.select_option(".transport .speed", "0.25")
    await page.click('.transport [data-action="play"]')
    await expect(page.locator(BOX)).to_have_attribute("data-rate", "0.25")
    slow = await speed(page, 2.0)
    await page.select_option(".transport .speed", "8")
    fast = await speed(page, 1.5)
    print(f"\nplayback at 8x: {fast:.1f}x real time; at 1/4x: {slow:.2f}x")
    assert fast > 2.5 and 0 < slow < 0.6
    await screenshot(page, "camera-playback-controls.png")


async def _clock_is(page: Page, wanted: tuple[int, int]) -> tuple[int, int]:
    now = await clock(page, VIDEO)
    assert now == wanted, now
    return now


async def test_reverse_plays_keyframes_backwards(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    page, _at = await open_playback(start_web, browser)
    keyframe_requests: list[str] = []

    def note(request: Request) -> None:
        if "playback.mp4" in request.url and "keyframes=true" in request.url:
            keyframe_requests.append(request.url)

    page.on("request", note)
    start_clock = await clock(page, VIDEO)
    assert start_clock is not None
    await page.select_option(".transport .speed", "-4")
    await expect(page.locator(BOX)).to_have_attribute("data-rate", "-4")
    start = await wall(page, BOX)

    async def went_back() -> float:
        shown = await wall(page, BOX)
        assert shown < start - 4000, f"{(shown - start) / 1000:.1f} s"
        return shown

    await eventually(went_back, 20, 0.1, what="the shown time going back 4 s")
    later = await clock(page, VIDEO)
    assert later is not None
    assert frames_apart(start_clock, later) < -20, (start_clock, later)
    assert keyframe_requests, "reverse asked for the whole stream, not keyframes"
    # Back to forward: the picture moves on again.
    await page.select_option(".transport .speed", "1")
    turned = await wall(page, BOX)

    async def forward_again() -> bool:
        assert await wall(page, BOX) > turned + 1000
        return True

    await eventually(forward_again, 20, 0.1, what="forward again")


async def test_go_to_a_typed_date_and_time(start_web: Callable[..., Any], browser: Browser) -> None:
    page, at = await open_playback(start_web, browser)
    target = at - 90_000
    typed = datetime.fromtimestamp(target / 1000).strftime("%Y-%m-%d %H:%M:%S")
    await page.fill(".transport .goto", typed)
    await page.press(".transport .goto", "Enter")

    async def there() -> bool:
        shown = await wall(page, BOX)
        assert target - 1000 <= shown <= target + 3000, (shown - target) / 1000
        return True

    await eventually(there, 20, 0.1, what=f"playback at {typed}")
