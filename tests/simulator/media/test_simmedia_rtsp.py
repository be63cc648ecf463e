"""End to end: a simulated loop served by the project's RTSP server to a real client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import pytest

from tests.eventually import eventually
from vms_core.rtsp import RtspServer, RtspStream
from vms_core.simulator.media import (
    EncodedLoop,
    LoopPlayer,
    StreamDropper,
    expected_clock,
    parse_sei_send_time,
    read_clock_stripe,
    track_infos,
)

from .conftest import FPS, LOOP_SECONDS


@dataclass
class Served:
    server: RtspServer
    stream: RtspStream
    url: str


@pytest.fixture
async def served(h264_loop: EncodedLoop) -> AsyncIterator[Served]:
    server = RtspServer()
    await server.start()
    stream = server.add_stream("/cam1/main", track_infos(h264_loop))
    player = LoopPlayer(h264_loop, stream.publish)
    player.start()
    try:
        yield Served(server, stream, server.url("/cam1/main"))
    finally:
        await player.stop()
        await server.stop()


@dataclass
class Received:
    video_codec: str = ""
    audio_codec: str = ""
    audio_rate: int = 0
    size: tuple[int, int] = (0, 0)
    # (receive time, burned-in clock) per decoded picture; (receive, SEI send time) per packet.
    clocks: list[tuple[float, tuple[int, int] | None]] = field(default_factory=list)
    sends: list[tuple[float, float | None]] = field(default_factory=list)
    ended_at: float | None = None


def watch(url: str, pictures: int, got: Received | None = None) -> Received:
    """A blocking RTSP client (FFmpeg via PyAV): run it in a thread. ``got`` fills as it
    plays, for a test to watch."""
    got = got if got is not None else Received()
    options = {"rtsp_transport": "tcp", "timeout": "5000000"}
    with av.open(url, options=options, timeout=5) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        got.video_codec, got.audio_codec = video.codec_context.name, audio.codec_context.name
        got.audio_rate = audio.codec_context.sample_rate
        try:
            for packet in container.demux(video):
                if packet.size == 0:
                    continue
                now = time.time()
                got.sends.append((now, parse_sei_send_time(bytes(packet))))
                for frame in packet.decode():
                    got.size = (frame.width, frame.height)
                    got.clocks.append((now, read_clock_stripe(frame.to_ndarray(format="rgb24"))))
                if len(got.clocks) >= pictures:
                    break
        except av.error.FFmpegError:
            pass
        got.ended_at = time.time()
    return got


async def test_rtsp_client_sees_wall_clock_time_burned_in(served: Served) -> None:
    got = await asyncio.to_thread(watch, served.url, 40)
    assert (got.video_codec, got.audio_codec, got.audio_rate) == ("h264", "aac", 16000)
    assert got.size == (320, 180)
    assert len(got.clocks) == len(got.sends) >= 40
    for (_, clock), (_, sent) in zip(got.clocks, got.sends, strict=False):
        # Every picture carries its send time, and its burned-in clock is that wall time.
        assert sent is not None and clock is not None
        assert clock == expected_clock(sent, FPS, LOOP_SECONDS)
    # FFmpeg buffers while it probes the stream; once it has caught up, pictures arrive
    # within a fraction of a second of the wall time they show.
    for received, clock in got.clocks[-10:]:
        assert clock is not None
        seconds, frame = clock
        latency = (received - (seconds + frame / FPS)) % LOOP_SECONDS
        assert latency < 0.5
    assert all(0 <= received - sent < 0.5 for received, sent in got.sends[-10:] if sent)


async def raw_describe(served: Served) -> str:
    port = served.server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"DESCRIBE {served.url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
    status = (await reader.readline()).decode()
    writer.close()
    return status


async def test_dropper_disconnects_clients_and_refuses_them_while_down(served: Served) -> None:
    playing = Received()
    client = asyncio.create_task(asyncio.to_thread(watch, served.url, 10_000, playing))
    await eventually(lambda: playing.clocks, 10, 0.02, what="the client playing")
    dropper = StreamDropper(served.stream, every_s=1.6, down_s=0.8)
    started = time.time()
    dropper.start()
    got = await asyncio.wait_for(client, timeout=10)
    assert got.ended_at is not None
    # Dropped at every_s - down_s = 0.8 s, not before; the upper bound is a hang guard.
    assert 0.7 <= got.ended_at - started <= 4.0
    assert "503" in await raw_describe(served)
    await eventually(lambda: served.stream.available, 5, 0.05, what="the stream back")
    assert " 200 " in await raw_describe(served)
    await dropper.stop()
    assert dropper.drops >= 1 and served.stream.available
