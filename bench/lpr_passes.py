"""Vehicle passes with licence plates, rendered for ``bench/lpr.py`` (not the simulator's scene).

A camera's *programme* is a list of passes separated by empty road: each pass is one car
whose plate has a format (``"ABC 1234"``, ``"7XYZ123"``, ``"AB12 CDE"``,
``"KA 05 MN 4321"``), a width in pixels, a roll and a yaw, and a direction (crossing left
to right, right to left, or approaching the camera). Pictures are drawn with Pillow and
OpenCV on a 1280x720 road and encoded with libx264 (PyAV) like a camera's stream: no
B-frames, a fixed GOP, parameter sets before each IDR.

Ground truth per pass: the plate text, the width class, and the loop time when the plate is
first fully in the picture (``in_view_s``), from which hotlist latency is measured.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Direction = Literal["left", "right", "approaching"]
RGB = npt.NDArray[np.uint8]

WIDTH, HEIGHT = 1280, 720
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
RENDER_VERSION = 1  # bump when the pictures change, so cached clips are not reused

# Letters that plate series commonly leave out (I, O, Q look like 1 and 0).
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
DIGITS = "0123456789"


@dataclass(frozen=True)
class PlateFormat:
    """One plate layout: ``template`` has L for a letter, D for a digit, others as they are."""

    name: str
    template: str
    aspect: float  # width / height of the plate
    metres: float  # physical width (sets the car's size around it)
    background: tuple[int, int, int]
    ink: tuple[int, int, int]
    header: str | None  # small text above the characters (a state's name)

    def random_text(self, rng: random.Random) -> str:
        return "".join(
            rng.choice(LETTERS) if c == "L" else rng.choice(DIGITS) if c == "D" else c
            for c in self.template
        )


FORMATS = (
    PlateFormat("us", "LLL DDDD", 2.0, 0.305, (244, 244, 236), (20, 30, 90), "NEW YORK"),
    PlateFormat("ca", "DLLLDDD", 2.0, 0.305, (246, 246, 246), (25, 35, 120), "California"),
    PlateFormat("uk", "LLDD LLL", 4.7, 0.52, (250, 205, 20), (12, 12, 12), None),
    PlateFormat("in", "LL DD LL DDDD", 4.4, 0.50, (248, 248, 248), (10, 10, 10), None),
)
FORMAT_BY_NAME = {f.name: f for f in FORMATS}


@dataclass(frozen=True)
class Pass:
    """One car passing, in loop seconds."""

    plate: str  # as printed, with spaces
    fmt: str
    width_px: int  # the plate's width in the picture at the middle of the pass
    direction: Direction
    roll_deg: float
    yaw_deg: float
    start_s: float
    end_s: float
    colour: tuple[int, int, int]
    lane: float  # 0..1: where on the road (vertical position of a crossing car)

    @property
    def text(self) -> str:
        """The plate as a reader should report it: letters and digits only."""
        return "".join(c for c in self.plate if c.isalnum())


@dataclass(frozen=True)
class Programme:
    """What one camera shows: passes in a loop of ``loop_s`` seconds at ``fps``."""

    camera: int
    seed: int
    passes: tuple[Pass, ...]
    loop_s: int
    fps: int
    gop_s: int
    bitrate: int

    def cache_key(self) -> str:
        data = {"v": RENDER_VERSION, "av": av.__version__, **asdict(self)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]

    def empty_road(self, margin_s: float = 1.0) -> list[tuple[float, float]]:
        """Loop intervals with no car in the picture (``margin_s`` inside the gaps)."""
        edges = [0.0] + [t for p in self.passes for t in (p.start_s, p.end_s)] + [self.loop_s]
        out = []
        for begin, end in zip(edges[::2], edges[1::2], strict=True):
            if end - begin > 2 * margin_s:
                out.append((begin + margin_s, end - margin_s))
        return out


WIDTHS = (60, 80, 100, 120, 140, 160)
DIRECTIONS: tuple[Direction, ...] = ("left", "right", "approaching")
COLOURS = ((180, 30, 30), (30, 60, 150), (200, 200, 205), (40, 40, 45), (30, 110, 60),
           (220, 180, 40), (120, 120, 125), (240, 240, 240))  # fmt: skip


def programme(
    camera: int,
    *,
    passes: int = 18,
    crossing_s: float = 5.0,
    gap_s: float = 3.0,
    lead_s: float = 4.0,
    fps: int = 15,
    gop_s: int = 2,
    bitrate: int = 2_000_000,
    seed: int = 2026,
) -> Programme:
    """Camera ``camera``'s passes: every width with every direction (18 by default), the
    four formats in turn, roll up to 10 and yaw up to 30 degrees, a unique plate each."""
    rng = random.Random(seed * 1000 + camera)
    combos = [(w, d) for w in WIDTHS for d in DIRECTIONS]
    rng.shuffle(combos)
    out = []
    at = lead_s
    for n in range(passes):
        width, direction = combos[n % len(combos)]
        fmt = FORMATS[(n + camera) % len(FORMATS)]
        out.append(
            Pass(
                plate=fmt.random_text(rng),
                fmt=fmt.name,
                width_px=width,
                direction=direction,
                roll_deg=round(rng.uniform(-10, 10), 1),
                yaw_deg=round(rng.uniform(-30, 30), 1),
                start_s=round(at, 3),
                end_s=round(at + crossing_s, 3),
                colour=rng.choice(COLOURS),
                lane=round(rng.uniform(0.0, 1.0), 2),
            )
        )
        at += crossing_s + gap_s * rng.uniform(0.6, 1.4)
    loop_s = int(np.ceil((at + lead_s) / gop_s) * gop_s)
    return Programme(camera, seed, tuple(out), loop_s, fps, gop_s, bitrate)


# ------------------------------------------------------------------------------ drawing


def _font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    name = "DejaVuSansCondensed-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), max(4, size))


def plate_image(fmt: PlateFormat, text: str, width: int) -> RGB:
    """The plate as an RGB picture ``width`` pixels wide (drawn 4x larger, then shrunk)."""
    scale = 4
    w = width * scale
    h = round(w / fmt.aspect)
    image = Image.new("RGB", (w, h), fmt.background)
    draw = ImageDraw.Draw(image)
    border = max(2, round(h * 0.05))
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 8, outline=fmt.ink, width=border)
    text_top, text_height = (0.30 * h, 0.55 * h) if fmt.header else (0.14 * h, 0.72 * h)
    if fmt.header:
        header_font = _font(round(0.16 * h), bold=False)
        draw.text((w / 2, 0.16 * h), fmt.header, font=header_font, fill=fmt.ink, anchor="mm")
    size = round(text_height)
    font = _font(size)
    while size > 6 and draw.textlength(text, font=font) > 0.9 * w:
        size -= 1
        font = _font(size)
    draw.text((w / 2, text_top + text_height / 2), text, font=font, fill=fmt.ink, anchor="mm")
    small = image.resize((width, max(1, round(h / scale))), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def car_sprite(p: Pass) -> tuple[RGB, npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """The back (or front) of the car with its plate, unwarped: RGB, alpha mask, and the
    plate's corners in the sprite."""
    fmt = FORMAT_BY_NAME[p.fmt]
    plate = plate_image(fmt, p.plate, p.width_px)
    ph, pw = plate.shape[:2]
    car_w = round(pw * 1.8 / fmt.metres)
    car_h = round(car_w * 0.62)
    image = Image.new("RGB", (car_w, car_h), (0, 0, 0))
    alpha = Image.new("L", (car_w, car_h), 0)
    draw, mask = ImageDraw.Draw(image), ImageDraw.Draw(alpha)
    body_top = round(car_h * 0.38)
    body = (0, body_top, car_w - 1, round(car_h * 0.9))
    cabin = [(car_w * 0.18, body_top), (car_w * 0.82, body_top),
             (car_w * 0.72, car_h * 0.04), (car_w * 0.28, car_h * 0.04)]  # fmt: skip
    for target, fill in ((draw, p.colour), (mask, 255)):
        target.polygon(cabin, fill=fill)
        target.rounded_rectangle(body, radius=car_h // 10, fill=fill)
        wheel_w, wheel_top = car_w * 0.16, car_h * 0.82
        for x in (car_w * 0.06, car_w * 0.78):
            target.rectangle((x, wheel_top, x + wheel_w, car_h - 1), fill=(20, 20, 20) if
                             target is draw else 255)  # fmt: skip
    window = [(car_w * 0.24, body_top - car_h * 0.02), (car_w * 0.76, body_top - car_h * 0.02),
              (car_w * 0.68, car_h * 0.09), (car_w * 0.32, car_h * 0.09)]  # fmt: skip
    draw.polygon(window, fill=(35, 45, 60))
    light_w, light_h = car_w * 0.13, car_h * 0.09
    for x in (car_w * 0.04, car_w * 0.96 - light_w):
        draw.rectangle((x, car_h * 0.45, x + light_w, car_h * 0.45 + light_h), fill=(200, 20, 20))
    bumper_top = round(car_h * 0.66)
    draw.rectangle((0, bumper_top, car_w - 1, round(car_h * 0.8)), fill=(45, 45, 48))
    rgb = np.asarray(image, dtype=np.uint8).copy()
    x0 = (car_w - pw) // 2
    y0 = round(car_h * 0.62) - ph // 2
    rgb[y0 : y0 + ph, x0 : x0 + pw] = plate
    corners = np.array([[x0, y0], [x0 + pw, y0], [x0 + pw, y0 + ph], [x0, y0 + ph]], np.float32)
    return rgb, np.asarray(alpha, dtype=np.uint8), corners


def _pose(p: Pass, progress: float, car_w: int, car_h: int) -> tuple[float, float, float]:
    """Centre x, centre y and scale of the car at ``progress`` (0..1) through the pass."""
    lane_y = HEIGHT * (0.58 + 0.22 * p.lane)
    if p.direction == "approaching":
        scale = 0.75 + 0.5 * progress  # 1.0 (the pass's width) halfway
        x = WIDTH * (0.5 + 0.25 * (p.lane - 0.5))
        y = HEIGHT * 0.42 + (HEIGHT * 0.78 - car_h * 0.4 - HEIGHT * 0.42) * progress
        return x, y, scale
    travel = WIDTH + car_w
    x = -car_w / 2 + travel * progress
    if p.direction == "left":
        x = WIDTH - x
    return x, lane_y, 1.0


def _warp(
    p: Pass, car_w: int, car_h: int, cx: float, cy: float, scale: float
) -> npt.NDArray[np.float64]:
    """The homography taking sprite pixels into the picture: scale, yaw (a trapezoid: one
    side nearer), roll, and the position."""
    yaw = np.radians(p.yaw_deg)
    w, h = car_w * scale, car_h * scale
    squeeze = np.cos(yaw)
    near = 1 + 0.18 * np.sin(yaw)  # the nearer side looks taller
    far = 1 - 0.18 * np.sin(yaw)
    half_w = w * squeeze / 2
    quad = np.array(
        [[-half_w, -h / 2 * far], [half_w, -h / 2 * near],
         [half_w, h / 2 * near], [-half_w, h / 2 * far]], np.float64,
    )  # fmt: skip
    roll = np.radians(p.roll_deg)
    rotation = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    quad = quad @ rotation.T + np.array([cx, cy])
    source = np.array([[0, 0], [car_w, 0], [car_w, car_h], [0, car_h]], np.float32)
    return cv2.getPerspectiveTransform(source, quad.astype(np.float32))


def background(seed: int) -> RGB:
    """A road with lane marks under a row of buildings, with fixed sensor noise."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT), (150, 170, 190))
    draw = ImageDraw.Draw(image)
    x = 0
    while x < WIDTH:
        bw = int(rng.integers(120, 260))
        top = int(rng.integers(60, 220))
        shade = int(rng.integers(90, 180))
        draw.rectangle((x, top, x + bw, HEIGHT * 0.5), fill=(shade, shade - 10, shade - 25))
        for wy in range(top + 15, int(HEIGHT * 0.5) - 20, 35):
            for wx in range(x + 12, x + bw - 20, 30):
                draw.rectangle((wx, wy, wx + 14, wy + 18), fill=(60, 70, 85))
        x += bw + int(rng.integers(0, 30))
    draw.rectangle((0, HEIGHT * 0.5, WIDTH, HEIGHT), fill=(88, 88, 92))
    draw.rectangle((0, HEIGHT * 0.5, WIDTH, HEIGHT * 0.53), fill=(170, 170, 165))  # kerb
    for lx in range(0, WIDTH, 160):
        draw.rectangle((lx, HEIGHT * 0.74, lx + 80, HEIGHT * 0.75), fill=(230, 230, 230))
    # A street sign that never moves: text a reader must not report.
    draw.rectangle((40, 250, 250, 300), fill=(20, 90, 40))
    draw.text((145, 275), "MAIN ST 400", font=_font(30), fill=(250, 250, 250), anchor="mm")
    noisy = np.asarray(image, dtype=np.int16) + rng.normal(0, 3, (HEIGHT, WIDTH, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


class Renderer:
    """Pictures of one programme, frame by frame."""

    def __init__(self, prog: Programme) -> None:
        self.prog = prog
        self.road = background(prog.seed + prog.camera)
        self._sprites = {n: car_sprite(p) for n, p in enumerate(prog.passes)}

    def frame(self, index: int) -> RGB:
        t = index / self.prog.fps
        picture = self.road.copy()
        for n, p in enumerate(self.prog.passes):
            if p.start_s <= t < p.end_s:
                self._draw(picture, n, (t - p.start_s) / (p.end_s - p.start_s))
        return picture

    def plate_quad(self, n: int, t: float) -> npt.NDArray[np.float32] | None:
        """Where pass ``n``'s plate is at loop time ``t`` (None when the car is not there)."""
        p = self.prog.passes[n]
        if not p.start_s <= t < p.end_s:
            return None
        rgb, _, corners = self._sprites[n]
        car_h, car_w = rgb.shape[:2]
        cx, cy, scale = _pose(p, (t - p.start_s) / (p.end_s - p.start_s), car_w, car_h)
        matrix = _warp(p, car_w, car_h, cx, cy, scale)
        quad = cv2.perspectiveTransform(corners.reshape(1, 4, 2), matrix)
        return np.asarray(quad.reshape(4, 2), dtype=np.float32)

    def in_view_s(self, n: int) -> float | None:
        """The first frame time at which pass ``n``'s whole plate is inside the picture."""
        p = self.prog.passes[n]
        steps = round((p.end_s - p.start_s) * self.prog.fps)
        for k in range(steps):
            t = p.start_s + k / self.prog.fps
            quad = self.plate_quad(n, t)
            if quad is not None and _inside(quad):
                return round(t, 3)
        return None

    def _draw(self, picture: RGB, n: int, progress: float) -> None:
        rgb, alpha, _ = self._sprites[n]
        p = self.prog.passes[n]
        car_h, car_w = rgb.shape[:2]
        cx, cy, scale = _pose(p, progress, car_w, car_h)
        matrix = _warp(p, car_w, car_h, cx, cy, scale)
        corners = np.array([[0, 0], [car_w, 0], [car_w, car_h], [0, car_h]], np.float32)
        quad = cv2.perspectiveTransform(corners.reshape(1, 4, 2), matrix).reshape(4, 2)
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(WIDTH, x1), min(HEIGHT, y1)
        if x1 <= x0 or y1 <= y0:
            return
        shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ matrix
        size = (int(x1 - x0), int(y1 - y0))
        car = cv2.warpPerspective(rgb, shift, size, flags=cv2.INTER_LINEAR)
        cover = cv2.warpPerspective(alpha, shift, size, flags=cv2.INTER_LINEAR)
        region = picture[y0:y1, x0:x1]
        weight = cover[..., None].astype(np.uint16)
        region[:] = ((car * weight + region * (255 - weight)) // 255).astype(np.uint8)


def _inside(quad: npt.NDArray[np.float32]) -> bool:
    return bool(
        (quad[:, 0] >= 0).all()
        and (quad[:, 0] < WIDTH).all()
        and (quad[:, 1] >= 0).all()
        and (quad[:, 1] < HEIGHT).all()
    )


# ------------------------------------------------------------------------------ encoding


@dataclass(frozen=True)
class Clip:
    """An encoded programme: Annex-B access units (one per frame) and the ground truth."""

    prog: Programme
    units: tuple[tuple[bytes, bool], ...]  # (data, keyframe)
    in_view_s: tuple[float | None, ...]  # per pass


def encode_programme(prog: Programme, cache: Path) -> Clip:
    """Render and encode ``prog`` (cached in ``cache`` by its content)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"lpr-{prog.cache_key()}.npz"
    renderer = Renderer(prog)
    in_view = tuple(renderer.in_view_s(n) for n in range(len(prog.passes)))
    if path.exists():
        stored = np.load(path, allow_pickle=False)
        data, sizes, keys = stored["data"], stored["sizes"], stored["keys"]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        units = tuple(
            (data[offsets[i] : offsets[i + 1]].tobytes(), bool(keys[i])) for i in range(len(sizes))
        )
        return Clip(prog, units, in_view)
    units = tuple(_encode(prog, renderer))
    partial = path.with_suffix(".part.npz")
    with partial.open("wb") as handle:
        np.savez(
            handle,
            data=np.frombuffer(b"".join(u for u, _ in units), np.uint8),
            sizes=np.array([len(u) for u, _ in units], np.int64),
            keys=np.array([k for _, k in units], np.bool_),
        )
    partial.rename(path)
    return Clip(prog, units, in_view)


def _encode(prog: Programme, renderer: Renderer) -> Iterator[tuple[bytes, bool]]:
    gop = prog.gop_s * prog.fps
    kbps = prog.bitrate // 1000
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height = WIDTH, HEIGHT
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, prog.fps)
    ctx.framerate = Fraction(prog.fps, 1)
    ctx.bit_rate = prog.bitrate
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    ctx.options = {
        "preset": "veryfast",
        "x264-params": (
            f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:"
            f"vbv-maxrate={kbps}:vbv-bufsize={kbps * 2}"
        ),
    }
    frames = prog.loop_s * prog.fps
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(renderer.frame(index), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = index
        for packet in ctx.encode(frame):
            yield bytes(packet), bool(packet.is_keyframe)
    for packet in ctx.encode(None):
        yield bytes(packet), bool(packet.is_keyframe)
