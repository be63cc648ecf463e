"""Simulated cameras and server configuration for the recording tests."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from sqlalchemy import select

from tests.loops import sim_config
from vms_core.db.models import Segment
from vms_core.server import VmsServer
from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
from vms_core.simulator.media import read_clock_stripe

FPS = 10
LOOP_SECONDS = 10  # the burned-in clock reads wall-clock seconds modulo this
SMALL = VideoProfileConfig(width=320, height=180, fps=FPS, bitrate_kbps=150)


def sim_camera(name: str, **overrides: Any) -> CameraConfig:
    fields: dict[str, Any] = {
        "name": name,
        "password": f"pw-{name}",
        "main": SMALL,
        "sub": VideoProfileConfig(width=160, height=90, fps=5, bitrate_kbps=50),
        "scene": {"loop_seconds": LOOP_SECONDS, "vehicle": {"plate": "REC 1"}},
        "show_name": False,
    }
    fields.update(overrides)
    return CameraConfig.model_validate(fields)


def simulator_config(cameras: list[CameraConfig]) -> SimulatorConfig:
    return sim_config(cameras=cameras, discovery=False, discovery_port=0, discovery_multicast=False)


def camera_toml(name: str, url: str, password: str, extra: str = "") -> str:
    return (
        f'[[cameras]]\nname = "{name}"\nrtsp_url = "{url}"\n'
        f'username = "admin"\npassword = "{password}"\n{extra}'
    )


@dataclass(frozen=True)
class Row:
    path: Path
    start: float
    end: float | None
    size: int


async def segments(server: VmsServer, camera_id: int) -> list[Row]:
    async with server.db.session() as session:
        rows = await session.execute(
            select(Segment.path, Segment.start_us, Segment.end_us, Segment.bytes)
            .where(Segment.camera_id == camera_id)
            .order_by(Segment.start_us)
        )
        return [Row(Path(p), s / 1e6, None if e is None else e / 1e6, b) for p, s, e, b in rows]


async def camera_ids(server: VmsServer) -> dict[str, int]:
    return {c.name: c.id for c in await server.cameras.visible()}


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # retention deleted it meanwhile
                total += os.stat(os.path.join(root, name)).st_size
    return total


def first_frame_clock(path: Path) -> float | None:
    """Seconds (modulo the loop) the simulator burned into the segment's first frame."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            read = read_clock_stripe(frame.to_ndarray(format="rgb24"))
            if read is None:
                return None
            seconds, number = read
            return (seconds + number / FPS) % LOOP_SECONDS
    return None


def clock_difference(wall: float, burned: float) -> float:
    """Circular distance between a wall time and a burned-in clock, modulo the loop."""
    delta = (wall - burned) % LOOP_SECONDS
    return min(delta, LOOP_SECONDS - delta)
