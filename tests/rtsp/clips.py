"""Tiny test clips made with ffmpeg, read into access units with PyAV, and a real-time
publisher that loops them into an RtspStream the way the simulator does."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.bitstream

from vms_core.rtsp import AccessUnit, RtspStream, TrackInfo
from vms_core.rtsp.codecs import aac_fmtp, h264_fmtp, h265_fmtp

WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10, 4
PCMU_FRAME_BYTES = 160  # 20 ms at 8 kHz


@dataclass(frozen=True)
class ClipUnit:
    track: int
    data: bytes
    timestamp: int  # in the track's clock rate, from 0
    seconds: float
    keyframe: bool


@dataclass(frozen=True)
class Clip:
    tracks: list[TrackInfo]
    units: list[ClipUnit]  # sorted by time
    period_s: float


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["/usr/bin/ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
    )


def _video_units(path: Path, bsf: str, track: int) -> list[ClipUnit]:
    units: list[ClipUnit] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        annexb = av.bitstream.BitStreamFilterContext(bsf, stream)
        for packet in container.demux(stream):
            for out in annexb.filter(packet):
                pts = out.pts if out.pts is not None else 0
                seconds = float(pts * stream.time_base)
                units.append(
                    ClipUnit(track, bytes(out), round(seconds * 90000), seconds, out.is_keyframe)
                )
    return units


def _aac_units(path: Path, track: int) -> tuple[list[ClipUnit], bytes, int, int]:
    units: list[ClipUnit] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        channels = stream.codec_context.channels
        config = bytes(stream.codec_context.extradata or b"")
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            seconds = float(packet.pts * stream.time_base)
            units.append(ClipUnit(track, bytes(packet), round(seconds * rate), seconds, True))
    return units, config, rate, channels


def make_h264_aac_clip(directory: Path) -> Clip:
    path = directory / "h264_aac.mp4"
    _ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}"),
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
        *("-t", str(SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS)),
        *("-keyint_min", str(FPS), "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-b:a", "64k", "-ac", "2", str(path)),
    )
    video = _video_units(path, "h264_mp4toannexb", 0)
    audio, config, rate, channels = _aac_units(path, 1)
    tracks = [
        TrackInfo(
            "video",
            "H264",
            90000,
            fmtp=h264_fmtp(video[0].data),
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
        ),
        TrackInfo("audio", "MPEG4-GENERIC", rate, channels=channels, fmtp=aac_fmtp(config)),
    ]
    return _clip(tracks, video + audio)


def make_h265_pcmu_clip(directory: Path) -> Clip:
    path = directory / "h265.mkv"
    _ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}"),
        *("-t", str(SECONDS), "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-x265-params", f"keyint={FPS}:min-keyint={FPS}:bframes=0:log-level=error"),
        str(path),
    )
    raw = directory / "tone.ulaw"
    _ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", str(SECONDS)),
        *("-ar", "8000", "-ac", "1", "-f", "mulaw", str(raw)),
    )
    video = _video_units(path, "hevc_mp4toannexb", 0)
    samples = raw.read_bytes()
    audio = [
        ClipUnit(1, samples[offset : offset + PCMU_FRAME_BYTES], offset, offset / 8000, True)
        for offset in range(0, len(samples), PCMU_FRAME_BYTES)
    ]
    tracks = [
        TrackInfo(
            "video",
            "H265",
            90000,
            fmtp=h265_fmtp(video[0].data),
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
        ),
        TrackInfo("audio", "PCMU", 8000),
    ]
    return _clip(tracks, video + audio)


def _clip(tracks: list[TrackInfo], units: list[ClipUnit]) -> Clip:
    period = float(SECONDS)
    kept = [unit for unit in units if 0 <= unit.seconds < period]
    kept.sort(key=lambda unit: (unit.seconds, unit.track))
    assert kept[0].keyframe
    return Clip(tracks, kept, period)


async def publish_forever(stream: RtspStream, clip: Clip) -> None:
    """Publish the clip's units in real time, looping, with increasing timestamps."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    wall_start = time.time()
    rates = [track.clock_rate for track in clip.tracks]
    loop_index = 0
    while True:
        base = loop_index * clip.period_s
        for unit in clip.units:
            delay = start + base + unit.seconds - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            offset = round(Fraction(base) * rates[unit.track])
            stream.publish(
                AccessUnit(
                    track=unit.track,
                    data=unit.data,
                    timestamp=unit.timestamp + offset,
                    wallclock=wall_start + base + unit.seconds,
                    keyframe=unit.keyframe,
                )
            )
        loop_index += 1


@contextlib.asynccontextmanager
async def publishing(stream: RtspStream, clip: Clip) -> AsyncIterator[RtspStream]:
    task = asyncio.create_task(publish_forever(stream, clip))
    try:
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
