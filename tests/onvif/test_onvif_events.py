"""Cameras' ONVIF motion events (PullPoint) become VMS events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.loops import sim_config
from tests.onvif.conftest import NO_MULTICAST, sim_camera
from vms_core.onvif.events import parse_notification
from vms_core.simulator.simulator import Simulator

# A car crosses for 1 s of every 2 s: motion toggles every second.
BUSY_SCENE = {"loop_seconds": 2, "vehicle": {"every_s": 2, "crossing_s": 1, "first_at_s": 0}}


@pytest.fixture
async def busy_camera() -> AsyncIterator[Simulator]:
    sim = Simulator(
        sim_config(cameras=[sim_camera(1, scene=BUSY_SCENE)], discovery=False, media=False)
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_camera_motion_arrives_as_motion_start_and_end_events(
    busy_camera: Simulator, make_server: Any, http: aiohttp.ClientSession
) -> None:
    running = await make_server(NO_MULTICAST)
    token = await running.admin_token()
    info = busy_camera.cameras[0]
    async with http.post(
        f"{running.url}/api/cameras",
        json={
            "name": info.name,
            "onvif_url": info.onvif_url,
            "username": info.username,
            "password": info.password,
            "record": False,
        },
        headers=bearer(token),
    ) as response:
        camera = await response.json()
    assert camera["state"] == "online"

    async def motion_both_ways() -> Any:
        await running.server.events.drain()
        found = await running.server.events.query(camera_id=camera["id"], type_pattern="motion.*")
        return found if sorted({e.type for e in found}) == ["motion.end", "motion.start"] else None

    found = await eventually(motion_both_ways, 10, 0.3, what="motion.start and motion.end")
    event = found[0]
    assert event.source == "onvif"
    assert event.data["topic"] == "RuleEngine/CellMotionDetector/Motion"

    # Removing the camera ends its subscription.
    async with http.delete(f"{running.url}/api/cameras/{camera['id']}", headers=bearer(token)):
        pass
    assert running.server.camera_manager.event_pump.running() == []


def _message(topic: str, items: dict[str, str], operation: str = "Changed") -> Any:
    simple = [SimpleNamespace(Name=k, Value=v) for k, v in items.items()]
    body = SimpleNamespace(
        Data=SimpleNamespace(SimpleItem=simple), PropertyOperation=operation, UtcTime="t"
    )
    return SimpleNamespace(
        Topic=SimpleNamespace(_value_1=topic), Message=SimpleNamespace(_value_1=body)
    )


def test_topics_are_parsed_tolerantly() -> None:
    motion = parse_notification(
        _message("tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "true"})
    )
    assert motion is not None and (motion.kind, motion.active) == ("motion", True)
    tamper = parse_notification(
        _message(
            "tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "false"}, "Initialized"
        )
    )
    assert tamper is not None and (tamper.kind, tamper.active, tamper.initial) == (
        "tamper",
        False,
        True,
    )
    # Unknown topics, missing data, nonsense values, missing structure: skipped.
    assert parse_notification(_message("tns1:Device/Trigger/DigitalInput", {"State": "1"})) is None
    assert parse_notification(_message("tns1:VideoSource/MotionAlarm", {})) is None
    assert parse_notification(_message("tns1:VideoSource/MotionAlarm", {"State": "maybe"})) is None
    assert parse_notification(SimpleNamespace()) is None
