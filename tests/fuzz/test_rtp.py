"""Fuzzing RTP and RTCP from a camera: H.264 (single NAL units, STAP-A, FU-A), AAC (RFC
3640) and G.711 payloads, and RTCP sender reports, whatever their sizes claim."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.bounded import fuzz_settings, time_bound
from tests.fuzz.wire import chunkings, feed
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest
from vms_core.media.native.connection import RtspConnection
from vms_core.media.native.depacketize import (
    MAX_ACCESS_UNIT,
    START_CODE,
    AacDepacketizer,
    G711Depacketizer,
    H264Depacketizer,
)
from vms_core.media.native.session import NativeSession, Track
from vms_core.media.native.source import NativeRtspSource
from vms_core.rtsp.sdp import parse_sdp

VIDEO_SDP = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:v\r\n"


def nal(types: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    return st.tuples(types, st.binary(max_size=300)).map(lambda t: bytes([0x60 | t[0]]) + t[1])


@st.composite
def stap_a(draw: st.DrawFn) -> bytes:
    """STAP-A whose unit sizes may lie."""
    out = b"\x78"
    for unit in draw(st.lists(nal(st.integers(1, 23)), max_size=4)):
        size = draw(st.one_of(st.just(len(unit)), st.integers(0, 0xFFFF)))
        out += struct.pack("!H", size) + unit
    return out + draw(st.binary(max_size=3))


@st.composite
def fu_a(draw: st.DrawFn) -> bytes:
    """An FU-A fragment: start, middle or end (or both, or an absurd header)."""
    flags = draw(st.sampled_from([0x80, 0x00, 0x40, 0xC0, 0x20]))
    kind = draw(st.sampled_from([1, 5, 7, 8, 28]))
    return bytes([0x7C, flags | kind]) + draw(st.binary(max_size=600))


h264_payloads = st.one_of(
    nal(st.integers(0, 31)), stap_a(), fu_a(), st.binary(max_size=50), st.just(b"")
)


@st.composite
def rtp_packets(draw: st.DrawFn, payloads: st.SearchStrategy[bytes], seq: int) -> bytes:
    """An RTP packet, mostly well-formed (next sequence number, one of few timestamps);
    CSRC count, extension and padding may lie about their sizes."""
    b0 = draw(st.one_of(st.just(0x80), st.integers(0, 255)))
    marker = draw(st.booleans())
    seq = draw(st.one_of(st.just(seq), st.integers(0, 0xFFFF)))
    ts = draw(st.one_of(st.sampled_from([0, 3600, 7200]), st.integers(0, 2**32 - 1)))
    header = struct.pack("!BBHII", b0, 96 | (0x80 if marker else 0), seq & 0xFFFF, ts, 7)
    extra = draw(st.binary(max_size=20)) if b0 & 0x3F else b""  # CSRCs, extension
    tail = draw(st.binary(max_size=4)) if b0 & 0x20 else b""  # padding, length last
    return header + extra + draw(payloads) + tail


@st.composite
def rtp_streams(draw: st.DrawFn, payloads: st.SearchStrategy[bytes]) -> list[bytes]:
    count = draw(st.integers(0, 25))
    return [draw(rtp_packets(payloads, seq)) for seq in range(count)]


def _collect(out: list[bytes]) -> H264Depacketizer:
    return H264Depacketizer(lambda data, ts, key: out.append(data))


@fuzz_settings(max_examples=150)
@given(packets=rtp_streams(h264_payloads), sizes=chunkings)
def test_h264_units_are_bounded_and_the_fast_path_agrees(
    packets: list[bytes], sizes: list[int]
) -> None:
    direct: list[bytes] = []
    depacketizer = _collect(direct)
    with time_bound("the H.264 depacketizer"):
        for packet in packets:
            depacketizer.packet(memoryview(packet))
            assert len(depacketizer.au) <= MAX_ACCESS_UNIT
    for unit in direct:
        assert unit.startswith(START_CODE) and len(unit) <= MAX_ACCESS_UNIT

    # The same packets as interleaved frames, through the connection's FU-A fast path.
    interleaved: list[bytes] = []
    fast = _collect(interleaved)
    connection = RtspConnection("rtsp://127.0.0.1/fuzz", 1.0)
    connection.handlers[0] = fast.packet
    connection.video_channel, connection.video = 0, fast
    data = b"".join(b"$\x00" + struct.pack("!H", len(p)) + p for p in packets)
    with time_bound("the interleaved parser"):
        feed(connection, data, sizes)
    assert interleaved == direct
    assert fast.au == depacketizer.au


aac_fmtp = st.fixed_dictionaries(
    {},
    optional={
        "sizelength": st.one_of(st.integers(-2, 40).map(str), st.sampled_from(["²", "", "x"])),
        "indexlength": st.one_of(st.integers(-2, 20).map(str), st.just("٣")),
        "indexdeltalength": st.integers(0, 9).map(str),
    },
)


@st.composite
def aac_payloads(draw: st.DrawFn) -> bytes:
    """AU-headers-length, AU headers and data, each of which may lie."""
    header_bits = draw(st.one_of(st.integers(0, 0xFFFF), st.sampled_from([16, 32, 48])))
    headers = draw(st.binary(max_size=12))
    return struct.pack("!H", header_bits) + headers + draw(st.binary(max_size=200))


@fuzz_settings(max_examples=200)
@given(fmtp=aac_fmtp, packets=rtp_streams(aac_payloads()))
def test_aac_frames_are_bounded_by_their_size_field(
    fmtp: dict[str, str], packets: list[bytes]
) -> None:
    frames: list[bytes] = []
    try:
        depacketizer = AacDepacketizer(lambda data, ts: frames.append(data), fmtp)
    except ValueError as exc:  # an AU-header layout it cannot read: no audio, said why
        assert "AAC" in str(exc)
        return
    with time_bound("the AAC depacketizer"):
        for packet in packets:
            depacketizer.packet(memoryview(packet))
            assert len(depacketizer.partial) <= depacketizer.max_frame
    assert all(0 < len(frame) <= depacketizer.max_frame for frame in frames)


@fuzz_settings(max_examples=100)
@given(packets=st.lists(st.binary(max_size=400), max_size=20))
def test_g711_takes_any_packet(packets: list[bytes]) -> None:
    samples: list[bytes] = []
    depacketizer = G711Depacketizer(lambda data, ts: samples.append(data))
    with time_bound("the G.711 depacketizer"):
        for packet in packets:
            depacketizer.packet(memoryview(packet))
    assert sum(map(len, samples)) <= sum(map(len, packets))


@st.composite
def rtcp_packets(draw: st.DrawFn) -> bytes:
    """A compound RTCP packet: sender reports, SDES, junk; lengths may lie."""
    out = b""
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from([200, 201, 202, 203, 0, 255]))
        body = draw(st.binary(max_size=60))
        words = draw(st.one_of(st.just(len(body) // 4), st.integers(0, 0xFFFF)))
        first = draw(st.one_of(st.just(0x80), st.integers(0, 255)))
        out += struct.pack("!BBH", first, kind, words) + body
    return out + draw(st.binary(max_size=8))


@fuzz_settings(max_examples=200)
@given(video=st.lists(rtcp_packets(), max_size=4), audio=st.lists(rtcp_packets(), max_size=4))
def test_sender_reports_of_any_shape_leave_sane_clocks(
    video: list[bytes], audio: list[bytes]
) -> None:
    ingest = Ingest("fuzz", "rtsp://127.0.0.1:9/fuzz", StreamHub("fuzz"), NativeRtspSource())
    run = NativeSession(ingest, RtspConnection(ingest.url, 1.0), parse_sdp(VIDEO_SDP))
    run.audio = Track(16000, 1024)
    with time_bound("the RTCP reader"):
        for packets, track in ((video, run.video), (audio, run.audio)):
            handle = run._reports(track)
            for packet in packets:
                handle(memoryview(packet))
        offset = run._offset_from_reports()
    assert offset is None or isinstance(offset, int)
