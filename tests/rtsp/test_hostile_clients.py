"""Requests a careless or hostile client sends: each gets its 4xx, the server logs no error,
and it keeps serving everyone else."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vms_core.rtsp import RtspServer
from vms_core.rtsp.server import MAX_SESSIONS_PER_CONNECTION

from .clips import Clip
from .rawclient import RawRtspClient

LONG_NUMBER = "9" * 5000  # int() refuses more than 4300 digits
CASES: dict[str, tuple[str, int]] = {
    "superscript Content-Length": ("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ²", 400),
    "negative Content-Length": ("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -76", 400),
    "huge Content-Length": (f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: {LONG_NUMBER}", 413),
    "unclosed IPv6 host": ("DESCRIBE rtsp://[::1/cam RTSP/1.0\r\nCSeq: 1", 400),
    "bad IPv6 host in SETUP": ("SETUP rtsp://[zz]/cam/trackID=0 RTSP/1.0\r\nCSeq: 1", 400),
    "5000-digit track": (f"SETUP /cam/trackID={LONG_NUMBER} RTSP/1.0\r\nCSeq: 1", 404),
    "superscript channels": (
        "SETUP /cam/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=²-³",
        461,
    ),
    "5000-digit client port": (
        f"SETUP /cam/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        f"Transport: RTP/AVP;unicast;client_port={LONG_NUMBER}",
        461,
    ),
    "channel out of range": (
        "SETUP /cam/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=300-301",
        461,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_request_gets_its_status_and_nothing_else_breaks(
    rtsp_server: RtspServer, h264_clip: Clip, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    request, status = CASES[case]
    rtsp_server.add_stream("cam", h264_clip.tracks)
    with caplog.at_level(logging.INFO):
        bad = await RawRtspClient.connect(rtsp_server.port)
        bad.writer.write(request.encode() + b"\r\n\r\n")
        response = await asyncio.wait_for(bad.read_response(), 5)
        await bad.close()
        good = await RawRtspClient.connect(rtsp_server.port)
        described = await good.request("DESCRIBE", rtsp_server.url("cam"))
        await good.close()
    assert response.status == status
    assert response.header("cseq") == "1"
    assert described.status == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors


async def test_one_connection_cannot_pile_up_sessions(
    rtsp_server: RtspServer, h264_clip: Clip
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks)
    client = await RawRtspClient.connect(rtsp_server.port)
    transport = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
    statuses = [
        (await client.request("SETUP", "/cam/trackID=0", transport)).status for _ in range(20)
    ]
    await client.close()
    assert statuses == [200] * MAX_SESSIONS_PER_CONNECTION + [453] * 4
    assert len(rtsp_server.sessions) <= MAX_SESSIONS_PER_CONNECTION
