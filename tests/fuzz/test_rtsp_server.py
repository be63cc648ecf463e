"""Fuzzing what clients send the project's RTSP server: request heads alone, then whole
exchanges over loopback against a running server with a stream."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.bounded import ErrorRecords, fuzz_settings, time_bound
from tests.media.rtsp_camera import RtspCameras, small_loop
from vms_core.rtsp.limits import MAX_BODY_BYTES
from vms_core.rtsp.message import BadRequest, parse_head

ODD_NUMBERS = ["-76", "+5", " 7", "²", "٣", "0x10", "9" * 30, "9" * 5000, "", "1-2-3", "-"]
numbers = st.one_of(st.integers(-5, 70_000).map(str), st.sampled_from(ODD_NUMBERS))
methods = st.sampled_from(
    ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "RECORD", "x"]
)


BASES = [
    "rtsp://127.0.0.1:554/cam", "/cam", "cam", "rtsp://[::1/cam", "rtsp://[zz]/cam", "*",
    "rtsp://h:99999/cam", "/cam/%ff%00",
]  # fmt: skip
VERSIONS = ["RTSP/1.0", "RTSP/2.0", "HTTP/1.1"]


@st.composite
def uris(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(BASES))
    track = draw(st.one_of(st.just(""), numbers.map(lambda n: f"/trackID={n}")))
    return base + track


@st.composite
def transports(draw: st.DrawFn) -> str:
    lower = draw(st.sampled_from(["RTP/AVP/TCP", "RTP/AVP", "RTP/AVP/UDP", "RTP/SAVP", ""]))
    params = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["unicast", "multicast", "mode=play"]),
                st.tuples(
                    st.sampled_from(["interleaved", "client_port", "ttl"]), numbers, numbers
                ).map(lambda t: f"{t[0]}={t[1]}-{t[2]}"),
            ),
            max_size=4,
        )
    )
    return ";".join([lower, *params])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A request head (and body) whose every number and name may be odd."""
    lines = [f"{draw(methods)} {draw(uris())} {draw(st.sampled_from(VERSIONS))}"]
    if draw(st.booleans()):
        lines.append(f"CSeq: {draw(numbers)}")
    if draw(st.booleans()):
        lines.append(f"Content-Length: {draw(numbers)}")
    if draw(st.booleans()):
        lines.append(f"Transport: {draw(transports())}")
    if draw(st.booleans()):
        lines.append(f"Session: {draw(st.text(max_size=30))}")
    lines += draw(st.lists(st.text(max_size=40), max_size=3))
    text = "\r\n".join(line.replace("\r", "").replace("\n", "") for line in lines)
    body = draw(st.binary(max_size=200))
    frame = b"$\x01\x00\x04abcd" if draw(st.booleans()) else b""
    return frame + text.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body


@fuzz_settings(max_examples=400)
@given(head=st.one_of(requests().map(lambda r: r.split(b"\r\n\r\n")[0]), st.binary(max_size=300)))
def test_any_request_head_parses_or_is_refused_with_a_status(head: bytes) -> None:
    with time_bound("the request parser"):
        try:
            request = parse_head(head)
        except BadRequest as exc:
            assert exc.status in (400, 413, 505)
            return
    assert re.fullmatch(r"[A-Z_]{1,32}", request.method)
    assert 0 <= request.content_length <= MAX_BODY_BYTES
    assert request.cseq is not None


STATUS_LINE = re.compile(rb"RTSP/1\.0 (\d{3}) ")


@pytest.fixture(scope="module")
def cameras() -> Iterator[RtspCameras]:
    """A running RTSP server with one stream, shared by the examples (it must survive
    them all)."""
    cameras = RtspCameras()
    cameras.add("cam", small_loop("AAC"))
    yield cameras
    cameras.close()


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, close our side, and read everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if len(received) > 1_000_000:  # PLAY started media: enough
                break
        return received


@fuzz_settings(max_examples=150)
@given(exchange=st.lists(requests(), min_size=1, max_size=3))
def test_the_server_answers_any_request_without_a_500(
    cameras: RtspCameras, exchange: list[bytes]
) -> None:
    port = cameras.server.port
    with ErrorRecords() as errors, time_bound("two exchanges with the server", 6.0):
        received = _exchange(port, b"".join(exchange))
        # A good request after it is answered (and by then the server's loop has also
        # logged whatever the first connection's end made it log).
        answer = _exchange(port, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    for match in STATUS_LINE.finditer(received):
        assert int(match.group(1)) != 500, received[:300]
    assert not errors.messages
    assert answer.startswith(b"RTSP/1.0 200 OK")
