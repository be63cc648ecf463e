"""What a video element shows, read from its pixels: the simulated cameras burn a clock
(second of the minute, frame) into every picture."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from playwright.async_api import Page

from vms_core.simulator.media.clock import read_clock_stripe

GRAB_JS = """(video) => {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
}"""
FPS = 10  # the recorded site's cameras


async def grab(page: Page, video_selector: str) -> np.ndarray:
    data_url: str = await page.eval_on_selector(video_selector, GRAB_JS)
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


async def clock(page: Page, video_selector: str) -> tuple[int, int] | None:
    """(second of the minute, frame) burned into the picture on screen."""
    return read_clock_stripe(await grab(page, video_selector))


def frames_apart(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Frames from clock a to clock b, on the 60 s circle (negative: b is earlier)."""
    diff = ((b[0] * FPS + b[1]) - (a[0] * FPS + a[1])) % (60 * FPS)
    return diff - 60 * FPS if diff > 30 * FPS else diff


async def wall(page: Page, box_selector: str) -> float:
    """The wall-clock time (ms) a player says it shows (its data-wall)."""
    value = await page.get_attribute(box_selector, "data-wall")
    assert value is not None, f"{box_selector} shows no time"
    return float(value)
