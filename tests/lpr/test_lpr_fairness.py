"""Every camera analysed fairly: the host's frame delivery and the LPR plug-in in its runner.

Three cameras; one has a car with a plate in view all the time (a busy street: motion and
text in every frame), the other two a car now and then. Frames are offered faster than the
plug-in takes them (two of each camera's sampled frames per delivery round, as a decoder
would while the plug-in is busy), not in real time: real time is not the point here.
"""

from __future__ import annotations

import importlib.metadata
from datetime import timedelta

from vms_sdk import Camera, Frame

from tests.eventually import eventually
from tests.lpr.scenes import START, decoded_loop
from tests.plugins.conftest import MemoryServices, granted
from vms_core.plugins import FrameDispatcher, PluginManager
from vms_core.plugins.behind import BEHIND_EVENT, BehindReporter
from vms_core.plugins.dispatch import CameraFigures
from vms_core.simulator.media import SceneConfig, VehicleScene

FPS = 3
SECONDS = 24
PLATES = {"busy": "BUSY123", "quiet1": "ABC1234", "quiet2": "KA05MN4321"}


def scenes() -> dict[str, SceneConfig]:
    return {
        "busy": SceneConfig(
            loop_seconds=SECONDS,
            vehicle=VehicleScene(plate=PLATES["busy"], every_s=1, crossing_s=1, first_at_s=0),
        ),
        "quiet1": SceneConfig(
            loop_seconds=SECONDS,
            vehicle=VehicleScene(plate=PLATES["quiet1"], every_s=12, crossing_s=6, first_at_s=2),
        ),
        "quiet2": SceneConfig(
            loop_seconds=SECONDS,
            vehicle=VehicleScene(plate=PLATES["quiet2"], every_s=12, crossing_s=6, first_at_s=6),
        ),
    }


def others_disabled(config: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    for ep in importlib.metadata.entry_points(group="vms.plugins"):
        config.setdefault(ep.name, {"enabled": False})
    return config


async def test_three_cameras_share_the_plugin_and_each_reads_its_plates() -> None:
    services = MemoryServices()
    services.cameras = [Camera(c, c) for c in PLATES]
    # Two frames of each camera per round: one worker, so half the frames are skipped.
    config = others_disabled(granted("lpr", lpr={"fps": FPS, "workers": 1, "min_agree": 2}))
    manager = PluginManager(services, config, [])
    try:
        await manager.load()
        await manager.start()
        await _share_and_read(manager, services)
    finally:
        await manager.stop()


async def _share_and_read(manager: PluginManager, services: MemoryServices) -> None:
    assert manager.is_callable("lpr")
    behind: list[CameraFigures] = []
    reporter = BehindReporter(manager, services.publish_event)

    def noted(plugin: str, figures: CameraFigures) -> None:
        behind.append(figures)
        reporter(plugin, figures)

    dispatcher = FrameDispatcher(manager, window_s=6, on_behind=noted)
    dispatcher.start()
    try:
        await _feed_and_check(dispatcher, manager, services, reporter, behind)
    finally:
        await dispatcher.stop()


async def _feed_and_check(
    dispatcher: FrameDispatcher,
    manager: PluginManager,
    services: MemoryServices,
    reporter: BehindReporter,
    behind: list[CameraFigures],
) -> None:
    loops = {camera: decoded_loop(scene, FPS) for camera, scene in scenes().items()}

    def delivered() -> int:
        return dispatcher.stats()["lpr"].delivered

    # Three cameras' frames each step, and the next step once the plug-in has taken one
    # frame: it can keep up with a third of what is offered. The cameras are offered in
    # the same order every time (the busy one first), as decoders of equal cameras would.
    for step in range(SECONDS * FPS):
        at = START + timedelta(seconds=step / FPS)
        before = delivered()
        for camera, loop in loops.items():
            image = loop[step % len(loop)]
            h, w = image.shape[:2]
            assert dispatcher.offer(Frame(camera, at, image, w, h, "sub")) == 1
        await eventually(
            lambda before=before: delivered() > before, 60, 0.005, what="a frame to be taken"
        )

    cameras = dispatcher.cameras("lpr")
    analysed = {c: cameras[c]["analysed"] for c in PLATES}
    # Each camera had its turn: the busy one, offered first, took none of the others'.
    assert min(analysed.values()) >= 0.8 * max(analysed.values()), cameras
    assert all(cameras[c]["skipped"] > 0 for c in PLATES), cameras

    # The quiet cameras read their plates (exactly), the busy one its own.
    def reads() -> set[tuple[str, str]]:
        return {(e.camera_ids[0], e.data["plate"]) for e in services.events if e.type == "lpr.read"}

    wanted = {("quiet1", PLATES["quiet1"]), ("quiet2", PLATES["quiet2"])}
    await eventually(lambda: reads() >= wanted, 10, 0.02, what="the quiet cameras' reads")
    assert {plate for camera, plate in reads() if camera.startswith("quiet")} <= set(
        PLATES.values()
    )

    # Half the wanted rate: every camera is reported behind, in health and as an event.
    assert {f.camera_id for f in behind if f.behind} == set(PLATES)
    (status,) = [s for s in manager.list() if s.name == "lpr"]
    assert sorted(w.split(":")[0] for w in status.health.warnings) == [
        f"camera {c}" for c in sorted(PLATES)
    ]
    await reporter.drain()
    assert {e.camera_ids[0] for e in services.events if e.type == BEHIND_EVENT} == set(PLATES)
