"""JPEG snapshots: a rendered picture of the camera's "scene", with its name and the time.

Blocking (Pillow): call from a worker thread.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from vms_core.simulator.ptz import PtzPosition


def render_snapshot_jpeg(
    width: int,
    height: int,
    camera_name: str,
    position: PtzPosition | None = None,
    moment: datetime | None = None,
    quality: int = 80,
) -> bytes:
    """A street-ish picture: sky, road, a car-coloured box that shifts with the pan."""
    moment = moment or datetime.now(UTC)
    pan = position.pan if position else 0.0
    tilt = position.tilt if position else 0.0
    image = Image.new("RGB", (width, height), (96, 140, 200))
    draw = ImageDraw.Draw(image)
    horizon = int(height * (0.45 + 0.2 * tilt))
    draw.rectangle((0, horizon, width, height), fill=(70, 70, 74))
    lane_y = (horizon + height) // 2
    for x in range(-int(pan * width) % 60 - 60, width, 60):
        draw.rectangle((x, lane_y - 2, x + 30, lane_y + 2), fill=(230, 230, 230))
    car_x = int(width * (0.4 - 0.5 * pan))
    car_w, car_h = max(4, width // 6), max(3, height // 10)
    draw.rectangle((car_x, lane_y - car_h, car_x + car_w, lane_y), fill=(180, 30, 30))
    label = f"{camera_name} {moment:%Y-%m-%d %H:%M:%S}Z"
    draw.rectangle((0, 0, min(width, 8 + 6 * len(label)), 14), fill=(0, 0, 0))
    draw.text((4, 2), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
