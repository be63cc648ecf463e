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
from tests.recording.helpers import camera_ids, camera_toml, segments, sim_camera, simulator_config
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

    async def open_segment_with_two_seconds() -> Any:
        rows = await segments(server, camera_id)
        if not rows or rows[-1].end is not None:
            return None
        durable_us = server.recording.open_progress.get(str(rows[-1].path), 0)
        return rows[-1] if durable_us / 1e6 - rows[-1].start >= 2.0 else None

    # Hang guard: a segment opens ~1 s after start and holds 2 s of fragments ~2 s later.
    row = await eventually(open_segment_with_two_seconds, 30, what="2 s in an open segment")
    token = await running.admin_token()
    url = f"{running.url}/api/cameras/{camera_id}/playback.mp4"
    out = tmp_path / "live-edge.mp4"
    start_us = int(row.start * 1e6)
    async with http.get(url, params={"start": iso(start_us)}, headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        out.write_bytes(await response.read())
        media_start = parse_time(response.headers["X-Vms-Start"])
    assert abs(media_start - start_us) < 1000  # the header has millisecond precision
    assert decode_errors(out) == ""
    assert probe(out).duration >= 1.9  # the durable fragments, up to the live edge
    rows = await segments(server, camera_id)
    assert rows[-1].path == row.path and rows[-1].end is None, "the segment was still open"
