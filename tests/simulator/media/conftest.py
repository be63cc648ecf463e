"""Small loops shared by the simulator media tests (encoded once per test process)."""

from __future__ import annotations

import pytest

from vms_core.simulator.media import (
    AudioProfile,
    EncodedLoop,
    LoopSpec,
    SceneConfig,
    SoundScene,
    VehicleScene,
    VideoProfile,
    encode_loop,
)

FPS = 10
LOOP_SECONDS = 4


def small_scene() -> SceneConfig:
    return SceneConfig(
        loop_seconds=LOOP_SECONDS,
        vehicle=VehicleScene(plate="ABC 123", every_s=4.0, crossing_s=2.0, first_at_s=0.5),
        gunshot=SoundScene(at_s=(1.0,)),
        door_slam=SoundScene(at_s=(2.0,)),
        speech=SoundScene(at_s=(2.9,), duration_s=1.0),
    )


@pytest.fixture(scope="session")
def h264_loop() -> EncodedLoop:
    spec = LoopSpec(
        scene=small_scene(),
        video=VideoProfile(320, 180, FPS, 300_000, gop_seconds=1.0, codec="H264"),
        audio=AudioProfile("AAC", 16000),
        title="Test Cam",
    )
    return encode_loop(spec)


@pytest.fixture(scope="session")
def h265_loop() -> EncodedLoop:
    spec = LoopSpec(
        scene=SceneConfig(loop_seconds=2),
        video=VideoProfile(320, 180, FPS, 300_000, gop_seconds=0.5, codec="H265"),
        audio=AudioProfile("PCMU", 8000),
    )
    return encode_loop(spec)
