"""What ffprobe sees on each camera's RTSP streams: codec, size, rate and audio, over TCP
and UDP, with the camera's credentials."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.loops import sim_config
from tests.simulator.conftest import onvif_client, small_camera
from vms_core.simulator.config import VideoProfileConfig
from vms_core.simulator.simulator import Simulator


@pytest.fixture
async def media_simulator(tmp_path: Path) -> AsyncIterator[Simulator]:
    config = sim_config(
        cameras=[
            small_camera(1),
            small_camera(
                2,
                audio="PCMU",
                main=VideoProfileConfig(width=256, height=144, fps=8, codec="H265"),
                sub=VideoProfileConfig(width=128, height=72, fps=4, codec="H265"),
            ),
        ],
        discovery=False,
    )
    sim = Simulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)


async def ffprobe(url: str, transport: str) -> tuple[int, dict[str, Any], str]:
    process = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-analyzeduration",
        "2500000",
        "-rtsp_transport",
        transport,
        "-show_streams",
        "-of",
        "json",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, json.loads(out or b"{}"), err.decode()


def by_type(probe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["codec_type"]: s for s in probe.get("streams", [])}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffprobe_reads_main_sub_and_audio_as_configured(
    media_simulator: Simulator, transport: str
) -> None:
    expected = {
        ("sim-cam-1", "main"): ("h264", 320, 180, "10/1", "aac", 16000),
        ("sim-cam-1", "sub"): ("h264", 160, 90, "5/1", "aac", 16000),
        ("sim-cam-2", "main"): ("hevc", 256, 144, "8/1", "pcm_mulaw", 8000),
        ("sim-cam-2", "sub"): ("hevc", 128, 72, "4/1", "pcm_mulaw", 8000),
    }
    urls = {}
    for info in media_simulator.cameras:
        urls[(info.name, "main")] = (info.rtsp_main_url, info)
        urls[(info.name, "sub")] = (info.rtsp_sub_url, info)
    results = await asyncio.gather(
        *(
            ffprobe(with_credentials(url, info.username, info.password), transport)
            for url, info in urls.values()
        )
    )
    for key, (code, probe, err) in zip(urls, results, strict=True):
        assert code == 0, (key, err)
        streams = by_type(probe)
        video, audio = streams["video"], streams["audio"]
        codec, width, height, rate, audio_codec, sample_rate = expected[key]
        assert (video["codec_name"], video["width"], video["height"]) == (codec, width, height)
        assert video["r_frame_rate"] == rate, key
        assert audio["codec_name"] == audio_codec
        assert int(audio["sample_rate"]) == sample_rate


async def test_rtsp_needs_the_camera_password(media_simulator: Simulator) -> None:
    info = media_simulator.cameras[0]
    code, _, err = await ffprobe(with_credentials(info.rtsp_sub_url, "admin", "wrong"), "tcp")
    assert code != 0
    assert "401" in err or "Unauthorized" in err


async def test_onvif_profiles_announce_the_codecs_the_streams_carry(
    media_simulator: Simulator,
) -> None:
    camera = onvif_client(media_simulator.cameras[1])
    try:
        await camera.update_xaddrs()
        media = await camera.create_media_service()
        profiles = {p.token: p for p in await media.GetProfiles()}
        assert profiles["main"].VideoEncoderConfiguration.Encoding == "H265"
        assert profiles["main"].AudioEncoderConfiguration.Encoding == "G711"
        assert profiles["main"].AudioEncoderConfiguration.SampleRate == 8
    finally:
        await camera.close()
