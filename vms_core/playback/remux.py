"""Cut a time range out of recorded segments and remux it into one MP4, never re-encoding.

Shared by playback (fragmented MP4 streamed to a browser) and export (a plain MP4 file).
Blocking: run it in a thread.

Times: every segment file starts at media time 0 on its first keyframe (the writer rebases
its tracks there), and the catalog's ``start_us`` is the wall-clock time of that keyframe,
so a packet's wall time is ``start_us + dts * time_base``. The output starts at the
keyframe at or before the requested start, so its first frame is a picture a decoder can
show, and ends before the first video frame at or after the requested end.

Keyframes only (``keyframes_only=True``): every keyframe and nothing else, each lasting
until the next one, no audio. Fast forward and reverse in a browser seek through it: a
tenth of the bytes (at one keyframe in ten frames), and any position shows a whole picture
without decoding a GOP first.

Gaps between segments (the camera was down) are either skipped, so the media runs on
without a pause (playback: browsers stall on a hole in the timeline), or kept as a hole in
the timestamps, so media time is exactly wall time minus the start (export: the time line a
court sees is the real one; players hold the last picture through the hole).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vms_core.playback.boxes import BoundedFile, complete_length

log = logging.getLogger(__name__)

# Audio the MP4 muxer (and browsers) take as it is; the writer records no other.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "flac"})


@dataclass(frozen=True, slots=True)
class SourceSegment:
    """One recorded file and its catalog times (``end_us`` is None while it is written)."""

    path: Path
    start_us: int
    end_us: int | None


@dataclass(frozen=True, slots=True)
class Gap:
    start_us: int
    end_us: int


def gaps_between(segments: Iterable[SourceSegment], start_us: int, end_us: int) -> list[Gap]:
    """Holes in the recording inside [start_us, end_us), by the catalog's times."""
    gaps: list[Gap] = []
    previous_end: int | None = None
    for segment in segments:
        if previous_end is not None and segment.start_us > previous_end:
            lo, hi = max(previous_end, start_us), min(segment.start_us, end_us)
            if hi > lo:
                gaps.append(Gap(lo, hi))
        if segment.end_us is not None:
            previous_end = max(previous_end or segment.end_us, segment.end_us)
    return gaps


@dataclass(frozen=True, slots=True)
class Output:
    """Where the remuxed MP4 goes: a path, or a file object with ``write`` (streaming)."""

    target: str | Any
    format: str
    options: dict[str, str]


FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
FASTSTART = {"movflags": "+faststart"}


@dataclass
class RemuxResult:
    start_us: int | None = None  # wall time of the first picture written
    end_us: int | None = None  # wall time just after the last picture written
    video_frames: int = 0
    has_audio: bool = False
    codec: str = ""
    width: int = 0
    height: int = 0
    # Why the output ends before the requested end, when it does.
    stopped_early: str | None = None
    skipped: list[str] = field(default_factory=list)


class _Params:
    """Video parameters that must not change inside one output."""

    def __init__(self, stream: Any) -> None:
        ctx = stream.codec_context
        self.key = (ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))

    def describe(self) -> str:
        return f"{self.key[0]} {self.key[1]}x{self.key[2]}"


class _Writer:
    """The output container, opened on the first keyframe; keeps timestamps monotonic."""

    def __init__(self, output: Output, video: Any, audio: Any | None) -> None:
        self.container: Any = av.open(
            output.target, "w", format=output.format, options=output.options
        )
        self.video = self.container.add_stream_from_template(video)
        self.audio: Any = None
        if audio is not None:
            self.audio = self.container.add_stream_from_template(audio)
        self.last_dts: dict[str, int] = {}
        # Output media time (µs) just after the last picture of the range seen so far.
        self.media_end_us: int | None = None

    def mux(self, packet: Any, kind: str, shift_ticks: int) -> bool:
        stream = self.video if kind == "video" else self.audio
        if stream is None or packet.dts is None:
            return False
        dts = packet.dts + shift_ticks
        # Segments of one camera never overlap by design; if the catalog says otherwise,
        # drop what would go back in time rather than feed the muxer non-monotonic DTS.
        if dts < 0 or dts <= self.last_dts.get(kind, -1):
            return False
        self.last_dts[kind] = dts
        pts = dts if packet.pts is None else packet.pts + shift_ticks
        time_base = packet.time_base
        packet.stream = stream
        packet.time_base = time_base  # mux() rescales from the source's ticks
        packet.dts = dts
        packet.pts = pts
        self.container.mux(packet)
        return True

    def close(self, end_us: int | None = None) -> None:
        self.container.close()


