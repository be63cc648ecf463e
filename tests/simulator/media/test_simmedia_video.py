"""The encoded video loops decode with a real decoder and are what the SDP says."""

from __future__ import annotations

import json
import subprocess
from base64 import b64decode
from pathlib import Path

import av
import numpy as np
import pytest

from vms_core.simulator.media import (
    EncodedLoop,
    LoopSpec,
    SceneConfig,
    VideoProfile,
    clock_label,
    read_clock_stripe,
    video_track_info,
)
from vms_core.simulator.media.clock import draw_clock_stripe
from vms_core.simulator.media.nal import h264_nal_type, h265_nal_type, split_annexb

from .conftest import FPS, LOOP_SECONDS


def decode(codec: str, units: list[bytes]) -> list[np.ndarray]:
    decoder = av.CodecContext.create(codec, "r")
    frames = []
    for data in units:
        frames.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(av.Packet(data)))
    frames.extend(f.to_ndarray(format="rgb24") for f in decoder.decode(None))
    return frames


def test_h264_loop_decodes_at_size_and_plays_round_seamlessly(h264_loop: EncodedLoop) -> None:
    units = [u.data for u in h264_loop.video.units]
    assert len(units) == LOOP_SECONDS * FPS
    # Twice in a row, as the player sends it: the seam must be as decodable as the rest.
    frames = decode("h264", units + units)
    assert len(frames) == 2 * len(units)
    assert all(f.shape == (180, 320, 3) for f in frames)


def test_h264_gop_starts_with_idr_and_has_sps_pps_before_every_idr(h264_loop: EncodedLoop) -> None:
    gop = h264_loop.spec.video.gop_frames
    assert gop == FPS
    for index, unit in enumerate(h264_loop.video.units):
        types = [h264_nal_type(n) for n in split_annexb(unit.data)]
        assert unit.keyframe == (index % gop == 0)
        if unit.keyframe:
            assert 5 in types, f"keyframe {index} is not an IDR"
            first_slice = types.index(5)
            assert 7 in types[:first_slice] and 8 in types[:first_slice]
        else:
            assert 5 not in types and 7 not in types
    assert h264_loop.video.units[0].keyframe


def test_h264_stream_has_the_profile_fps_for_ffprobe(
    h264_loop: EncodedLoop, tmp_path: Path
) -> None:
    raw = tmp_path / "loop.h264"
    raw.write_bytes(b"".join(u.data for u in h264_loop.video.units))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(raw)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (320, 180)
    assert stream["has_b_frames"] == 0
    assert int(stream["nb_read_frames"]) == LOOP_SECONDS * FPS
    num, den = map(int, stream["r_frame_rate"].split("/"))
    assert num / den == pytest.approx(FPS)


def test_clock_stripe_survives_h264_at_320x180(h264_loop: EncodedLoop) -> None:
    frames = decode("h264", [u.data for u in h264_loop.video.units])
    read = [read_clock_stripe(frame) for frame in frames]
    assert read == [clock_label(i, FPS) for i in range(len(frames))]


def test_clock_stripe_reads_what_was_drawn_and_rejects_other_pictures() -> None:
    rng = np.random.default_rng(1)
    for height, width in ((180, 320), (360, 640), (1080, 1920)):
        for seconds, frame in ((0, 0), (59, 29), (37, 14)):
            picture = rng.integers(60, 200, (height, width, 3), dtype=np.uint8)
            draw_clock_stripe(picture, seconds, frame)
            assert read_clock_stripe(picture) == (seconds, frame)
    assert read_clock_stripe(np.full((180, 320, 3), 128, np.uint8)) is None
    assert read_clock_stripe(np.zeros((180, 320, 3), np.uint8)) is None


def test_h264_track_info_matches_the_stream(h264_loop: EncodedLoop) -> None:
    info = video_track_info(h264_loop)
    assert (info.codec, info.clock_rate, info.width, info.height, info.fps) == (
        "H264",
        90000,
        320,
        180,
        FPS,
    )
    assert info.fmtp["packetization-mode"] == "1"
    sps_b64, pps_b64 = info.fmtp["sprop-parameter-sets"].split(",")
    sps, pps = b64decode(sps_b64), b64decode(pps_b64)
    assert (h264_nal_type(sps), h264_nal_type(pps)) == (7, 8)
    assert info.fmtp["profile-level-id"] == sps[1:4].hex()
    # The parameter sets from the SDP alone (in-band ones removed) let a decoder start.
    first = h264_loop.video.units[0].data
    slices = [n for n in split_annexb(first) if h264_nal_type(n) == 5]
    stream = b"".join(b"\x00\x00\x00\x01" + n for n in [sps, pps, *slices])
    assert len(decode("h264", [stream])) == 1


def test_h265_loop_decodes_with_vps_sps_pps_before_every_irap(h265_loop: EncodedLoop) -> None:
    gop = h265_loop.spec.video.gop_frames
    for index, unit in enumerate(h265_loop.video.units):
        types = [h265_nal_type(n) for n in split_annexb(unit.data)]
        assert unit.keyframe == (index % gop == 0)
        if unit.keyframe:
            first_slice = next(i for i, t in enumerate(types) if t <= 31)
            assert types[first_slice] in (19, 20), "keyframes are IDR pictures"
            assert {32, 33, 34} <= set(types[:first_slice])
    units = [u.data for u in h265_loop.video.units]
    frames = decode("hevc", units + units)
    assert len(frames) == 2 * len(units)
    assert [read_clock_stripe(f) for f in frames[: len(units)]] == [
        clock_label(i, FPS) for i in range(len(units))
    ]
    info = video_track_info(h265_loop)
    assert info.codec == "H265"
    assert h265_nal_type(b64decode(info.fmtp["sprop-vps"])) == 32
    assert h265_nal_type(b64decode(info.fmtp["sprop-sps"])) == 33
    assert h265_nal_type(b64decode(info.fmtp["sprop-pps"])) == 34


def test_loop_must_be_whole_gops() -> None:
    with pytest.raises(ValueError, match="whole number"):
        LoopSpec(SceneConfig(loop_seconds=3), VideoProfile(320, 180, 10, 300_000, gop_seconds=2))
