"""Fuzzing what a camera sends the native RTSP client: answers and interleaved ``$`` frames
in any TCP chunking, and SDP all the way to the ingest's choice of tracks."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.bounded import fuzz_settings, time_bound
from tests.fuzz.wire import chunkings, feed
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest, SourceError
from vms_core.media.native.connection import BUFFER_BYTES, RtspConnection
from vms_core.media.native.session import NativeSession, UseFFmpeg
from vms_core.media.native.source import NativeRtspSource
from vms_core.rtsp.limits import MAX_MEDIA_SECTIONS
from vms_core.rtsp.responses import ProtocolError
from vms_core.rtsp.sdp import MAX_CHANNELS, MAX_CLOCK_RATE, MAX_FRAMERATE, parse_sdp

# Numbers as cameras (and attackers) write them.
ODD_NUMBERS = ["-76", "-0", "+5", " 7", "²", "٣", "0x10", "1e3", "9" * 30, "", "NaN", "-1"]
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str), st.sampled_from(ODD_NUMBERS), st.text(max_size=12)
)


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """An RTSP answer whose numbers and lengths may lie."""
    status = draw(st.one_of(st.integers(0, 1200).map(str), st.sampled_from(ODD_NUMBERS)))
    headers = [f"CSeq: {draw(numbers)}", f"Content-Length: {draw(numbers)}"]
    headers += draw(st.lists(st.text(max_size=40).map(lambda s: s.replace("\r\n", "")), max_size=3))
    body = draw(st.binary(max_size=300))
    return (
        f"RTSP/1.0 {status} OK\r\n".encode()
        + "\r\n".join(headers).encode("utf-8", "replace")
        + b"\r\n\r\n"
        + body
    )


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """An interleaved frame whose length may not match its payload."""
    payload = draw(st.binary(max_size=2000))
    length = draw(st.one_of(st.just(len(payload)), st.integers(0, 0xFFFF)))
    return b"$" + bytes([draw(st.integers(0, 255))]) + length.to_bytes(2, "big") + payload


streams = st.lists(
    st.one_of(answers(), frames(), st.binary(max_size=500), st.sampled_from([b"\r\n", b"\n"])),
    max_size=12,
).map(b"".join)


def _connection(seen: list[tuple[int, bytes]]) -> RtspConnection:
    connection = RtspConnection("rtsp://127.0.0.1/fuzz", 1.0)
    for channel in range(4):
        connection.handlers[channel] = lambda mv, c=channel: seen.append((c, bytes(mv)))
    return connection


@fuzz_settings(max_examples=300)
@given(data=streams, sizes=chunkings)
# The answer that once looped the parser: Content-Length minus the head's own length.
@example(data=b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: -49\r\n\r\n", sizes=[100])
def test_any_bytes_from_a_camera_parse_or_fail_by_name_within_bounds(
    data: bytes, sizes: list[int]
) -> None:
    connection = _connection([])
    with time_bound("the answer parser"):
        try:
            feed(connection, data, sizes)
        except ProtocolError:
            pass  # refused, with a reason: fine
        except ConnectionError as exc:  # only the session-ended answer
            assert "ended the RTSP session" in str(exc)
    assert 0 <= connection.start <= connection.end <= BUFFER_BYTES
    assert len(connection.responses) <= 8


@st.composite
def good_streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes]], dict[int, bytes]]:
    """Well-formed frames and answers, and what the parser must make of them."""
    data, frames_out, bodies = b"", [], {}
    for cseq in range(draw(st.integers(0, 20))):
        if draw(st.booleans()):
            channel, payload = draw(st.integers(0, 3)), draw(st.binary(max_size=3000))
            data += b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload
            frames_out.append((channel, payload))
        else:
            body = draw(st.binary(max_size=2000))
            head = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: {len(body)}\r\n\r\n"
            data += head.encode() + body
            bodies[cseq] = body
        if draw(st.booleans()):
            data += b"\r\n"
    return data, frames_out, bodies


@fuzz_settings(max_examples=200)
@given(stream=good_streams(), sizes=chunkings)
def test_frames_and_answers_come_out_whole_in_any_chunking(
    stream: tuple[bytes, list[tuple[int, bytes]], dict[int, bytes]], sizes: list[int]
) -> None:
    data, expected_frames, bodies = stream
    seen: list[tuple[int, bytes]] = []
    connection = _connection(seen)
    with time_bound("the answer parser"):
        feed(connection, data, sizes)
    assert seen == expected_frames
    kept = dict(sorted(bodies.items())[-8:])  # older unread answers are dropped
    assert {cseq: r.body for cseq, r in connection.responses.items()} == kept
    assert connection.start == connection.end == 0  # nothing left over


SDP_KEYS = ["rtpmap", "fmtp", "control", "framerate", "x-dimensions", "range"]
FMTP_NAMES = [
    "sizelength", "indexlength", "indexdeltalength", "config", "sprop-parameter-sets",
    "packetization-mode",
]  # fmt: skip


@st.composite
def sdp_texts(draw: st.DrawFn) -> str:
    """An SDP from plausible lines with absurd values, and plain junk lines."""
    lines = ["v=0", "s=fuzz"]
    # Mostly a few sections; now and then one too many.
    for _ in range(draw(st.one_of(st.integers(0, 4), st.just(MAX_MEDIA_SECTIONS + 1)))):
        kind = draw(st.sampled_from(["video", "audio", "application", "", "vidéo"]))
        lines.append(f"m={kind} 0 RTP/AVP {draw(numbers)}")
        for _ in range(draw(st.integers(0, 5))):
            key = draw(st.sampled_from(SDP_KEYS))
            encoding = draw(st.sampled_from(["H264", "MPEG4-GENERIC", "PCMU", "PCMA", "H265"]))
            if key == "rtpmap":
                value = f"{draw(numbers)} {encoding}/{draw(numbers)}/{draw(numbers)}"
            elif key == "fmtp":
                params = draw(st.lists(st.sampled_from(FMTP_NAMES), max_size=4))
                value = "96 " + ";".join(f"{p}={draw(numbers)}" for p in params)
            else:
                value = draw(st.one_of(numbers, st.text(max_size=30)))
            lines.append(f"a={key}:{value}")
    lines += draw(st.lists(st.text(max_size=60), max_size=3))
    return "\r\n".join(lines)


@fuzz_settings(max_examples=150)
@given(text=sdp_texts())
def test_any_sdp_gives_sane_media_or_a_named_refusal(text: str) -> None:
    ingest = Ingest("fuzz", "rtsp://127.0.0.1:9/fuzz", StreamHub("fuzz"), NativeRtspSource())
    with time_bound("the SDP parser"):
        try:
            medias = parse_sdp(text)
        except ProtocolError as exc:
            assert "media sections" in str(exc)
            return
        try:
            run = NativeSession(ingest, RtspConnection(ingest.url, 1.0), medias)
        except (SourceError, UseFFmpeg) as exc:
            assert str(exc)
            return
    for media in medias:
        assert -1 <= media.payload_type <= 127
        assert 1 <= media.clock_rate <= MAX_CLOCK_RATE
        assert 1 <= media.channels <= MAX_CHANNELS
        if media.framerate is not None:
            assert math.isfinite(media.framerate) and 0 < media.framerate <= MAX_FRAMERATE
    assert run.video_media.encoding == "H264" and run.video_media.problem is None
    assert (run.audio_media is None) == (run.audio_depacketizer is None)
