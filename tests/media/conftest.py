from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media.mediatools import make_clip
from tests.media.rtsp_camera import RtspCameras


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, 320x180, 10 fps, keyframe every second, AAC audio."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", 8)


@pytest.fixture(scope="session")
def live_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s MPEG-TS (H.264 + AAC, keyframe every second) for the live source."""
    return make_clip(tmp_path_factory.mktemp("clips") / "live.ts", 30, fmt="mpegts")


@pytest.fixture
def rtsp_cameras() -> Iterator[RtspCameras]:
    cameras = RtspCameras()
    yield cameras
    cameras.close()
