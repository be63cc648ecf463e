"""Acceptance: three bad plug-ins cannot hurt recording or a good plug-in."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from tests.conftest import bearer
from tests.eventually import eventually
from tests.plugin_host.conftest import camera_tables, grants, plugin_kv, write_plugin
from vms_core.db.models import Segment
from vms_core.simulator.simulator import Simulator

FEED = """
    from vms_sdk import FrameSubscription

    @hookimpl
    def vms_frame_subscriptions():
        return [FrameSubscription(fps=2.0, stream="sub", fmt="bgr24")]
"""

# Raises in every hook the server calls while it runs (its start-up must succeed, or it
# would only be "failed", never fed at all).
RAISER = (
    """
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("raiser", "1.0.0")

    @hookimpl
    def vms_on_event(event):
        raise RuntimeError("raiser: on_event")

    @hookimpl
    async def vms_analyze_frame(frame):
        raise RuntimeError("raiser: analyze_frame")

    @hookimpl
    def vms_on_segment_closed(segment):
        raise RuntimeError("raiser: on_segment_closed")
"""
    + FEED
)

SLEEPER = (
    """
    import time
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("sleeper", "1.0.0")

    @hookimpl
    def vms_analyze_frame(frame):
        time.sleep(10**9)
"""
    + FEED
)

BLOCKER = """
    import time
    from vms_sdk import PluginInfo, hookimpl

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("blocker", "1.0.0")

    @hookimpl
    def vms_on_event(event):
        time.sleep(5)  # blocks its calling thread well past the 1 s budget
"""

GOOD = (
    """
    import threading
    from vms_sdk import PluginInfo, hookimpl

    LOCK = threading.Lock()

    def add(ctx, key, value):
        with LOCK:
            ctx.kv.set(key, ctx.kv.get(key, []) + [value])

    @hookimpl
    def vms_plugin_info():
        return PluginInfo("good", "1.0.0")

    @hookimpl
    def vms_on_event(ctx, event):
        add(ctx, "events", event.id)

    @hookimpl
    def vms_analyze_frame(ctx, frame):
        add(ctx, "frames", [frame.camera_id, list(frame.image.shape)])

    @hookimpl
    def vms_on_segment_closed(ctx, segment):
        add(ctx, "segments", segment.codec)
"""
    + FEED
)

EVENTS = 12


@pytest.mark.allow_error_logs(
    "quarantined after", reason="the bad plug-ins fail on purpose until they are quarantined"
)
async def test_bad_plugins_cannot_stop_recording_or_starve_a_good_one(
    tmp_path: Path,
    cameras_sim: Simulator,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "raiser,sleeper,blocker,good")
    folder = tmp_path / "plugins"
    for name, source in [("raiser", RAISER), ("sleeper", SLEEPER), ("blocker", BLOCKER)]:
        write_plugin(folder, name, source)
    write_plugin(folder, "good", GOOD)
    # The shared base config ends inside [storage]: the first line lands there.
    config = (
        "segment_seconds = 2\n"
        + camera_tables(cameras_sim)
        + f"""
[plugin_host]
dirs = ["{folder}"]
call_timeout_seconds = 1
max_consecutive_failures = 3
max_restarts = 1
restart_backoff_seconds = 0.2
"""
        + grants("raiser", "sleeper", "blocker", "good")
    )
    srv = await make_server(config, record=True)
    token = await srv.admin_token()

    async def good() -> dict[str, Any]:
        return await plugin_kv(srv.server, "good")

    published = []
    for i in range(EVENTS):
        async with http.post(
            srv.url + "/api/events",
            headers=bearer(token),
            json={"type": "door.opened", "data": {"n": i}},
        ) as r:
            assert r.status == 201
            published.append((await r.json())["id"])
        await asyncio.sleep(0.5)  # the attack's pace: an event every 0.5 s
    # The blocker's timeouts are over within ~1 s of the last event.

    async def everything() -> dict[str, Any] | None:
        seen = await good()
        done = set(published) <= set(seen.get("events", [])) and seen.get("segments")
        return seen if done else None

    seen = await eventually(
        everything, 10, 0.2, what="the good plug-in got every event and a closed segment"
    )

    # The good plug-in saw every event, frames of both cameras, and closed segments.
    assert {camera for camera, _ in seen["frames"]} == {
        str(c.id) for c in await srv.server.cameras.visible()
    }
    assert all(shape == [90, 160, 3] for _, shape in seen["frames"])
    assert set(seen["segments"]) == {"h264"}

    # The bad ones are restarted, then quarantined (the sleeper once its frame calls have
    # overrun the 2.5 s frame budget and its two threads are stuck), and say why.
    bad = ("raiser", "sleeper", "blocker")

    async def all_bad_quarantined() -> Any:
        async with http.get(srv.url + "/api/plugins", headers=bearer(token)) as r:
            found = {p["name"]: p for p in await r.json()}
        for name in bad:
            assert found[name]["state"] == "quarantined", found[name]
        return found

    listed = await eventually(all_bad_quarantined, 30, 0.2, what="the bad plug-ins quarantined")
    for name in bad:
        assert listed[name]["health"]["healthy"] is False
        assert listed[name]["reason"].startswith("quarantined after 1 restarts; last: ")
        assert listed[name]["health"]["restarts"] == 2
    assert "RuntimeError: raiser" in listed["raiser"]["reason"]
    assert listed["blocker"]["health"]["timeouts"] >= 3
    assert listed["good"]["state"] == "running"
    assert listed["good"]["health"]["errors"] == listed["good"]["health"]["timeouts"] == 0
    assert listed["good"]["frames"]["video"]["delivered"] > 0
    # Per camera: the frames it analysed, and the rate it asked for.
    per_camera = listed["good"]["frames"]["cameras"]
    assert set(per_camera) == {str(c.id) for c in await srv.server.cameras.visible()}
    assert all(c["analysed"] > 0 and c["wanted_fps"] > 0 for c in per_camera.values())

    # Every camera recorded throughout: closed segments follow each other without a gap.
    async def segments() -> list[Segment]:
        async with srv.server.db.session() as session:
            return list(await session.scalars(select(Segment).order_by(Segment.start_us)))

    cameras = {c.id for c in await srv.server.cameras.visible()}

    async def four_closed_each() -> Any:  # the stuck threads are still there meanwhile
        found = await segments()
        closed = [r.camera_id for r in found if r.end_us is not None]
        return found if all(closed.count(camera) >= 4 for camera in cameras) else None

    rows = await eventually(four_closed_each, 20, 0.2, what="4 closed segments per camera")
    by_camera: dict[int, list[Segment]] = {}
    for row in rows:
        by_camera.setdefault(row.camera_id, []).append(row)
    assert set(by_camera) == cameras
    for camera_id, segments in by_camera.items():
        closed = [s for s in segments if s.end_us is not None]
        assert len(closed) >= 4, f"camera {camera_id}: only {len(closed)} closed segments"
        for before, after in itertools.pairwise(segments):
            assert before.end_us is not None
            gap_ms = (after.start_us - before.end_us) / 1000
            assert abs(gap_ms) < 200, f"camera {camera_id}: {gap_ms:.0f} ms between segments"
        covered_s = (closed[-1].end_us - segments[0].start_us) / 1e6
        assert covered_s >= EVENTS * 0.5 - 2, f"camera {camera_id}: {covered_s:.1f} s recorded"
