"""A device call that times out while onvif-zeep-async is still building the service (its
own HTTP session included) leaves nothing open once the device is closed: on a busy
server, building a service can take longer than the call timeout."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import pytest

from tests.loops import sim_config
from tests.onvif.conftest import sim_camera
from vms_core.onvif.client import OnvifDevice, OnvifError
from vms_core.simulator.simulator import Simulator


@pytest.fixture
async def camera() -> AsyncIterator[Simulator]:
    sim = Simulator(sim_config(cameras=[sim_camera(1)], discovery=False, media=False))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_a_call_timing_out_mid_setup_leaves_no_http_session_open(
    camera: Simulator,
) -> None:
    info = camera.cameras[0]
    for timeout in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02):  # cut at different points
        device = OnvifDevice(info.onvif_url, info.username, info.password, timeout=10)
        await device.connect()
        device.timeout = timeout
        with contextlib.suppress(OnvifError):  # the timeout: what this test provokes
            await device.profiles()
        await device.close()
        del device
        # An unclosed aiohttp session is reported (as an ERROR log, failing this test)
        # when it is collected.
        gc.collect()
