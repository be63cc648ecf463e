"""Frames of the simulator's scenes, as a camera's sub stream would deliver them to a
plug-in: rendered by the simulator's own scene code, encoded with libx264 and decoded back,
sampled at the plug-in's rate, time-stamped as if they were live."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import av
import numpy as np
from vms_sdk import Frame

from vms_core.simulator.media import LoopSpec, SceneConfig, VideoProfile, encode_loop

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def decoded_loop(
    scene: SceneConfig, fps: int, width: int = 640, height: int = 360, title: str | None = None
) -> list[np.ndarray]:
    """One loop of ``scene`` at ``fps`` frames per second, BGR, after an H.264 round trip."""
    spec = LoopSpec(scene, VideoProfile(width, height, fps, 800_000), title=title)
    loop = encode_loop(spec)
    decoder = av.CodecContext.create("h264", "r")
    frames: list[np.ndarray] = []
    for unit in loop.video.units:
        frames.extend(f.to_ndarray(format="bgr24") for f in decoder.decode(av.Packet(unit.data)))
    frames.extend(f.to_ndarray(format="bgr24") for f in decoder.decode(None))
    return frames


def live_frames(
    loop: list[np.ndarray], fps: int, seconds: float, camera_id: str = "cam1"
) -> Iterator[Frame]:
    """The loop replayed for ``seconds`` (it repeats, like the simulator's stream)."""
    for index in range(round(seconds * fps)):
        image = loop[index % len(loop)]
        h, w = image.shape[:2]
        yield Frame(camera_id, START + timedelta(seconds=index / fps), image, w, h, "sub")