class _KeyframeWriter(_Writer):
    """Keyframes only, each held until the next arrives so that it lasts until then: the
    output has no holes between pictures, which a browser would stall on."""

    def __init__(self, output: Output, video: Any) -> None:
        super().__init__(output, video, None)
        self._held: tuple[Any, int, Fraction] | None = None  # packet, shift, output start

    def mux(self, packet: Any, kind: str, shift_ticks: int) -> bool:
        if kind != "video" or not packet.is_keyframe or packet.dts is None:
            return False
        media = (packet.dts + shift_ticks) * packet.time_base
        if self._held is not None and media <= self._held[2]:
            return False  # back in time (overlapping segments): dropped, as _Writer does
        self._release(media)
        self._held = (packet, shift_ticks, media)
        return True

    def _release(self, until: Fraction) -> None:
        if self._held is None:
            return
        packet, shift_ticks, media = self._held
        self._held = None
        packet.duration = max(1, round((until - media) / packet.time_base))
        super().mux(packet, "video", shift_ticks)

    def close(self, end_us: int | None = None) -> None:
        """``end_us``: media time (µs) just after the range's last picture, where the last
        keyframe ends."""
        if self._held is not None:
            media = self._held[2]
            until = Fraction(end_us, 1_000_000) if end_us is not None else media
            self._release(max(until, media + self._held[0].time_base))
        super().close()


