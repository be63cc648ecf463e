"""Simulated cameras and a running server for the ONVIF and camera-management tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.loops import sim_config
from tests.simulator.conftest import SMALL_MAIN, SMALL_SUB
from tests.simulator.netns import namespace_pair
from vms_core.simulator.config import CameraConfig
from vms_core.simulator.simulator import Simulator

__all__ = ["NO_MULTICAST", "QUIET", "namespace_pair", "sim_camera"]

# Server settings for these tests: no joining of multicast groups on the machine's
# interfaces (the listener is fed directly where a test needs it), and no PullPoint event
# subscriptions (a pending long poll would hold up the simulator's shutdown).
NO_MULTICAST = "\n[onvif]\nlisten_for_hello = false\n"
QUIET = NO_MULTICAST + "events = false\n"


def sim_camera(index: int, **overrides: object) -> CameraConfig:
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
async def cameras() -> AsyncIterator[Simulator]:
    """Three cameras with media on loopback (camera 1 has PTZ); unicast discovery only."""
    sim = Simulator(
        sim_config(
            cameras=[sim_camera(1), sim_camera(2), sim_camera(3)],
            discovery_port=0,
            discovery_multicast=False,
            media=True,
        )
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
