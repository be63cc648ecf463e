"""The server's on-demand live feeds: one connection per camera stream, shared, closed
when nobody needs it any more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.eventually import eventually
from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator


@pytest.fixture
async def camera_sim() -> AsyncIterator[Simulator]:
    sim = Simulator(
        sim_config(cameras=[small_camera(1)], discovery_port=0, discovery_multicast=False)
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_feeds_are_shared_opened_on_demand_and_closed_after_linger(
    make_server: Callable[..., Any], camera_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMS_PLUGINS", "")  # installed analysers would hold the feeds open
    info = camera_sim.cameras[0]
    running = await make_server(
        f"""
[[cameras]]
name = "front"
rtsp_url = "{info.rtsp_main_url}"
sub_rtsp_url = "{info.rtsp_sub_url}"
username = "{info.username}"
password = "{info.password}"
"""
    )
    server = running.server
    server.live.linger_seconds = 0.3
    camera_id = (await server.cameras.visible())[0].id

    main = await server.live.acquire(camera_id, "main")
    again = await server.live.acquire(camera_id, "main")
    assert again is main, "two users of one stream must share one connection"
    assert await main.wait_ready(10)
    stream_info = main.info()
    assert stream_info is not None and (stream_info.width, stream_info.height) == (320, 180)
    assert main.video_extradata(), "decoders and WebRTC need the camera's SPS/PPS"

    sub = await server.live.acquire(camera_id, "sub")
    assert sub is not main and await sub.wait_ready(10)
    sub_info = sub.info()
    assert sub_info is not None and sub_info.width == 160

    # A late subscriber starts on a keyframe at once (the hub's cached GOP).
    queue = main.hub.subscribe("late-viewer")
    first = await asyncio.to_thread(queue.get, 5.0)
    assert first is not None and first.kind == "video" and first.keyframe
    main.hub.unsubscribe(queue)

    main.release()
    assert len(server.live.feeds()) == 2, "still in use by the second user"
    again.release()
    sub.release()
    await eventually(lambda: not server.live.feeds(), 6, 0.1, what="idle feeds closed after linger")
    assert not main.ingest.running

    with pytest.raises(LookupError):
        await server.live.acquire(camera_id + 999, "main")
