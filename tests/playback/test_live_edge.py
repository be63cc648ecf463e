"""Playback reaches the live edge: a range that starts in the segment still being written
plays up to the last durable fragment. Real time, a real RTSP camera, real ffprobe."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import bearer
from tests.eventually import eventually
from tests.media.mediatools import decode_errors, probe
from tests.recording.helpers import camera_ids, camera_toml, sim_camera, simulator_config
from vms_core.simulator.simulator import Simulator
from vms_core.timeutil import iso, parse_time

# Long enough that the first segment is still open while the test reads it: the first cut
# falls at least SEGMENT_SECONDS / 2 after the start (the camera's rollover grid).
SEGMENT_SECONDS = 40


@pytest.fixture
async def camera() -> AsyncIterator[Simulator]:
    sim = Simulator(simulator_config([sim_camera("edge")]))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_plays_up_to_now_while_the_segment_is_still_written(
    camera: Simulator,
    make_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    info = camera.cameras[0]
    extra = f"segment_seconds = {SEGMENT_SECONDS}\n" + camera_toml(
        "edge", info.rtsp_main_url, info.password
    )
    running = await make_server(extra, record=True)
    server = running.server
    camera_id = (await camera_ids(server))["edge"]
    token = await running.admin_token()
    recordings = f"{running.url}/api/cameras/{camera_id}/recordings"

    async def open_segment_with_two_seconds() -> Any:
        """The open segment, as the recordings API lists it, once it holds 2 s."""
        async with http.get(
            recordings, params={"segments": "true"}, headers=bearer(token)
        ) as response:
            listed = (await response.json())["segments"]
        if not listed or not listed[-1]["open"]:
            return None
        last = listed[-1]
        return last if parse_time(last["end"]) - parse_time(last["start"]) >= 2_000_000 else None

    # Hang guard: a segment opens ~1 s after start and holds 2 s of fragments ~2 s later.
    row = await eventually(open_segment_with_two_seconds, 30, what="2 s in an open segment")
    url = f"{running.url}/api/cameras/{camera_id}/playback.mp4"
    out = tmp_path / "live-edge.mp4"
    start_us = parse_time(row["start"])
    async with http.get(url, params={"start": iso(start_us)}, headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        out.write_bytes(await response.read())
        media_start = parse_time(response.headers["X-Vms-Start"])
    assert abs(media_start - start_us) < 1000  # the header has millisecond precision
    assert decode_errors(out) == ""
    assert probe(out).duration >= 1.9  # the durable fragments, up to the live edge
    async with http.get(recordings, params={"segments": "true"}, headers=bearer(token)) as response:
        still = (await response.json())["segments"][-1]
    assert still["start"] == row["start"] and still["open"], "the segment was still open"
