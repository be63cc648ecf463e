"""The live path forwards packets: no decoder and no encoder is opened for a viewer."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path

import av

from tests.conftest import RunningServer
from tests.webrtc.conftest import camera_id
from vms_core.webrtc.rtpsend import DirectRtpSender
from vms_core.webrtc.tracks import PrepackedPacker

REPO = Path(__file__).resolve().parents[2]


def open_codec_contexts() -> list[str]:
    """Every open PyAV codec context in this process (server and simulator)."""
    return [
        f"{o.name} ({'encoder' if o.is_encoder else 'decoder'})"
        for o in gc.get_objects()
        if isinstance(o, av.CodecContext) and o.is_open
    ]


async def test_live_view_opens_no_decoder_or_encoder(vms: RunningServer) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    before = open_codec_contexts()
    # The viewer (and its decoder) lives in another process.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.webrtc.whep_child",
        f"{vms.url}/api/cameras/{cam}/whep",
        await vms.admin_token(),
        "20",
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        seen: list[str] = []
        reader = asyncio.ensure_future(child.stdout.readline())
        while not reader.done():  # sample while the viewer receives its 20 frames
            seen += open_codec_contexts()
            await asyncio.wait([reader], timeout=0.2)
        result = json.loads(reader.result())
        assert result == {"status": 201, "frames": 20}
        seen += open_codec_contexts()
        # Mid-session: the senders use the relay's payloads, never an aiortc encoder.
        (session,) = vms.server.webrtc.sessions.values()
        for transceiver in session.pc.getTransceivers():
            encoder = getattr(transceiver.sender, "_RTCRtpSender__encoder", None)
            assert isinstance(encoder, PrepackedPacker)
            # ... and our own RTP loop sends them (aiortc's per-packet loop is bypassed).
            direct = getattr(transceiver.sender._run_rtp, "__self__", None)
            assert isinstance(direct, DirectRtpSender) and direct.sent_packets > 0
        assert all(track.sent > 0 for track in session.tracks)
    finally:
        child.stdin.write(b"\n")
        await child.stdin.drain()
        await asyncio.wait_for(child.wait(), 15)
    assert before == [] and seen == []
