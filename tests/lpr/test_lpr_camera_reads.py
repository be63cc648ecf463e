"""Plates read from the simulator's vehicle scene through the plug-in's frame hook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import vms_plugin_lpr
from vms_sdk import Camera, Severity
from vms_sdk.testing import PluginTestHost

from tests.lpr.scenes import START, decoded_loop, live_frames
from vms_core.simulator.media import PersonScene, SceneConfig, VehicleScene

FPS = 3  # the plug-in's default sampling rate
CAMERAS = [Camera("cam1", "Main St")]


def vehicle_scene(loop_s: int = 30) -> SceneConfig:
    return SceneConfig(
        loop_seconds=loop_s,
        vehicle=VehicleScene(plate="ABC1234", every_s=loop_s, crossing_s=5, first_at_s=2),
    )


async def test_plate_is_read_exactly_once_per_pass_with_a_crop(tmp_path: Path) -> None:
    scene = vehicle_scene()
    loop = decoded_loop(scene, FPS)
    config = {"merge_window_s": 10}
    async with PluginTestHost(vms_plugin_lpr.LprPlugin, config, CAMERAS, data_dir=tmp_path) as host:
        for frame in live_frames(loop, FPS, seconds=2 * scene.loop_seconds):
            assert await host.feed_frame(frame)
        await host.wait_submitted()  # events go out through ctx.submit
        found = (await host.request("GET", "/reads")).decoded_json()["reads"]
        assert {r["plate"] for r in found} == {"ABC1234"}
        (event,) = scene.events()
        for n in range(2):  # one read per pass, within the pass
            passing = START + timedelta(seconds=n * scene.loop_seconds + event.start_s)
            in_pass = [
                r
                for r in found
                if passing.isoformat() <= r["time"] <= (passing + timedelta(seconds=5)).isoformat()
            ]
            assert len(in_pass) == 1, found
        # Each pass's later sightings merged into its read; the crop is a JPEG.
        assert all(r["sightings"] >= 3 for r in found)
        crop = await host.request("GET", f"/reads/{found[0]['id']}/crop")
        assert crop.status == 200 and crop.content_type == "image/jpeg"
        assert crop.body[:2] == b"\xff\xd8"
        assert len(list((tmp_path / "crops").rglob("*.jpg"))) == len(found)  # one per read
        reads = [e for e in host.events if e.type == "lpr.read"]
        assert [e.data["plate"] for e in reads] == ["ABC1234", "ABC1234"]
        assert reads[0].camera_ids == ("cam1",)


async def test_hotlisted_plate_hits_within_3_seconds_of_the_vehicle_appearing(
    tmp_path: Path,
) -> None:
    hotlist = tmp_path / "stolen.csv"
    hotlist.write_text("plate,reason\nABC-1234,stolen 2026-04-30\nXYZ987,amber alert\n")
    scene = vehicle_scene(loop_s=10)
    loop = decoded_loop(scene, FPS)
    (vehicle,) = scene.events()
    config = {"hotlists": {"stolen": str(hotlist)}, "notify_channels": ["slack"]}
    async with PluginTestHost(
        vms_plugin_lpr.LprPlugin, config, CAMERAS, data_dir=tmp_path / "d"
    ) as host:
        hit_at = None
        for frame in live_frames(loop, FPS, seconds=scene.loop_seconds):
            await host.feed_frame(frame)
            await host.wait_submitted()  # events go out through ctx.submit
            if hit_at is None and any(e.type == "lpr.hotlist_hit" for e in host.events):
                hit_at = frame.time
        assert hit_at is not None
        assert hit_at - (START + timedelta(seconds=vehicle.start_s)) <= timedelta(seconds=3)
        (hit,) = [e for e in host.events if e.type == "lpr.hotlist_hit"]
        assert hit.severity is Severity.HIGH
        assert hit.data["plate"] == "ABC1234" and hit.data["list"] == "stolen"
        assert hit.data["reason"] == "stolen 2026-04-30"
        # The channel hears of it directly too: the plate in the title, the crop attached.
        (note,) = host.notifications
        assert note.channel == "slack" and "ABC1234" in note.title and "Main St" in note.text
        assert note.event == hit and (note.snapshot or b"")[:2] == b"\xff\xd8"


async def test_plate_free_scene_gives_no_reads_over_5_minutes(tmp_path: Path) -> None:
    # A walker and a burned-in camera name that looks like a plate ("MAINST4B") but never
    # moves: neither may be reported.
    scene = SceneConfig(loop_seconds=60, person=PersonScene(every_s=20, crossing_s=8))
    loop = decoded_loop(scene, FPS, title="Main St 4B")
    async with PluginTestHost(vms_plugin_lpr.LprPlugin, {}, CAMERAS, data_dir=tmp_path) as host:
        for frame in live_frames(loop, FPS, seconds=5 * 60):
            await host.feed_frame(frame)
        await host.wait_submitted()  # events go out through ctx.submit
        assert (await host.request("GET", "/reads")).decoded_json()["reads"] == []
        assert host.events == []
        status = (await host.request("GET", "/status")).decoded_json()
        assert status["cameras"]["cam1"]["frames"] == 5 * 60 * FPS
        assert status["cameras"]["cam1"]["skipped"] == 0
        # Motion (the walker) gated the detector: most frames cost no OCR at all.
        assert status["cameras"]["cam1"]["moving_frames"] < status["cameras"]["cam1"]["frames"]
        assert status["models_loaded_bytes"] is not None
