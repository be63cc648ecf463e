"""Motion events through a PullPoint subscription, as the ONVIF client library uses them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.loops import sim_config
from tests.simulator.conftest import onvif_client, small_camera
from vms_core.simulator.events_service import MotionTimeline
from vms_core.simulator.simulator import Simulator

# A car crosses for 1 s of every 2 s: motion toggles every second.
BUSY_SCENE = {"loop_seconds": 2, "vehicle": {"every_s": 2, "crossing_s": 1, "first_at_s": 0}}


@pytest.fixture
async def busy_camera() -> AsyncIterator[Simulator]:
    sim = Simulator(
        sim_config(cameras=[small_camera(1, scene=BUSY_SCENE)], discovery=False, media=False)
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def motion_values(reply: Any) -> list[tuple[str, str]]:
    found = []
    for message in reply.NotificationMessage:
        assert message.Topic._value_1 == "tns1:RuleEngine/CellMotionDetector/Motion"
        body = message.Message._value_1
        item = body.Data.SimpleItem[0]
        assert item.Name == "IsMotion"
        found.append((body.PropertyOperation, item.Value))
    return found


async def test_pullpoint_reports_motion_as_the_scene_changes(busy_camera: Simulator) -> None:
    info = busy_camera.cameras[0]
    timeline = MotionTimeline(busy_camera.camera(info.name).config)
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        events = await camera.create_events_service()
        properties = await events.GetEventProperties()
        topics = [element.tag for element in properties.TopicSet._value_1[0].iter()]
        assert topics[:3] == [
            "{http://www.onvif.org/ver10/topics}RuleEngine",
            "CellMotionDetector",
            "Motion",
        ]
        manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
        pullpoint = manager.get_service()

        before = time.time()
        first = await pullpoint.PullMessages({"Timeout": "PT1S", "MessageLimit": 10})
        assert motion_values(first) in (
            [("Initialized", "true" if timeline.motion_at(before) else "false")],
            [("Initialized", "true" if timeline.motion_at(time.time()) else "false")],
        )
        # Within ~1 s the car enters or leaves: the next pull returns the change.
        second = await pullpoint.PullMessages({"Timeout": "PT3S", "MessageLimit": 10})
        values = motion_values(second)
        assert len(values) == 1 and values[0][0] == "Changed"
        assert values[0][1] != motion_values(first)[0][1]
        await manager.shutdown()
    finally:
        await camera.close()
