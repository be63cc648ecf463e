"""A minute of a simulated stream copied by ffmpeg is a minute long: the camera's clock
and timestamps run at real time, with nothing dropped or duplicated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator


@pytest.fixture
async def one_camera(tmp_path: Path) -> AsyncIterator[Simulator]:
    sim = Simulator(sim_config(cameras=[small_camera(1)], discovery=False))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def run(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.timeout(180)
async def test_ffmpeg_copy_for_60_seconds_gives_a_60_second_file(
    one_camera: Simulator, tmp_path: Path
) -> None:
    info = one_camera.cameras[0]
    url = info.rtsp_main_url.replace("rtsp://", f"rtsp://{info.username}:{info.password}@", 1)
    out = tmp_path / "out.mp4"
    code, _, err = await run(
        "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
        "-c", "copy", "-t", "60", str(out),
    )  # fmt: skip
    assert code == 0, err
    code, probe, err = await run(
        "ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
        "-of", "json", str(out),
    )  # fmt: skip
    assert code == 0, err
    parsed = json.loads(probe)
    duration = float(parsed["format"]["duration"])
    assert 59.0 <= duration <= 61.0, f"60 s requested, file holds {duration:.2f} s"
    assert {s["codec_type"] for s in parsed["streams"]} == {"video", "audio"}
