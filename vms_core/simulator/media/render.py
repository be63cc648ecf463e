"""Drawing the simulated camera's pictures with numpy and Pillow.

A loop frame is a pure function of its index, so the loop can be encoded once and replayed.
Everything that moves is periodic over the loop so the picture wraps round without a jump.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from vms_core.simulator.media.clock import clock_label, draw_clock_stripe, stripe_block_size
from vms_core.simulator.media.profiles import VideoProfile
from vms_core.simulator.media.scene import SceneConfig, SceneEvent

Rgb = npt.NDArray[np.uint8]
_TILE = 128  # period of the background texture in pixels
_GAIT_HZ = 0.9  # walking cycles per second (two steps each)


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _texture_tile(seed: int) -> npt.NDArray[np.float32]:
    """A periodic, muted colour texture: low-passed noise plus soft stripes. Periodic because
    it is filtered in the frequency domain, so it tiles without seams."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((_TILE, _TILE))
    fy = np.fft.fftfreq(_TILE)[:, None]
    fx = np.fft.fftfreq(_TILE)[None, :]
    lowpass = np.exp(-(fx**2 + fy**2) / (2 * 0.06**2))
    smooth = np.real(np.fft.ifft2(np.fft.fft2(noise) * lowpass))
    smooth /= np.abs(smooth).max()
    yy, xx = np.mgrid[0:_TILE, 0:_TILE]
    stripes = np.sin(2 * np.pi * (2 * xx + yy) / _TILE)
    base = 0.6 * smooth + 0.25 * stripes
    tile = np.stack([110 + 35 * base, 120 + 30 * base, 100 + 25 * base], axis=-1)
    return tile.astype(np.float32)


