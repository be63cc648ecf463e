"""Restricted zones and line crossing on the simulator's walking figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import vms_plugin_analytics
from vms_sdk import Camera, Event
from vms_sdk.testing import PluginTestHost

from tests.lpr.scenes import START, decoded_loop, live_frames
from vms_core.simulator.media import PersonScene, SceneConfig, VehicleScene

FPS = 2  # the plug-in's default sampling rate
CAMERAS = [Camera("cam1", "Depot gate")]
# The figure walks left to right along the bottom of the picture (feet at ~90 % height).
RIGHT_THIRD = [[0.7, 0.5], [1.0, 0.5], [1.0, 1.0], [0.7, 1.0]]
ROOFTOP = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.45], [0.0, 0.45]]
WALK = SceneConfig(loop_seconds=12, person=PersonScene(every_s=12, crossing_s=8, first_at_s=2))


def rules(**camera: Any) -> dict[str, Any]:
    return {"all_cameras": False, "cameras": {"cam1": camera}}


async def run(config: dict[str, Any], scene: SceneConfig, seconds: float, tmp: Path) -> list[Event]:
    loop = decoded_loop(scene, FPS)
    async with PluginTestHost(
        vms_plugin_analytics.AnalyticsPlugin, config, CAMERAS, data_dir=tmp
    ) as host:
        for frame in live_frames(loop, FPS, seconds):
            assert await host.feed_frame(frame)
        await host.wait_submitted()  # events go out through ctx.submit
        health = (await host.request("GET", "/health")).decoded_json()["cameras"]["cam1"]
        assert health["frames"] == round(seconds * FPS) and health["cpu_s"] > 0
        assert health["person_checks"] > 0  # the detector did look
        return [e for e in host.events if e.type == "analytics.intrusion"]


async def test_person_walking_into_restricted_zone_is_an_intrusion(tmp_path: Path) -> None:
    config = rules(restricted_zones=[{"name": "rail yard", "polygon": RIGHT_THIRD}])
    found = await run(config, WALK, WALK.loop_seconds, tmp_path)
    assert len(found) == 1
    (event,) = found
    assert event.data["rule"] == "zone" and event.data["name"] == "rail yard"
    assert event.camera_ids == ("cam1",)
    x, _, w, _ = event.detections[0].box or (0, 0, 0, 0)
    assert x + w / 2 >= 0.65  # the person was in the right third when it fired
    (walk,) = WALK.events()
    assert (event.time - START).total_seconds() > walk.start_s


async def test_person_crossing_a_line_is_an_intrusion(tmp_path: Path) -> None:
    config = rules(lines=[{"name": "fence", "a": [0.5, 0.3], "b": [0.5, 1.0]}])
    found = await run(config, WALK, WALK.loop_seconds, tmp_path)
    assert [(e.data["rule"], e.data["name"]) for e in found] == [("line", "fence")]


async def test_person_outside_the_zone_gives_none(tmp_path: Path) -> None:
    config = rules(restricted_zones=[{"name": "roof", "polygon": ROOFTOP}])
    assert await run(config, WALK, 2 * WALK.loop_seconds, tmp_path) == []


async def test_empty_scene_gives_no_intrusion_over_5_minutes(tmp_path: Path) -> None:
    # Nobody walks, but a car drives through the zone now and then: motion without people.
    scene = SceneConfig(loop_seconds=30, vehicle=VehicleScene(every_s=15, crossing_s=5))
    whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    config = rules(restricted_zones=[{"name": "everything", "polygon": whole}])
    assert await run(config, scene, 5 * 60, tmp_path) == []
