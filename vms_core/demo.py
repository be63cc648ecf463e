"""`vms demo`: the server with simulated cameras already added and recording, so a new user
sees live video at once. Cameras are placed around downtown Hartford, CT for the map."""

from __future__ import annotations

import logging
from pathlib import Path

from vms_core.cameras import CameraService
from vms_core.config import CameraSettings, Settings
from vms_core.simulator.config import CameraConfig, SimulatorConfig, VideoProfileConfig
from vms_core.simulator.simulator import Simulator

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


async def add_simulated_cameras(simulator: Simulator, cameras: CameraService) -> None:
    existing = {c.name: c for c in await cameras.visible()}
    for info in simulator.cameras:
        cfg = CameraSettings(
            name=info.name,
            onvif_url=info.onvif_url,
            rtsp_url=info.rtsp_main_url,
            sub_rtsp_url=info.rtsp_sub_url,
            username=info.username,
            password=info.password,
            lat=info.lat,
            lon=info.lon,
            heading=next(
                (c.heading for c in simulator.config.cameras if c.name == info.name), None
            ),
            fov=90.0,
        )
        if info.name in existing:
            await cameras.update(existing[info.name].id, cfg)
        else:
            await cameras.add(
                cfg,
                source="demo",
                has_ptz=info.ptz,
                manufacturer=info.manufacturer,
                model=info.model,
            )


async def run_demo(settings: Settings, config_path: Path | None) -> int:
    from vms_core.cli import run_until_signalled
    from vms_core.server import VmsServer

    simulator = Simulator(simulator_config(settings))
    print(
        f"starting {settings.demo.cameras} simulated cameras (the first start encodes "
        "their video, which takes a minute; later starts reuse it)...",
        flush=True,
    )
    try:
        await simulator.start()
    except OSError as exc:
        print(f"vms demo: cannot start the simulated cameras: {exc}", flush=True)
        return 1
    server = VmsServer(settings, config_path)

    async def after_start() -> None:
        await add_simulated_cameras(simulator, server.cameras)

    try:
        return await run_until_signalled(server, after_start=after_start)
    finally:
        await simulator.stop()
