"""Recordings built faster than real time, for tests that are not about real time.

A simulated camera's encoded loop is fed straight into the recorder's ``SegmentWriter``,
dated the way the live simulator dates it (unit ``j`` of loop run ``k`` at
``k * loop_seconds + offset_j`` seconds since the epoch, so the clock burned into each
picture is the wall clock's second of the minute), and the segments it reports are put in
the catalog as the recording service would. An hour of a small camera takes a few
seconds. What is built is what the recorder writes (fragmented MP4 from the same
writer), so playback and export read real recordings; only the RTSP hop and the real
passing of time are skipped. Real-time recording has its own tests (tests/media,
tests/recording).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vms_core.media.catalog import MemoryCatalog, SegmentRecord
from vms_core.media.native.templates import aac_template, h264_template
from vms_core.media.packet import MediaPacket, StreamKind
from vms_core.media.segment_writer import SegmentPolicy, SegmentWriter
from vms_core.media.stream_info import StreamInfo, StreamSession
from vms_core.simulator.config import CameraConfig
from vms_core.simulator.media import EncodedLoop
from vms_core.simulator.media.cache import load_or_encode
from vms_core.simulator.media.encoder import EncodedTrack
from vms_core.simulator.media_specs import loop_spec


@dataclass(frozen=True)
class Outage:
    """The camera sends nothing in [start, end) (seconds since the epoch)."""

    start: float
    end: float


def periodic_outages(begin: float, end: float, every_s: float, down_s: float) -> list[Outage]:
    """Down for ``down_s`` at the end of every ``every_s`` seconds, as the simulator's
    ``drop_every_s`` / ``down_s`` do."""
    found = []
    t = begin + every_s - down_s
    while t < end:
        found.append(Outage(t, t + down_s))
        t += every_s
    return found


def camera_loop(camera: CameraConfig, cache_dir: Path) -> EncodedLoop:
    """The camera's main-stream loop, from the shared cache (encoded once per run)."""
    return load_or_encode(loop_spec(camera, "main"), cache_dir)


class _Sessions:
    """A new ``StreamSession`` per connection, as an ingest makes one per connect."""

    def __init__(self, loop: EncodedLoop) -> None:
        self.loop = loop
        first_key = next(u for u in loop.video.units if u.keyframe)
        self._video = h264_template(
            loop.parameter_sets["sps"], loop.parameter_sets["pps"], first_key.data
        )
        self._audio = None
        self._audio_config: bytes | None = None
        if loop.audio is not None and loop.audio_config is not None:
            self._audio_config = bytes.fromhex(loop.audio_config)
            self._audio = aac_template(self._audio_config, loop.audio.clock_rate, 1)
        self.count = 0

    def new(self) -> StreamSession:
        self.count += 1
        video = self.loop.spec.video
        info = StreamInfo(
            "h264",
            video.width,
            video.height,
            float(video.fps),
            "aac" if self._audio is not None else None,
            self.loop.audio.clock_rate if self._audio is not None and self.loop.audio else None,
            1 if self._audio is not None else None,
        )
        templates: dict[StreamKind, object] = {"video": self._video.stream}
        if self._audio is not None:
            templates["audio"] = self._audio.stream
        holder = (self._video, self._audio)
        return StreamSession(self.count, info, templates, holder, self._audio_config)


def _units(
    kind: StreamKind, track: EncodedTrack, begin: float, end: float
) -> Iterator[tuple[float, StreamKind, int, bool, bytes]]:
    """(wall, kind, absolute ticks, keyframe, data) of every unit due in [begin, end)."""
    period_s = track.period_seconds
    k = int(begin // period_s)
    while True:
        for unit in track.units:
            wall = k * period_s + unit.pts / track.clock_rate
            if wall >= end:
                return
            if wall >= begin:
                yield wall, kind, k * track.period_ticks + unit.pts, unit.keyframe, unit.data
        k += 1


def record(
    loop: EncodedLoop,
    camera: str,
    recordings: Path,
    begin: float,
    end: float,
    *,
    segment_seconds: float,
    outages: Sequence[Outage] = (),
) -> list[SegmentRecord]:
    """Write ``camera``'s recording of [begin, end) into ``recordings`` as the recorder
    would, and return its segments."""
    catalog = MemoryCatalog()
    writer = SegmentWriter(
        camera, recordings, catalog, SegmentPolicy(segment_seconds=segment_seconds, fsync=False)
    )
    sessions = _Sessions(loop)
    tracks = [_units("video", loop.video, begin, end)]
    if loop.audio is not None and loop.audio_config is not None:
        tracks.append(_units("audio", loop.audio, begin, end))
    down = sorted(outages, key=lambda o: o.start)
    next_down = 0  # units come in time order: the outages are walked once
    session: StreamSession | None = None
    base: dict[StreamKind, int] = {}
    for wall, kind, ticks, keyframe, data in heapq.merge(*tracks, key=lambda u: u[0]):
        while next_down < len(down) and down[next_down].end <= wall:
            next_down += 1
        if next_down < len(down) and down[next_down].start <= wall:
            if session is not None:
                writer.stream_ended()
                session = None
            continue
        if session is None:
            if kind != "video" or not keyframe:
                continue  # a new connection starts on a keyframe, audio after it
            session, base = sessions.new(), {}
        rate = loop.video.clock_rate if kind == "video" else loop.audio.clock_rate  # type: ignore[union-attr]
        start_ticks = base.setdefault(kind, ticks)
        dts = ticks - start_ticks
        writer.write(MediaPacket(kind, data, dts, dts, Fraction(1, rate), keyframe, wall, session))
    writer.close()
    return catalog.segments(camera)
