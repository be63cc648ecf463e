"""A vms server holding recordings of simulated cameras, shared by the playback and export
tests. The recordings are built faster than real time (``tests.prerecorded``): an hour of
five cameras in seconds. The server runs on an event loop of its own, in a thread, and tests
talk to it over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from sqlalchemy import select

from tests.conftest import BASE_CONFIG, RunningServer
from tests.loops import run_lock, shared_loop_cache, shared_run_dir
from tests.prerecorded import Outage, camera_loop, periodic_outages, record
from tests.simulator.conftest import small_camera
from vms_core.config import parse_config
from vms_core.db.models import Segment
from vms_core.media.catalog import SegmentRecord
from vms_core.server import VmsServer
from vms_core.simulator.config import VideoProfileConfig
from vms_core.simulator.media import read_clock_stripe
from vms_core.timeutil import to_us

T = TypeVar("T")
FPS = 10
# Keyframe every 0.5 s: playback starts at most 0.4 s before the asked-for time.
MAIN = VideoProfileConfig(width=320, height=180, fps=FPS, gop_seconds=0.5)
SEGMENT_SECONDS = 10.0


@dataclass(frozen=True)
class SiteCamera:
    name: str
    drop_every_s: float | None = None
    down_s: float = 3.0


# The run's recorded site (the ``recorded_site`` fixture): cam-a, cam-b, north and south
# steady, cam-drop down for 3 s every 10 s.
SITE_CAMERAS = [
    SiteCamera("cam-a"),
    SiteCamera("cam-b"),
    SiteCamera("cam-drop", drop_every_s=10.0, down_s=3.0),
    SiteCamera("north"),
    SiteCamera("south"),
]


def shared_recordings(
    cameras: list[SiteCamera], seconds: float
) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    """The recordings of ``cameras`` for ``seconds`` up to a minute boundary at least a
    minute before they were built: built once per test run (whichever worker asks first)
    and shared read-only. Returns their folder and, per camera, its segments' catalog rows
    (path, codec, start_us, end_us, bytes)."""
    spec = json.dumps([asdict(c) for c in cameras] + [seconds, SEGMENT_SECONDS])
    folder = shared_run_dir() / f"recorded-site-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    index = folder / "segments.json"
    with run_lock(folder.name):
        if not index.exists():
            end = (time.time() // 60 - 1) * 60
            built = _record_all(cameras, folder / "recordings", end - seconds, end)
            rows = {
                name: [
                    {
                        "path": str(r.path),
                        "codec": r.codec,
                        "start_us": to_us(r.start),
                        "end_us": to_us(r.end) if r.end is not None else None,
                        "bytes": r.size,
                    }
                    for r in records
                ]
                for name, records in built.items()
            }
            tmp = index.with_suffix(".tmp")
            tmp.write_text(json.dumps(rows))
            tmp.replace(index)
    return folder / "recordings", json.loads(index.read_text())


def _record_all(
    cameras: list[SiteCamera], recordings: Path, begin: float, end: float
) -> dict[str, list[SegmentRecord]]:
    built = {}
    for index, cam in enumerate(cameras):
        config = small_camera(
            index + 1,
            name=cam.name,
            ptz=False,
            show_name=False,
            main=MAIN,
            scene={"loop_seconds": 60},
        )
        outages: list[Outage] = []
        if cam.drop_every_s is not None:
            outages = periodic_outages(begin, end, cam.drop_every_s, cam.down_s)
        loop = camera_loop(config, shared_loop_cache())
        built[cam.name] = record(
            loop,
            cam.name,
            recordings,
            begin,
            end,
            segment_seconds=SEGMENT_SECONDS,
            outages=outages,
        )
    return built


class RecordingSite:
    """Simulated cameras (60 s loop: the burned-in clock shows the wall-clock seconds)
    recorded for ``seconds`` up to about a minute ago in ``SEGMENT_SECONDS`` segments, and a
    server (not recording itself) that serves them.

    The recordings are built once per test run and shared by every xdist worker (read
    only); each site has its own server, catalog and data folder."""

    def __init__(self, base: Path, cameras: list[SiteCamera], seconds: float) -> None:
        self.base = base
        self.cameras = cameras
        self.seconds = seconds
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server: VmsServer | None = None
        self.url = ""
        self.camera_ids: dict[str, int] = {}

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(60)

    def start(self) -> None:
        recordings, built = shared_recordings(self.cameras, self.seconds)
        self._thread.start()
        self.call(lambda: self._start(recordings, built))

    async def _start(self, recordings: Path, built: dict[str, list[dict[str, Any]]]) -> None:
        text = BASE_CONFIG.replace('"recordings"', json.dumps(str(recordings)))
        text += f"segment_seconds = {SEGMENT_SECONDS}\n"
        # The installed plug-ins (plate reading...) decode every camera: not needed here.
        for entry in entry_points(group="vms.plugins"):
            text += f"[plugins.{entry.name}]\nenabled = false\n"
        for cam in self.cameras:
            text += (
                f'[[cameras]]\nname = "{cam.name}"\nrtsp_url = "rtsp://127.0.0.1:9/{cam.name}"\n'
                "record = false\n"
            )
        path = self.base / "vms.toml"
        path.write_text(text)
        settings = parse_config(text, source=str(path), base_dir=self.base)
        self.server = VmsServer(settings, path, record=False)
        await self.server.start()
        self.url = self.server.url
        self.camera_ids = {c.name: c.id for c in await self.server.cameras.visible()}
        async with self.server.db.session() as session:
            session.add_all(
                Segment(camera_id=self.camera_ids[cam], stream_role="main", **row)
                for cam, rows in built.items()
                for row in rows
            )

    def stop(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                await self.server.stop()

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
