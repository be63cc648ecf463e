"""H.264 framing for browsers and the choice of the answered format, on real x264 output."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.sdp import MediaDescription, SessionDescription

from vms_core.webrtc.h264 import (
    START_CODE,
    AnnexBFormatter,
    annexb_units,
    parameter_sets,
    profile_level_id,
)
from vms_core.webrtc.negotiation import StreamTraits, Unplayable, check_playable, choose_h264

# What Chromium offers for H.264 (trimmed): Baseline, Constrained Baseline, Main; modes 0/1.
CHROMIUM_OFFER = """v=0\r
o=- 1 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107\r
c=IN IP4 0.0.0.0\r
a=mid:0\r
a=recvonly\r
a=rtcp-mux\r
a=rtpmap:96 VP8/90000\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
a=rtpmap:102 H264/90000\r
a=rtcp-fb:102 nack\r
a=rtcp-fb:102 transport-cc\r
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r
a=rtpmap:103 rtx/90000\r
a=fmtp:103 apt=102\r
a=rtpmap:104 H264/90000\r
a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r
a=rtpmap:105 H264/90000\r
a=fmtp:105 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
a=rtpmap:106 H264/90000\r
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r
a=rtpmap:107 rtx/90000\r
a=fmtp:107 apt=106\r
"""


def x264_units(frames: int, params: str) -> tuple[list[tuple[bytes, bool]], bytes]:
    """(Annex-B access unit, keyframe) from libx264, 64x64, keyframe every 5 frames, with
    SPS/PPS moved out of band into the returned extradata (as a camera announcing them
    only in SDP)."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width = ctx.height = 64
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 10)
    ctx.options = {"x264-params": f"keyint=5:min-keyint=5:scenecut=0:repeat-headers=1:{params}"}
    out = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 9, np.uint8), "rgb24")
        frame.pts = i
        out += [(bytes(p), p.is_keyframe) for p in ctx.encode(frame.reformat(format="yuv420p"))]
    out += [(bytes(p), p.is_keyframe) for p in ctx.encode(None)]
    headers = [u for u in annexb_units(out[0][0]) if u[0] & 0x1F in (7, 8)]
    stripped = [
        (b"".join(START_CODE + u for u in annexb_units(data) if u[0] & 0x1F not in (7, 8)), key)
        for data, key in out
    ]
    return stripped, b"".join(START_CODE + u for u in headers)


def nal_types(data: bytes) -> list[int]:
    return [u[0] & 0x1F for u in annexb_units(data)]


def test_parameter_sets_are_put_before_keyframes_that_lack_them() -> None:
    units, extradata = x264_units(12, "bframes=0")
    params = parameter_sets(extradata)
    assert params.sps and params.pps and params.length_size is None
    assert profile_level_id(params.sps[0]) == params.sps[0][1:4].hex()
    keys = [data for data, key in units if key]
    assert len(keys) == 3 and all(7 not in nal_types(k) for k in keys)  # out of band only
    formatter = AnnexBFormatter(params)
    for data, key in units:
        formatted = formatter.format(data, key)
        if key:
            types = nal_types(formatted)
            assert types.index(7) < types.index(8) < types.index(5)
        else:
            assert formatted == data  # P-frames pass through untouched


def test_length_prefixed_input_becomes_annexb() -> None:
    encoded, extradata = x264_units(1, "bframes=0")
    units = [u for u in annexb_units(extradata + encoded[0][0]) if u[0] & 0x1F in (7, 8, 5)]
    assert [u[0] & 0x1F for u in units] == [7, 8, 5]
    avcc_extra = (
        bytes([1, units[0][1], units[0][2], units[0][3], 0xFF, 0xE1])
        + len(units[0]).to_bytes(2, "big")
        + units[0]
        + b"\x01"
        + len(units[1]).to_bytes(2, "big")
        + units[1]
    )
    params = parameter_sets(avcc_extra)
    assert params.length_size == 4 and params.sps == (units[0],) and params.pps == (units[1],)
    slices = [u for u in units if u[0] & 0x1F == 5]
    avcc = b"".join(len(u).to_bytes(4, "big") + u for u in slices)
    assert nal_types(AnnexBFormatter(params).format(avcc, True)) == [7, 8, 5]


@pytest.mark.parametrize(
    ("camera", "answered"),
    [("640028", "4d001f"), ("4d0029", "4d001f"), ("42e01e", "42e01f"), (None, "42e01f")],
)
def test_answer_echoes_the_offered_format_nearest_the_camera_profile(
    camera: str | None, answered: str
) -> None:
    codecs = choose_h264(video_section(CHROMIUM_OFFER), camera)
    assert codecs[0].parameters["profile-level-id"] == answered
    assert str(codecs[0].parameters["packetization-mode"]) == "1"
    if answered == "4d001f":  # its RTX comes along
        assert [c.payloadType for c in codecs] == [106, 107]


def video_section(offer: str) -> MediaDescription:
    return SessionDescription.parse(offer).media[0]


def test_offer_without_h264_mode_1_gets_nothing() -> None:
    offer = CHROMIUM_OFFER.replace("packetization-mode=1", "packetization-mode=0")
    assert choose_h264(video_section(offer), "640028") == []


def test_h265_and_b_frames_are_refused_with_a_reason() -> None:
    ok = StreamTraits("h264", False, "640028", None)
    check_playable(ok)
    with pytest.raises(Unplayable, match=r"H\.265"):
        check_playable(StreamTraits("hevc", False, None, None))
    with pytest.raises(Unplayable, match="B-frames"):
        check_playable(StreamTraits("h264", True, "640028", None))
