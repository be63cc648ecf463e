"""Motion episodes per camera, with masks and sensitivity, on the simulator's vehicle scene."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import vms_plugin_analytics
from vms_sdk import Camera, Event
from vms_sdk.testing import PluginTestHost

from tests.lpr.scenes import START, decoded_loop, live_frames
from vms_core.simulator.media import SceneConfig, VehicleScene

FPS = 2
SCENE = SceneConfig(loop_seconds=20, vehicle=VehicleScene(every_s=20, crossing_s=5, first_at_s=3))
# The simulator burns a changing clock into the picture: a stripe along the top and a
# box at the bottom right. A real camera's on-screen clock is masked the same way.
CLOCK_MASKS = [
    [[0.0, 0.0], [1.0, 0.0], [1.0, 0.08], [0.0, 0.08]],
    [[0.72, 0.75], [1.0, 0.75], [1.0, 1.0], [0.72, 1.0]],
]


async def motion_events(camera: dict[str, Any], tmp: Path, passes: int = 3) -> list[Event]:
    config = {"cameras": {"cam1": camera}}
    loop = decoded_loop(SCENE, FPS)
    async with PluginTestHost(
        vms_plugin_analytics.AnalyticsPlugin, config, [Camera("cam1", "A")], data_dir=tmp
    ) as host:
        for frame in live_frames(loop, FPS, passes * SCENE.loop_seconds):
            await host.feed_frame(frame)
        await host.wait_submitted()  # events go out through ctx.submit
        return [e for e in host.events if e.type.startswith("motion.")]


async def test_each_vehicle_pass_is_one_motion_episode(tmp_path: Path) -> None:
    found = await motion_events({"sensitivity": 1.0, "masks": CLOCK_MASKS}, tmp_path)
    assert [e.type for e in found] == ["motion.start", "motion.end"] * 3
    (vehicle,) = SCENE.events()
    for n, (start, end) in enumerate(zip(found[::2], found[1::2], strict=True)):
        arrives = START + timedelta(seconds=n * SCENE.loop_seconds + vehicle.start_s)
        assert arrives <= start.time <= arrives + timedelta(seconds=1.5)
        assert end.data["duration_s"] >= 3  # the car takes 5 s to cross
        assert start.detections[0].label == "motion"


async def test_without_masks_the_burned_in_clock_counts_as_motion(tmp_path: Path) -> None:
    found = await motion_events({"sensitivity": 1.0}, tmp_path, passes=2)
    assert len([e for e in found if e.type == "motion.start"]) > 2


async def test_motion_outside_the_zone_is_ignored(tmp_path: Path) -> None:
    sky = [[0.0, 0.1], [1.0, 0.1], [1.0, 0.4], [0.0, 0.4]]  # the car drives below this
    assert await motion_events({"motion_zones": [sky]}, tmp_path, passes=2) == []


async def test_low_sensitivity_ignores_small_motion(tmp_path: Path) -> None:
    # The clock changes a few dozen pixels: noticed at full sensitivity (test above),
    # ignored at the default, while the car still is.
    found = await motion_events({}, tmp_path, passes=2)
    assert [e.type for e in found] == ["motion.start", "motion.end"] * 2