def remux_range(
    segments: list[SourceSegment],
    start_us: int,
    end_us: int,
    output: Output,
    *,
    keep_gaps: bool,
    keyframes_only: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RemuxResult:
    """Write [start_us, end_us) of ``segments`` (sorted by start) to ``output``; with
    ``keyframes_only``, its keyframes only (no audio).

    ``on_start(wall_us)`` is called with the wall time of the first picture before the
    output is opened; nothing is written (and the result's ``start_us`` is None) when the
    range holds no picture. ``on_progress(wall_us)`` is called at every keyframe.
    Exceptions from the output (a client gone away) propagate.
    """
    result = RemuxResult()
    writer: _Writer | None = None
    params: _Params | None = None
    skipped_us = 0  # gap time left out of the media so far (when gaps are skipped)
    previous_end_us: int | None = None
    try:
        for segment in segments:
            limit = complete_length(segment.path) if segment.path.exists() else 0
            if limit == 0:
                result.skipped.append(f"{segment.path.name}: no complete fragment")
                continue
            if previous_end_us is not None and not keep_gaps and writer is not None:
                skipped_us += max(0, segment.start_us - previous_end_us)
            with BoundedFile(segment.path, limit) as raw:
                try:
                    source: Any = av.open(raw, "r", format="mp4")
                except av.FFmpegError as exc:
                    result.skipped.append(f"{segment.path.name}: {exc}")
                    continue
                with source:
                    if not source.streams.video:
                        result.skipped.append(f"{segment.path.name}: no video track")
                        continue
                    video_in = source.streams.video[0]
                    audio_in = None
                    if not keyframes_only:
                        audio_in = next(
                            (
                                s
                                for s in source.streams.audio
                                if s.codec_context.name in MP4_AUDIO_CODECS
                            ),
                            None,
                        )
                    if params is not None and _Params(video_in).key != params.key:
                        result.stopped_early = (
                            f"the picture changed from {params.describe()} to "
                            f"{_Params(video_in).describe()} at {segment.path.name}"
                        )
                        break
                    state = _SegmentState(segment, video_in)
                    done = False
                    for packet in source.demux(*(s for s in (video_in, audio_in) if s is not None)):
                        if packet.dts is None:
                            continue
                        kind = "video" if packet.stream is video_in else "audio"
                        wall = state.wall_us(packet)
                        if kind == "video":
                            state.note_video(packet, wall)
                        if writer is None:
                            begin = state.buffer_until_start(packet, kind, wall, start_us)
                            if begin is None:
                                continue
                            if begin.wall_us >= end_us:
                                done = True
                                break
                            result.start_us = begin.wall_us
                            if on_start is not None:
                                on_start(begin.wall_us)
                            writer = (
                                _KeyframeWriter(output, video_in)
                                if keyframes_only
                                else _Writer(output, video_in, audio_in)
                            )
                            params = _Params(video_in)
                            result.has_audio = audio_in is not None
                            ctx = video_in.codec_context
                            result.codec, result.width, result.height = (
                                ctx.name,
                                ctx.width,
                                ctx.height,
                            )
                            for held_kind, held in begin.packets:
                                _write(
                                    writer,
                                    held,
                                    held_kind,
                                    state,
                                    result,
                                    skipped_us,
                                    begin.wall_us,
                                )
                            continue
                        if wall >= end_us:
                            if kind == "video":
                                done = True
                                break
                            continue
                        assert result.start_us is not None
                        _write(writer, packet, kind, state, result, skipped_us, result.start_us)
                        if kind == "video" and packet.is_keyframe and on_progress is not None:
                            on_progress(wall)
                    # Where this segment's pictures really end: the catalog's end, or
                    # later if the last picture lasts past it (never overlap the next).
                    ends = [e for e in (segment.end_us, state.video_end_us()) if e is not None]
                    previous_end_us = max(ends) if ends else None
                    if done:
                        break
    finally:
        if writer is not None:
            writer.close(writer.media_end_us)
    return result


@dataclass
class _Begin:
    wall_us: int
    packets: list[tuple[str, Any]]


class _SegmentState:
    """Timestamp bookkeeping for one input segment."""

    def __init__(self, segment: SourceSegment, video: Any) -> None:
        self.segment = segment
        rate = video.average_rate or video.guessed_rate
        self.frame_us = int(1_000_000 / float(rate)) if rate else 0
        # The catalog's start is the first picture's time. The recorder's files start that
        # picture at 0; other muxers may not (AAC priming shifts video), so read it.
        first = video.start_time
        self.base_us = round(float(first * video.time_base) * 1_000_000) if first else 0
        self.last_video_wall: int | None = None
        self.gop: list[tuple[str, Any]] = []
        self.gop_wall: int | None = None
        self._shift: dict[Any, int] = {}

    def wall_us(self, packet: Any) -> int:
        media_us = round(float(packet.dts * packet.time_base) * 1_000_000)
        return self.segment.start_us + media_us - self.base_us

    def note_video(self, packet: Any, wall: int) -> None:
        self.last_video_wall = wall

    def video_end_us(self) -> int | None:
        if self.last_video_wall is None:
            return None
        return self.last_video_wall + self.frame_us

    def buffer_until_start(self, packet: Any, kind: str, wall: int, start_us: int) -> _Begin | None:
        """Hold the GOP in progress until the first picture at or after ``start_us``; then
        the output begins at that GOP's keyframe (or at this packet, if it is one)."""
        if kind == "video":
            if packet.is_keyframe and (wall <= start_us or not self.gop):
                self.gop = [(kind, packet)]
                self.gop_wall = wall
            elif self.gop:
                self.gop.append((kind, packet))
            if wall >= start_us and self.gop_wall is not None:
                begin = _Begin(self.gop_wall, self.gop)
                self.gop = []
                return begin
        elif self.gop:
            self.gop.append((kind, packet))
        return None

    def shift_ticks(self, packet: Any, skipped_us: int, media_start_us: int) -> int:
        """Ticks to add to the packet's timestamps: segment start in output media time."""
        key = (packet.time_base, skipped_us, media_start_us)
        shift = self._shift.get(key)
        if shift is None:
            offset_us = self.segment.start_us - self.base_us - media_start_us - skipped_us
            shift = round(offset_us / 1_000_000 / float(packet.time_base))
            self._shift[key] = shift
        return shift


def _write(
    writer: _Writer,
    packet: Any,
    kind: str,
    state: _SegmentState,
    result: RemuxResult,
    skipped_us: int,
    media_start_us: int,
) -> None:
    written = writer.mux(packet, kind, state.shift_ticks(packet, skipped_us, media_start_us))
    if kind != "video":
        return
    if written:
        result.video_frames += 1
    # A keyframe-only output leaves the other pictures out, but its keyframes last over
    # them: the range ends where the full output would.
    if written or isinstance(writer, _KeyframeWriter):
        end = state.video_end_us()
        if end is not None:
            result.end_us = end
            writer.media_end_us = end - media_start_us - skipped_us
