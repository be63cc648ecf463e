"""A vms server recording simulated cameras in a background thread, shared by the tests of
a module (recording takes ~20 s, so it is done once). Tests talk to it over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from sqlalchemy import select

from tests.conftest import BASE_CONFIG, RunningServer
from tests.simulator.conftest import small_camera
from vms_core.config import parse_config
from vms_core.db.models import Segment
from vms_core.server import VmsServer
from vms_core.simulator.config import SimulatorConfig, VideoProfileConfig
from vms_core.simulator.media import read_clock_stripe
from vms_core.simulator.simulator import Simulator

T = TypeVar("T")
FPS = 10
# Keyframe every 0.5 s: playback starts at most 0.4 s before the asked-for time.
MAIN = VideoProfileConfig(width=320, height=180, fps=FPS, gop_seconds=0.5)
SEGMENT_SECONDS = 4.0


@dataclass(frozen=True)
class SiteCamera:
    name: str
    drop_every_s: float | None = None
    down_s: float = 3.0


class RecordingSite:
    """Simulated cameras (60 s loop: the burned-in clock shows the wall-clock seconds) and a
    server recording them in 4 s segments, on an event loop of their own."""

    def __init__(self, base: Path, cameras: list[SiteCamera]) -> None:
        self.base = base
        self.cameras = cameras
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.sim: Simulator | None = None
        self.server: VmsServer | None = None
        self.url = ""
        self.camera_ids: dict[str, int] = {}

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(60)

    def start(self) -> None:
        self._thread.start()
        self.call(self._start)

    async def _start(self) -> None:
        configs = [
            small_camera(
                index + 1,
                name=cam.name,
                ptz=False,
                show_name=False,
                main=MAIN,
                scene={"loop_seconds": 60},
                drop_every_s=cam.drop_every_s,
                down_s=cam.down_s,
            )
            for index, cam in enumerate(self.cameras)
        ]
        self.sim = Simulator(
            SimulatorConfig(cameras=configs, discovery_port=0, discovery_multicast=False)
        )
        await self.sim.start()
        text = BASE_CONFIG + f"segment_seconds = {SEGMENT_SECONDS}\n"
        # The installed plug-ins (plate reading...) decode every camera: not needed here.
        for entry in entry_points(group="vms.plugins"):
            text += f"[plugins.{entry.name}]\nenabled = false\n"
        for info in self.sim.cameras:
            text += (
                f'[[cameras]]\nname = "{info.name}"\nrtsp_url = "{info.rtsp_main_url}"\n'
                f'username = "{info.username}"\npassword = "{info.password}"\n'
            )
        path = self.base / "vms.toml"
        path.write_text(text)
        settings = parse_config(text, source=str(path), base_dir=self.base)
        self.server = VmsServer(settings, path, record=True)
        await self.server.start()
        self.url = self.server.url
        self.camera_ids = {c.name: c.id for c in await self.server.cameras.visible()}

    def stop(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                await self.server.stop()
            if self.sim is not None:
                await self.sim.stop()

        try:
            self.call(stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def token(self, username: str, role: str, cameras: list[int] | None = None) -> str:
        assert self.server is not None
        running = RunningServer(self.server, "")
        return self.call(lambda: running.token(username, role, cameras))

    def admin_token(self) -> str:
        assert self.server is not None
        running = RunningServer(self.server, "")
        return self.call(running.admin_token)

    def segments(self, camera: str) -> list[Segment]:
        assert self.server is not None
        server = self.server
        camera_id = self.camera_ids[camera]

        async def rows() -> list[Segment]:
            async with server.db.session() as session:
                found = await session.scalars(
                    select(Segment).where(Segment.camera_id == camera_id).order_by(Segment.start_us)
                )
                return list(found)

        return self.call(rows)

    def wait_recorded(self, seconds: float, timeout: float = 90.0) -> None:
        """Until every camera has ``seconds`` of closed segments since its first one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = []
            for cam in self.cameras:
                closed = [s for s in self.segments(cam.name) if s.end_us is not None]
                spans.append((closed[-1].end_us - closed[0].start_us) / 1e6 if closed else 0.0)  # type: ignore[operator]
            if min(spans) >= seconds:
                return
            time.sleep(0.5)
        raise AssertionError(f"recording did not reach {seconds} s per camera: {spans}")


def first_clock(path: Path) -> tuple[int, int] | None:
    """The burned-in clock (seconds of the minute, frame) of the first picture."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return read_clock_stripe(frame.to_ndarray(format="rgb24"))
    return None


def clock_seconds(clock: tuple[int, int]) -> float:
    return clock[0] + clock[1] / FPS


def minute_difference(a: float, b: float) -> float:
    """|a - b| on the 60 s circle of the burned-in clock."""
    diff = abs(a - b) % 60
    return min(diff, 60 - diff)


def seconds_of_minute(wall_us: int) -> float:
    return (wall_us / 1e6) % 60


def recording_bias(site: RecordingSite, camera: str, wall_us: int) -> float:
    """How much later than the burned-in clock the recorder stamped the segment holding
    ``wall_us`` (seconds). The recorder anchors wall time when the first keyframe comes out
    of FFmpeg, after its probing buffer, so this is a few tenths of a second or more; it is
    the recorder's error, not playback's, and is taken out when checking playback."""
    segment = next(
        s
        for s in site.segments(camera)
        if s.start_us <= wall_us and (s.end_us is None or wall_us < s.end_us)
    )
    clock = first_clock(Path(segment.path))
    assert clock is not None
    diff = (seconds_of_minute(segment.start_us) - clock_seconds(clock)) % 60
    return diff if diff < 30 else diff - 60


def frames_rgb(path: Path, count: int) -> list[Any]:
    pictures: list[Any] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            pictures.append(np.asarray(frame.to_ndarray(format="rgb24")))
            if len(pictures) >= count:
                break
    return pictures