class FrameRenderer:
    """Renders loop frame ``i`` of one camera: moving textured background, scene objects,
    camera name (optional) and the burned-in clock."""

    def __init__(self, video: VideoProfile, scene: SceneConfig, title: str | None) -> None:
        self.video = video
        self.scene = scene
        self.title = title
        self.frame_count = scene.loop_seconds * video.fps
        self.unit = video.height / 360  # drawing sizes are given for a 640x360 picture
        height, width = video.height, video.width
        reps_y, reps_x = height // _TILE + 2, width // _TILE + 2
        self._background = np.tile(_texture_tile(seed=7), (reps_y, reps_x, 1)).astype(np.uint8)
        # Whole texture periods per loop, so the background's last frame meets its first.
        self._cycles_x = max(1, round(scene.loop_seconds * width * 0.06 / _TILE))
        self._cycles_y = max(1, self._cycles_x // 3)
        self._events = [e for e in scene.events() if e.kind in ("vehicle", "person")]
        self._stripe_block = stripe_block_size(height)
        self._clock_font = _font(max(12, height // 8))
        self._title_font = _font(max(10, height // 16))
        self._plate_font = _font(max(10, round(24 * self.unit)))

    def render(self, loop_frame: int) -> Rgb:
        height, width = self.video.height, self.video.width
        n = self.frame_count
        ox = (loop_frame * _TILE * self._cycles_x // n) % _TILE
        oy = (loop_frame * _TILE * self._cycles_y // n) % _TILE
        picture = Image.fromarray(self._background[oy : oy + height, ox : ox + width])
        draw = ImageDraw.Draw(picture)
        t = loop_frame / self.video.fps
        for event in self._events:
            if event.start_s <= t < event.end_s:
                progress = (t - event.start_s) / (event.end_s - event.start_s)
                if event.kind == "vehicle":
                    self._draw_vehicle(draw, event, progress)
                else:
                    self._draw_person(draw, progress, t - event.start_s)
        if self.title:
            y = self._stripe_block + 4
            draw.text(
                (5, y),
                self.title,
                font=self._title_font,
                fill=(255, 255, 255),
                stroke_width=2,
                stroke_fill=(0, 0, 0),
            )
        seconds, frame = clock_label(loop_frame, self.video.fps)
        self._draw_clock_text(draw, f":{seconds:02d}.{frame:02d}")
        rgb = np.array(picture)
        draw_clock_stripe(rgb, seconds, frame)
        return rgb

    def _draw_clock_text(self, draw: ImageDraw.ImageDraw, text: str) -> None:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=self._clock_font)
        pad = max(3, self.video.height // 60)
        x = self.video.width - (right - left) - 3 * pad
        y = self.video.height - (bottom - top) - 3 * pad
        draw.rectangle(
            (x - pad, y - pad, x + right - left + pad, y + bottom - top + pad), fill=(0, 0, 0)
        )
        draw.text((x - left, y - top), text, font=self._clock_font, fill=(255, 255, 255))

    def _draw_vehicle(self, draw: ImageDraw.ImageDraw, event: SceneEvent, progress: float) -> None:
        u = self.unit
        car_w, wheel_r = 230 * u, 17 * u
        x = -car_w + progress * (self.video.width + car_w)  # drives left to right
        base = self.video.height * 0.86
        body_top = base - 62 * u
        draw.rounded_rectangle(
            (x, body_top, x + car_w, base - 12 * u),
            radius=12 * u,
            fill=(170, 20, 25),
            outline=(40, 0, 0),
            width=max(1, round(2 * u)),
        )
        draw.polygon(
            [
                (x + 45 * u, body_top),
                (x + 70 * u, body_top - 40 * u),
                (x + 165 * u, body_top - 40 * u),
                (x + 195 * u, body_top),
            ],
            fill=(150, 15, 20),
        )
        draw.polygon(
            [
                (x + 78 * u, body_top - 4 * u),
                (x + 96 * u, body_top - 34 * u),
                (x + 160 * u, body_top - 34 * u),
                (x + 182 * u, body_top - 4 * u),
            ],
            fill=(150, 200, 230),
        )
        for wheel_x in (x + 50 * u, x + car_w - 50 * u):
            draw.ellipse(
                (wheel_x - wheel_r, base - 2 * wheel_r, wheel_x + wheel_r, base), fill=(20, 20, 20)
            )
            draw.ellipse(
                (
                    wheel_x - wheel_r / 2,
                    base - 1.5 * wheel_r,
                    wheel_x + wheel_r / 2,
                    base - wheel_r / 2,
                ),
                fill=(150, 150, 150),
            )
        # The plate: dark characters on white, big enough for OCR on a 640x360 sub stream.
        # On the front of the car, so it is in view from the moment the car enters (as
        # for a camera watching traffic approach): plate readers get the whole crossing.
        plate = event.data.get("plate", "")
        left, top, right, bottom = draw.textbbox((0, 0), plate, font=self._plate_font)
        pad = 5 * u
        px, py = x + car_w - 8 * u - (right - left + 2 * pad), body_top + 6 * u
        draw.rectangle(
            (px, py, px + right - left + 2 * pad, py + bottom - top + 2 * pad),
            fill=(250, 250, 250),
            outline=(0, 0, 0),
            width=max(1, round(u)),
        )
        draw.text(
            (px + pad - left, py + pad - top), plate, font=self._plate_font, fill=(10, 10, 10)
        )

    def _draw_person(self, draw: ImageDraw.ImageDraw, progress: float, walked_s: float) -> None:
        u = self.unit
        tall = 140 * u
        width = self.video.width
        x = -40 * u + progress * (width + 80 * u)  # walks left to right
        foot_y = self.video.height * 0.9
        leg, thigh = 0.48 * tall, 0.25 * tall
        hip = (x, foot_y - leg)
        shoulder = (x, hip[1] - 0.32 * tall)
        phase = 2 * math.pi * _GAIT_HZ * walked_s
        swing = 0.45 * math.sin(phase)
        leg_w, arm_w = round(0.085 * tall), round(0.06 * tall)
        trousers, jacket, skin = (30, 35, 80), (25, 25, 30), (225, 180, 150)
        for sign in (1, -1):
            knee = (hip[0] + thigh * math.sin(sign * swing), hip[1] + thigh * math.cos(swing))
            bend = 0.35 * max(0.0, math.sin(phase + sign * math.pi / 2))
            shin = leg - thigh
            foot = (
                knee[0] + shin * math.sin(sign * swing - bend),
                knee[1] + shin * math.cos(swing - bend),
            )
            draw.line([hip, knee, foot], fill=trousers, width=leg_w, joint="curve")
            draw.line([foot, (foot[0] + 0.07 * tall, foot[1])], fill=(10, 10, 10), width=leg_w // 2)
        torso_w = 0.12 * tall
        draw.rounded_rectangle(
            (x - torso_w, shoulder[1] - 0.02 * tall, x + torso_w, hip[1] + 0.03 * tall),
            radius=0.05 * tall,
            fill=jacket,
        )
        for sign in (1, -1):
            arm_angle = -sign * 0.8 * swing
            elbow = (
                shoulder[0] + 0.16 * tall * math.sin(arm_angle),
                shoulder[1] + 0.16 * tall * math.cos(arm_angle),
            )
            hand = (
                elbow[0] + 0.15 * tall * math.sin(arm_angle + 0.3),
                elbow[1] + 0.15 * tall * math.cos(arm_angle + 0.3),
            )
            draw.line([shoulder, elbow, hand], fill=jacket, width=arm_w, joint="curve")
            draw.ellipse(
                (
                    hand[0] - arm_w / 2,
                    hand[1] - arm_w / 2,
                    hand[0] + arm_w / 2,
                    hand[1] + arm_w / 2,
                ),
                fill=skin,
            )
        head_r = 0.075 * tall
        head_y = shoulder[1] - 0.03 * tall - head_r
        draw.ellipse((x - head_r, head_y - head_r, x + head_r, head_y + head_r), fill=skin)
