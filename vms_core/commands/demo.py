"""`vms demo`: the server with simulated cameras already added and recording, so a new user
sees live video at once. Cameras are placed around downtown Hartford, CT for the map.

First start: the simulated cameras' video is encoded once (about a minute of CPU for four
720p cameras) and cached in ``<data_dir>/simulator-cache``. Nothing waits for all of it:
the simulator publishes each camera's sub stream (640x360, a few seconds to encode) first,
then the main streams, in a low-priority thread. A camera enters the catalog as soon as
its sub stream plays, so the video wall shows it, and records from when its main stream
is ready too. The address and the first admin password are printed once the first camera
plays.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from vms_core.cameras import CameraService
from vms_core.commands.running import run_until_signalled
from vms_core.config import CameraSettings, Settings
from vms_core.server import VmsServer
from vms_core.simulator.camera import SimulatedCameraInfo
from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
from vms_core.simulator.simulator import Simulator
from vms_core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# (lat, lon, heading): a few blocks of Main Street and Bushnell Park.
PLACES = [
    (41.76580, -72.67340, 180.0),
    (41.76420, -72.67280, 0.0),
    (41.76650, -72.67610, 90.0),
    (41.76350, -72.67700, 45.0),
    (41.76900, -72.67450, 200.0),
    (41.76200, -72.67100, 300.0),
]


def simulator_config(settings: Settings) -> SimulatorConfig:
    demo = settings.demo
    cameras = []
    for index in range(demo.cameras):
        lat, lon, heading = PLACES[index % len(PLACES)]
        lat += 0.004 * (index // len(PLACES))
        cameras.append(
            CameraConfig(
                name=f"demo-cam-{index + 1}",
                password=f"demo-pass-{index + 1}",
                ptz=index == 0,
                lat=lat,
                lon=lon,
                heading=heading,
                location="Hartford",
                main=VideoProfileConfig(
                    width=demo.main_width, height=demo.main_height, fps=15, bitrate_kbps=2000
                ),
                scene={
                    "loop_seconds": 60,
                    "vehicle": {"plate": f"CT{index + 1}K{index + 4}82"},
                    "person": {},
                    "gunshot": {"at_s": [40.0]},
                    "speech": {"at_s": [20.0]},
                    "door_slam": {"at_s": [50.0]},
                },
            )
        )
    return SimulatorConfig(
        host="127.0.0.1",
        base_port=demo.onvif_base_port,
        rtsp_port=demo.rtsp_port,
        discovery=False,
        cache_dir=settings.data_dir / "simulator-cache",
        cameras=cameras,
    )


def camera_settings(
    simulator: Simulator, info: SimulatedCameraInfo, record: bool
) -> CameraSettings:
    return CameraSettings(
        name=info.name,
        onvif_url=info.onvif_url,
        rtsp_url=info.rtsp_main_url,
        sub_rtsp_url=info.rtsp_sub_url,
        username=info.username,
        password=info.password,
        lat=info.lat,
        lon=info.lon,
        heading=next((c.heading for c in simulator.config.cameras if c.name == info.name), None),
        fov=90.0,
        record=record,
    )


class DemoCameras:
    """Adds each simulated camera once its sub stream plays; lets it record once its main
    stream is ready too."""

    def __init__(self, simulator: Simulator, cameras: CameraService) -> None:
        self.simulator = simulator
        self.cameras = cameras
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start bringing every camera in; return when the first one is in the catalog
        (or could not be)."""
        existing = {c.name for c in await self.cameras.visible()}
        first_in = asyncio.Event()
        self._tasks = [
            asyncio.create_task(
                self._bring_in(info, info.name in existing, first_in if index == 0 else None),
                name=f"demo-camera-{info.name}",
            )
            for index, info in enumerate(self.simulator.cameras)
        ]
        await first_in.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            await cancel_and_wait(task)

    async def _bring_in(
        self, info: SimulatedCameraInfo, known: bool, added: asyncio.Event | None
    ) -> None:
        """``added`` is set once the camera is in the catalog, or has failed."""
        try:
            await self._add(info, known, added or asyncio.Event())
        finally:
            if added is not None:
                added.set()

    async def _add(self, info: SimulatedCameraInfo, known: bool, added: asyncio.Event) -> None:
        try:
            await self.simulator.stream_ready(info.name, "sub")
        except Exception as exc:
            log.error("demo camera %s: no video: %s", info.name, exc)
            return
        # A camera from an earlier run records at once (its media is cached: its main
        # stream follows in a second); a new one once its main stream is encoded.
        recording = known or self.simulator.is_ready(info.name, "main")
        cfg = camera_settings(self.simulator, info, record=recording)
        existing = {c.name: c for c in await self.cameras.visible()}
        if info.name in existing:
            camera_id = existing[info.name].id
            await self.cameras.update(camera_id, cfg)
        else:
            camera = await self.cameras.add(
                cfg,
                source="demo",
                has_ptz=info.ptz,
                manufacturer=info.manufacturer,
                model=info.model,
            )
            camera_id = camera.id
        added.set()
        if recording:
            return
        try:
            await self.simulator.stream_ready(info.name, "main")
        except Exception as exc:
            log.error("demo camera %s: no main stream, so no recording: %s", info.name, exc)
            return
        await self.cameras.update(camera_id, camera_settings(self.simulator, info, record=True))
        log.debug("demo camera %s: recording", info.name)


async def run_demo(settings: Settings, config_path: Path | None) -> int:
    simulator = Simulator(simulator_config(settings))
    print(
        f"starting {settings.demo.cameras} simulated cameras (a first start encodes their "
        "video: small streams first, the rest in the background; later starts reuse it)...",
        flush=True,
    )
    try:
        await simulator.start(media_in_background=True)
    except OSError as exc:
        print(f"vms demo: cannot start the simulated cameras: {exc}", flush=True)
        return 1
    server = VmsServer(settings, config_path, demo=True)
    cameras = DemoCameras(simulator, server.cameras)
    try:
        return await run_until_signalled(
            server, before_stop=cameras.stop, after_start=cameras.start
        )
    finally:
        await cameras.stop()
        await simulator.stop()
