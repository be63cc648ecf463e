from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.mediatools import make_clip


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, 320x180, 10 fps, keyframe every second, AAC audio."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", 8)


@pytest.fixture(scope="session")
def live_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s MPEG-TS (H.264 + AAC, keyframe every second) for the live source."""
    return make_clip(tmp_path_factory.mktemp("clips") / "live.ts", 30, fmt="mpegts")
