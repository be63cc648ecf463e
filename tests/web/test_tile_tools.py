"""What every video tile offers, live and played back: sound (muted until asked), digital
zoom (wheel and pinch), full screen, and a snapshot PNG with the camera and the time burned
in."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.eventually import eventually
from tests.web.conftest import WebSetup, login, new_page, screenshot
from tests.web.pictures import FPS
from vms_core.simulator.media.clock import read_clock_stripe

LIVE = ".camera-page .stage .video-box:not(.preview)"
PLAYBACK = ".camera-page .stage .video-box"

AUDIO_STATS_JS = """async (box) => {
  // The live tile's peer connection is not reachable from the page; the element's stream
  // is: its audio track, and whether the element plays it.
  const video = box.querySelector('video');
  const stream = video.srcObject;
  const tracks = stream ? stream.getAudioTracks() : [];
  return {tracks: tracks.length, live: tracks.some((t) => t.readyState === 'live'),
          muted: video.muted, paused: video.paused};
}"""


async def zoom_box(page: Page, box: str) -> tuple[float, float]:
    """(scale the tile says, how much wider the picture is drawn than the tile)."""
    scale = float(await page.get_attribute(box, "data-zoom") or 1)
    drawn = await page.eval_on_selector(
        box,
        "(b) => b.querySelector('video').getBoundingClientRect().width"
        " / b.getBoundingClientRect().width",
    )
    return scale, float(drawn)


async def test_live_tile_sound_zoom_full_screen_and_snapshot(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup: WebSetup = await start_web(cameras=1, audio="PCMU", loop_seconds=60)
    camera = (await setup.server.server.cameras.visible())[0]
    page = await new_page(browser, accept_downloads=True)
    await login(page, setup, f"/#/camera/{camera.id}")
    await page.wait_for_selector(f'{LIVE}[data-state="live"][data-audio="yes"]')
    tile = page.locator(LIVE)

    # Sound: the camera's G.711 arrives with the picture, muted until the operator asks.
    audio = await tile.evaluate(AUDIO_STATS_JS)
    assert audio["tracks"] == 1 and audio["live"] and audio["muted"], audio
    await tile.hover()
    await tile.locator(".tool-sound").click()
    await expect(tile).to_have_attribute("data-sound", "on")
    audio = await tile.evaluate(AUDIO_STATS_JS)
    assert not audio["muted"] and not audio["paused"], audio
    await page.keyboard.press("m")  # and off again, by keyboard
    await expect(tile).to_have_attribute("data-sound", "off")

    # Digital zoom around the pointer: the picture is drawn larger; 0 goes back.
    box = await tile.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    for _ in range(3):
        await page.mouse.wheel(0, -100)
    scale, drawn = await zoom_box(page, LIVE)
    assert scale > 1.5 and abs(drawn - scale) < 0.05, (scale, drawn)
    await screenshot(page, "camera-live-zoomed.png")
    await page.keyboard.press("0")
    assert await zoom_box(page, LIVE) == (1.0, 1.0)

    # Full screen, and back.
    await tile.hover()
    await tile.locator(".tool", has_text="Full").click()
    await page.wait_for_function(
        "() => document.fullscreenElement && document.fullscreenElement.matches("
        "'.camera-page .stage .video-box')"
    )
    await page.keyboard.press("f")  # Escape is the browser's own; f toggles too
    await page.wait_for_function("() => document.fullscreenElement === null")

    # A snapshot: the picture with the camera's name and the time under it.
    async with page.expect_download() as download_info:
        await page.keyboard.press("s")
    download = await download_info.value
    assert download.suggested_filename.startswith(camera.name) and (
        download.suggested_filename.endswith(".png")
    )
    check_snapshot((await download.path()).read_bytes(), camera.name)


def check_snapshot(data: bytes, camera: str) -> tuple[datetime, np.ndarray]:
    """The PNG has the picture and a caption band with text; its caption (also in its
    text chunks) names the camera and a UTC time. Returns that time and the picture."""
    image = Image.open(io.BytesIO(data))
    text = image.text  # type: ignore[attr-defined]
    assert text["Title"] == camera
    taken = datetime.fromisoformat(text["Creation Time"].replace("Z", "+00:00"))
    assert camera in text["Comment"] and text["Creation Time"] in text["Comment"]
    rgb = np.asarray(image.convert("RGB"))
    assert rgb.shape[1] >= 640
    # The caption band: black with white text across it.
    band = rgb[-20:].mean(axis=2)
    lit = (band > 160).any(axis=0)
    assert lit.mean() > 0.25, "no caption burned into the snapshot"
    picture = rgb[: rgb.shape[0] - 28]
    assert taken.tzinfo == UTC
    return taken, picture


async def test_playback_tile_sound_pinch_and_snapshot_of_the_moment_shown(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup: WebSetup = await start_web(cameras=1, live=False, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]
    at = setup.recorded_until_us // 1000 - 120_000
    page = await new_page(browser, accept_downloads=True)
    await login(page, setup, f"/#/camera/{camera.id}?t={at}")
    await page.wait_for_selector(f'{PLAYBACK}[data-state="playing"][data-audio="yes"]')
    tile = page.locator(PLAYBACK)

    # The recording's AAC plays once unmuted.
    await tile.hover()
    await tile.locator(".tool-sound").click()
    await expect(tile).to_have_attribute("data-sound", "on")

    async def sound_decoded() -> int:
        count = int(
            await tile.evaluate("(b) => b.querySelector('video').webkitAudioDecodedByteCount")
        )
        assert count > 0
        return count

    first = await eventually(sound_decoded, 10, 0.1, what="audio decoded")
    await eventually(lambda: _more(sound_decoded, first), 10, 0.1, what="audio still being decoded")

    # Two fingers apart: the picture grows between them.
    box = await tile.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await pinch(page, PLAYBACK, cx, cy, 40, 160)
    scale, drawn = await zoom_box(page, PLAYBACK)
    assert scale > 2 and abs(drawn - scale) < 0.05, (scale, drawn)
    await tile.hover()
    await tile.locator(".tool", has_text="1:1").click()
    assert await zoom_box(page, PLAYBACK) == (1.0, 1.0)

    # A snapshot of a paused picture: its caption says the moment the picture shows.
    await page.keyboard.press("Space")
    await expect(tile).to_have_attribute("data-state", "paused")
    async with page.expect_download() as download_info:
        await tile.hover()
        await tile.locator(".tool", has_text="Snapshot").click()
    download = await download_info.value
    taken, picture = check_snapshot((await download.path()).read_bytes(), camera.name)
    stripe = read_clock_stripe(picture)
    assert stripe is not None, "no camera clock in the snapshot's picture"
    caption_s = taken.timestamp() % 60
    shown_s = stripe[0] + stripe[1] / FPS
    apart = min(abs(caption_s - shown_s), 60 - abs(caption_s - shown_s))
    # The recorder dates a picture a few tenths after its clock (tests/playback/recorded.py).
    assert apart < 1.5, f"caption :{caption_s:.1f} but the picture shows :{shown_s:.1f}"


async def _more(probe: Callable[[], Any], than: int) -> bool:
    return bool(await probe() > than)


async def pinch(page: Page, selector: str, cx: float, cy: float, start: float, end: float) -> None:
    """Two touch pointers moving apart horizontally from ``start`` to ``end`` px."""
    await page.eval_on_selector(
        selector,
        """(box, [cx, cy, start, end]) => {
          const at = (id, x, type) => box.dispatchEvent(new PointerEvent(type, {
            pointerId: id, pointerType: 'touch', isPrimary: id === 1, bubbles: true,
            clientX: x, clientY: cy, button: 0, buttons: type === 'pointerup' ? 0 : 1}));
          at(1, cx - start / 2, 'pointerdown');
          at(2, cx + start / 2, 'pointerdown');
          for (let i = 1; i <= 10; i++) {
            const d = start + ((end - start) * i) / 10;
            at(1, cx - d / 2, 'pointermove');
            at(2, cx + d / 2, 'pointermove');
          }
          at(1, cx - end / 2, 'pointerup');
          at(2, cx + end / 2, 'pointerup');
        }""",
        [cx, cy, start, end],
    )
