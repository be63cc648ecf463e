"""A simulated camera runs at real time: over 15 s of wall time, ffmpeg receives 15 s worth
of frames at the camera's frame rate, with timestamps that advance as fast as the wall
clock, nothing dropped or duplicated.

``ffmpeg -t`` would cap the output's timestamps and hide a camera running too fast (one
sending twice the frames would still give a file of the asked-for duration), so the copy's
progress is read against the wall clock instead (``-progress``, every 0.5 s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator

SECONDS = 15.0
FPS = 10  # small_camera's main profile


@pytest.fixture
async def one_camera() -> AsyncIterator[Simulator]:
    sim = Simulator(sim_config(cameras=[small_camera(1)], discovery=False))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def progress(copier: asyncio.subprocess.Process) -> AsyncIterator[tuple[float, int, float]]:
    """(wall time, frames copied, media seconds copied) from ffmpeg's ``-progress`` blocks."""
    assert copier.stdout is not None
    block: dict[str, str] = {}
    while line := (await copier.stdout.readline()).decode():
        key, _, value = line.strip().partition("=")
        block[key] = value
        if key == "progress":
            media = block.get("out_time_us", "N/A")
            if media != "N/A":
                yield time.monotonic(), int(block["frame"]), int(media) / 1e6
            block = {}


async def test_ffmpeg_copies_15_s_of_wall_time_as_15_s_of_frames_and_timestamps(
    one_camera: Simulator,
) -> None:
    info = one_camera.cameras[0]
    url = info.rtsp_main_url.replace("rtsp://", f"rtsp://{info.username}:{info.password}@", 1)
    copier = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
        "-map", "0:v", "-c", "copy", "-f", "null", "-",
        "-progress", "pipe:1", "-stats_period", "0.5",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    first: tuple[float, int, float] | None = None
    last: tuple[float, int, float] | None = None
    try:
        async with asyncio.timeout(SECONDS + 30):  # hang guard: connecting takes ~1 s
            async for sample in progress(copier):
                if sample[1] == 0:
                    continue
                first = first or sample
                last = sample
                if last[0] - first[0] >= SECONDS:
                    break
    finally:
        copier.kill()
        await copier.wait()
    assert first is not None and last is not None
    wall = last[0] - first[0]
    frames = last[1] - first[1]
    media = last[2] - first[2]
    print(f"{frames} frames, {media:.2f} s of timestamps in {wall:.2f} s of wall time")
    # Frames arrive at the camera's rate on the wall clock, its timestamps advance at the
    # wall clock's pace, and each frame is one frame interval of them (nothing dropped or
    # duplicated). The slack is the 0.5 s reporting grid; a camera off by 10 % fails.
    assert abs(frames / wall - FPS) <= 0.05 * FPS, (frames, wall)
    assert abs(media / wall - 1.0) <= 0.05, (media, wall)
    assert abs(frames - media * FPS) <= 2, (frames, media)
