"""The picture's scene objects are what detectors downstream are meant to find."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest

from vms_core.simulator.media import (
    LoopSpec,
    PersonScene,
    SceneConfig,
    VehicleScene,
    VideoProfile,
    encode_loop,
)


def decoded_frames(spec: LoopSpec) -> list[np.ndarray]:
    loop = encode_loop(spec)
    decoder = av.CodecContext.create("h264", "r")
    frames = []
    for unit in loop.video.units:
        frames.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(av.Packet(unit.data)))
    return frames


def bgr(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, :, ::-1])


def test_hog_people_detector_finds_the_walking_figure_on_the_sub_stream() -> None:
    cv2 = pytest.importorskip("cv2")
    fps = 5
    scene = SceneConfig(loop_seconds=10, person=PersonScene(every_s=10, crossing_s=8, first_at_s=1))
    frames = decoded_frames(LoopSpec(scene, VideoProfile(640, 360, fps, 800_000)))
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    (walk,) = scene.events()
    in_view = range(round((walk.start_s + 1.5) * fps), round((walk.end_s - 1.5) * fps))
    found = 0
    for index in in_view:
        boxes, _ = hog.detectMultiScale(bgr(frames[index]), winStride=(8, 8), scale=1.05)
        found += len(boxes) > 0
    assert found >= 0.7 * len(in_view)
    # Nobody is there before the walk starts.
    empty = [frames[i] for i in range(round(walk.start_s * fps) - 3, round(walk.start_s * fps))]
    assert all(len(hog.detectMultiScale(bgr(f), winStride=(8, 8))[0]) == 0 for f in empty)


def test_vehicle_crosses_the_view_during_its_event() -> None:
    fps = 5
    scene = SceneConfig(
        loop_seconds=4, vehicle=VehicleScene(every_s=4, crossing_s=3, first_at_s=0.5)
    )
    frames = decoded_frames(LoopSpec(scene, VideoProfile(320, 180, fps, 300_000)))

    def red_columns(frame: np.ndarray) -> np.ndarray:
        red = (frame[:, :, 0] > 130) & (frame[:, :, 1] < 70) & (frame[:, :, 2] < 70)
        return np.flatnonzero(red.sum(axis=0) > 5)

    assert len(red_columns(frames[0])) == 0  # before the car arrives
    centres = [red_columns(frames[i]).mean() for i in range(5, 15)]
    assert all(b > a for a, b in itertools.pairwise(centres)), "drives left to right"
    assert centres[-1] - centres[0] > 100


def test_plate_characters_are_tall_enough_for_ocr_at_640x360() -> None:
    fps = 5
    scene = SceneConfig(
        loop_seconds=4,
        vehicle=VehicleScene(plate="KA 4711", every_s=4, crossing_s=3, first_at_s=0.5),
    )
    frames = decoded_frames(LoopSpec(scene, VideoProfile(640, 360, fps, 800_000)))
    frame = frames[10]  # mid-crossing
    # The plate is the white rectangle on the car (the clock box at the bottom right is black
    # with white digits, so look left of it and below the stripe).
    white = (frame[100:, :440] > 225).all(axis=2)
    rows, cols = np.flatnonzero(white.sum(axis=1) > 30), np.flatnonzero(white.sum(axis=0) > 8)
    assert len(rows) and len(cols)
    plate = frame[100 + rows[0] : 100 + rows[-1] + 1, cols[0] : cols[-1] + 1]
    dark_rows = np.flatnonzero((plate < 90).all(axis=2)[:, 3:-3].sum(axis=1) > 2)
    glyph_height = dark_rows[-1] - dark_rows[0] + 1
    assert glyph_height >= 14
    assert plate.shape[1] > 4 * glyph_height  # a wide plate holding the 7 characters
