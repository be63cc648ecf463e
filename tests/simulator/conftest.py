"""A running simulator with small pictures, for tests that talk to simulated cameras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from onvif import ONVIFCamera

from tests.loops import sim_config
from tests.simulator.netns import namespace_pair
from vms_core.simulator.camera import SimulatedCameraInfo
from vms_core.simulator.config import CameraConfig, VideoProfileConfig
from vms_core.simulator.simulator import Simulator

__all__ = ["namespace_pair", "onvif_client", "small_camera"]

SMALL_MAIN = VideoProfileConfig(width=320, height=180, fps=10)
SMALL_SUB = VideoProfileConfig(width=160, height=90, fps=5)


def small_camera(index: int, **overrides: object) -> CameraConfig:
    fields: dict[str, object] = {
        "name": f"sim-cam-{index}",
        "password": f"pass-{index}",
        "ptz": index == 1,
        "main": SMALL_MAIN,
        "sub": SMALL_SUB,
        "scene": {"loop_seconds": 2},
    }
    fields.update(overrides)
    return CameraConfig.model_validate(fields)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """Two cameras on loopback (camera 1 with PTZ); discovery on an ephemeral port."""
    config = sim_config(
        cameras=[small_camera(1), small_camera(2, clock_skew_s=3600.0)],
        discovery_port=0,
        discovery_multicast=False,  # unicast only: nothing leaves on any interface
        media=False,
    )
    sim = Simulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def onvif_client(info: SimulatedCameraInfo, password: str | None = None) -> ONVIFCamera:
    url = urlsplit(info.onvif_url)
    return ONVIFCamera(
        url.hostname,
        url.port,
        info.username,
        info.password if password is None else password,
        adjust_time=True,
        no_cache=True,
    )
