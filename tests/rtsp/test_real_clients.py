"""The server against real clients: Debian's ffprobe/ffmpeg and PyAV."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av
import pytest

from tests.eventually import eventually
from vms_core.rtsp import Credentials, RtspServer

from .clips import Clip, publishing
from .rawclient import RawRtspClient
from .tools import ffprobe, run_tool

FAST_PROBE = ("-analyzeduration", "1000000")


def probe_duration(path: Path) -> float:
    import subprocess

    out = subprocess.run(
        ["/usr/bin/ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffprobe_sees_h264_and_aac(
    rtsp_server: RtspServer, h264_clip: Clip, transport: str
) -> None:
    stream = rtsp_server.add_stream("cam1/main", h264_clip.tracks)
    async with publishing(stream, h264_clip):
        result = await ffprobe(rtsp_server.url("cam1/main"), transport, *FAST_PROBE)
    assert result.returncode == 0, result.stderr
    video, audio = result.json()["streams"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 180)
    assert video["r_frame_rate"] == "10/1"
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)


async def test_ffprobe_sees_h265_and_pcmu(rtsp_server: RtspServer, h265_clip: Clip) -> None:
    stream = rtsp_server.add_stream("/cam2/sub/", h265_clip.tracks)
    async with publishing(stream, h265_clip):
        result = await ffprobe(rtsp_server.url("cam2/sub"), "tcp", *FAST_PROBE)
    assert result.returncode == 0, result.stderr
    video, audio = result.json()["streams"]
    assert (video["codec_name"], video["width"], video["height"]) == ("hevc", 320, 180)
    assert video["r_frame_rate"] == "10/1"
    assert (audio["codec_name"], audio["sample_rate"]) == ("pcm_mulaw", "8000")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffmpeg_copies_three_seconds(
    rtsp_server: RtspServer, h264_clip: Clip, tmp_path: Path, transport: str
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    out = tmp_path / "copy.mp4"
    async with publishing(stream, h264_clip):
        result = await run_tool(
            "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
            *FAST_PROBE, "-i", rtsp_server.url("cam"), "-c", "copy", "-t", "3", str(out),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert abs(probe_duration(out) - 3.0) <= 0.5


async def test_digest_only_stream_works_with_ffprobe_and_rejects_wrong_password(
    rtsp_server: RtspServer, h264_clip: Clip
) -> None:
    credentials = Credentials("operator", "s3cret", schemes=("digest",))
    stream = rtsp_server.add_stream("secure", h264_clip.tracks, credentials)
    url = rtsp_server.url("secure")
    async with publishing(stream, h264_clip):
        good = await ffprobe(url.replace("rtsp://", "rtsp://operator:s3cret@"), "tcp", *FAST_PROBE)
        bad = await ffprobe(url.replace("rtsp://", "rtsp://operator:wrong@"), "tcp", *FAST_PROBE)
        anonymous = await ffprobe(url, "tcp", *FAST_PROBE)
    assert good.returncode == 0, good.stderr
    assert good.json()["streams"][0]["codec_name"] == "h264"
    assert bad.returncode != 0 and "401" in bad.stderr
    assert anonymous.returncode != 0 and "401" in anonymous.stderr


async def test_two_ffmpeg_clients_at_once(
    rtsp_server: RtspServer, h264_clip: Clip, tmp_path: Path
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")

    async def read(name: str, transport: str) -> Path:
        out = tmp_path / name
        result = await run_tool(
            "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
            *FAST_PROBE, "-i", url, "-c", "copy", "-t", "2", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return out

    async with publishing(stream, h264_clip):
        readers = asyncio.gather(read("a.mp4", "tcp"), read("b.mp4", "udp"))
        await eventually(lambda: stream.client_count == 2, 5, 0.05)
        outputs = await readers
    for out in outputs:
        assert abs(probe_duration(out) - 2.0) <= 0.5
    await eventually(lambda: stream.client_count == 0, 5, 0.05)


async def test_vanishing_and_garbage_clients_do_not_disturb_a_reader(
    rtsp_server: RtspServer, h264_clip: Clip, tmp_path: Path
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    out = tmp_path / "steady.mp4"
    async with publishing(stream, h264_clip):
        reader = asyncio.create_task(
            run_tool(
                "/usr/bin/ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                *FAST_PROBE,
                "-i",
                url,
                "-c",
                "copy",
                "-t",
                "3",
                str(out),
            )
        )
        await eventually(lambda: stream.client_count == 1, 5, 0.05)
        for _ in range(3):
            quitter = await RawRtspClient.connect(rtsp_server.port)
            await quitter.play_tcp(url, tracks=2)
            await asyncio.sleep(0.3)
            quitter.writer.transport.abort()  # vanish without TEARDOWN
            garbage = await RawRtspClient.connect(rtsp_server.port)
            garbage.writer.write(b"\x00\xffNOT RTSP AT ALL\r\n\r\n")
            half = await RawRtspClient.connect(rtsp_server.port)
            half.writer.write(b"DESCRIBE " + url.encode() + b" RTSP/1.0\r\nCSe")
            half.writer.transport.abort()  # disconnect mid-request
            await garbage.close()
        result = await reader
    assert result.returncode == 0, result.stderr
    assert abs(probe_duration(out) - 3.0) <= 0.5
    await eventually(lambda: not stream.sessions, 5, 0.05)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_disconnect_all_ends_a_running_ffmpeg(
    rtsp_server: RtspServer, h264_clip: Clip, transport: str
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    async with publishing(stream, h264_clip):
        reader = asyncio.create_task(
            run_tool(
                "/usr/bin/ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-rtsp_transport",
                transport,
                *FAST_PROBE,
                "-i",
                rtsp_server.url("cam"),
                "-c",
                "copy",
                "-f",
                "null",
                "-",
                timeout=8,
            )
        )
        await eventually(lambda: stream.client_count == 1, 5, 0.05)
        await asyncio.sleep(0.5)  # ffmpeg copies a while before the server hangs up
        stream.disconnect_all()
        await reader  # raises TimeoutError (8 s) if ffmpeg kept running
        assert stream.client_count == 0


async def test_unavailable_stream_refuses_ffprobe_then_recovers(
    rtsp_server: RtspServer, h264_clip: Clip
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    async with publishing(stream, h264_clip):
        stream.available = False
        refused = await ffprobe(rtsp_server.url("cam"), "tcp", *FAST_PROBE)
        stream.available = True
        accepted = await ffprobe(rtsp_server.url("cam"), "tcp", *FAST_PROBE)
    assert refused.returncode != 0 and "503" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr


def read_packets_with_pyav(url: str, video_count: int) -> list[tuple[str, int | None, bool]]:
    packets: list[tuple[str, int | None, bool]] = []
    options = {"rtsp_transport": "tcp", "analyzeduration": "1000000", "timeout": "5000000"}
    with av.open(url, options=options, timeout=5) as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            packets.append((packet.stream.type, packet.pts, packet.is_keyframe))
            if sum(1 for p in packets if p[0] == "video") >= video_count:
                break
    return packets


async def test_pyav_reads_packets_with_pts(rtsp_server: RtspServer, h264_clip: Clip) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    async with publishing(stream, h264_clip):
        packets = await asyncio.to_thread(read_packets_with_pyav, rtsp_server.url("cam"), 15)
    video = [p for p in packets if p[0] == "video"]
    assert video[0][2], "video starts at a keyframe"
    # FFmpeg's H.264 parser leaves the very first frame of an RTSP session without pts
    # (seen with cameras too); every later packet has one, increasing.
    pts = [p[1] for p in video[1:]]
    assert all(value is not None for value in pts)
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert any(p[0] == "audio" and p[1] is not None for p in packets)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffmpeg_keepalives_hold_a_short_timeout_session(
    h264_clip: Clip, tmp_path: Path, transport: str
) -> None:
    server = RtspServer(session_timeout_s=2.0)
    await server.start()
    try:
        stream = server.add_stream("cam", h264_clip.tracks)
        out = tmp_path / "long.mp4"
        async with publishing(stream, h264_clip):
            result = await run_tool(
                "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
                *FAST_PROBE, "-i", server.url("cam"), "-c", "copy", "-t", "3.5", str(out),
            )  # fmt: skip
    finally:
        await server.stop()
    assert result.returncode == 0, result.stderr
    assert abs(probe_duration(out) - 3.5) <= 0.5
