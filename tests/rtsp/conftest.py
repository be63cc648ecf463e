"""Fixtures for the RTSP server tests: tiny clips, a running server, real ffmpeg tools."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vms_core.rtsp import RtspServer

from .clips import Clip, make_h264_aac_clip, make_h265_pcmu_clip


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_h264_aac_clip(tmp_path_factory.mktemp("h264"))


@pytest.fixture(scope="session")
def h265_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_h265_pcmu_clip(tmp_path_factory.mktemp("h265"))


@pytest.fixture
async def rtsp_server() -> AsyncIterator[RtspServer]:
    server = RtspServer("127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
