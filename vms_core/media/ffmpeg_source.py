"""FFmpegSource: an ingest source through PyAV's demuxer, for what the native RTSP client
does not take (H.265, B-frames, UDP, RTSPS, HTTP, MPEG-TS over TCP, files)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

from vms_core.media.aac import adts_header_length, audio_specific_config
from vms_core.media.ingest import (
    MAX_HELD_PACKETS,
    Ingest,
    LoginRefused,
    SourceError,
    StreamLost,
)
from vms_core.media.packet import MediaPacket, StreamKind
from vms_core.media.stream_info import StreamInfo, StreamSession
from vms_core.media.wallclock import MonotonicDts, WallClock

log = logging.getLogger(__name__)

# A packet the demuxer made us wait this long for arrived live (not from the probe buffer).
LIVE_WAIT = 0.004
# How long to watch live video before dating a stream: a few frames, whose earliest arrival
# (for its stream time) sets the date. It delays only when the first packets are handed on.
DATING_WINDOW = 0.3


class _NoPts:
    """Holds a first keyframe that arrived without timestamps until the next frame."""

    __slots__ = ("packet",)

    def __init__(self) -> None:
        self.packet: av.Packet[Any] | None = None


class FFmpegSource:
    """Demuxes the ingest's URL with PyAV (never decodes); one per ingest."""

    def __init__(self) -> None:
        self._container: Any = None
        # Grows after a probe that ended before the picture size was known (a camera that
        # sends audio first, or a loaded machine); back to the option once connected.
        self._analyzeduration: float | None = None
        self._bytes = 0
        self._bytes_since = time.monotonic()

    def pump(self, ingest: Ingest) -> bool:
        try:
            return self._pump(ingest)
        except (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError) as exc:
            raise LoginRefused(str(exc)) from exc
        except av.FFmpegError as exc:
            if isinstance(exc, OSError):
                raise  # the loop words it like any other OSError
            raise StreamLost(f"{type(exc).__name__}: {exc}") from exc

    def interrupt(self) -> None:
        """Nothing to do: FFmpeg's own I/O timeout ends a blocked read (``_open_options``)."""

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()

    def _probe_seconds(self, ingest: Ingest) -> float:
        return self._analyzeduration or ingest.options.analyzeduration

    def _open_options(self, ingest: Ingest) -> dict[str, str]:
        opts = ingest.options
        timeout_us = str(int(opts.io_timeout * 1_000_000))
        # FFmpeg's own timeout option, not av.open(timeout=): PyAV's interrupt callback
        # takes the GIL on every I/O check and doubles CPU at scale.
        result = {
            "probesize": str(opts.probesize),
            "analyzeduration": str(int(self._probe_seconds(ingest) * 1_000_000)),
        }
        if ingest.url.startswith(("rtsp://", "rtsps://")):
            result["rtsp_transport"] = opts.transport
            result["timeout"] = timeout_us
        elif ingest.url.startswith(("http://", "https://", "tcp://")):
            result["rw_timeout"] = timeout_us
        result.update(opts.extra)
        return result

    def _pump(self, ingest: Ingest) -> bool:
        container = av.open(ingest.url, "r", options=self._open_options(ingest))
        self._container = container
        session = self._new_session(ingest, container)
        video = container.streams.video[0]
        audio = container.streams.audio[0] if session.info.audio_codec else None
        kinds: dict[int, StreamKind] = {video.index: "video"}
        if audio is not None:
            kinds[audio.index] = "audio"
        streams = [video] if audio is None else [video, audio]
        strip_adts = session.audio_config is not None
        has_b_frames = bool(video.codec_context.has_b_frames) if video.codec_context else True
        frame_ticks = _frame_ticks(video)

        publish: Callable[[MediaPacket], None] = ingest.hub.publish
        if not ingest.url.startswith(("rtsp://", "rtsps://")):
            # Byte-stream sources (MPEG-TS over HTTP/TCP, files) flush a truncated last
            # frame when the connection drops: publish one packet late, drop the last.
            publish = _OnePacketLate(publish)
        stop = ingest.stopped
        wall0: float | None = None
        clock: WallClock | None = None
        ref_seconds = 0.0
        pending = _NoPts()
        started = False
        held: list[tuple[StreamKind, Any, int, int, Fraction, bool]] = []
        drained = False
        live_since: float | None = None  # when the first video packet came off the wire
        earliest: float | None = None  # least (arrival - stream time) of the held video
        returned = time.time()
        # FFmpeg re-bases RTSP timestamps on the first RTCP sender report (a step back).
        repairs = {"video": MonotonicDts(frame_ticks or 1), "audio": MonotonicDts(1)}
        for packet in container.demux(streams):
            if stop.is_set():
                return started
            pts = packet.pts
            dts = packet.dts
            if pts is None or dts is None:
                if packet.size == 0:
                    continue  # demuxer flush packet at end of stream
                if pts is None and dts is None:
                    # Keyframe without timestamps right after connecting: derive it from
                    # the next frame, which needs a stream without B-frames.
                    if kinds[packet.stream_index] == "video" and packet.is_keyframe:
                        pending.packet = None if has_b_frames else packet
                    continue
                pts = dts = pts if pts is not None else dts
            assert pts is not None and dts is not None
            kind = kinds[packet.stream_index]
            time_base: Fraction = packet.time_base
            repair = repairs[kind]
            dts = repair.repair(dts, packet.duration or 0)
            pts += repair.shift
            arrived = time.time()
            # The demuxer blocked for this packet: it came off the wire, not out of what
            # probing buffered during av.open. Only such a packet dates the stream.
            drained = drained or arrived - returned > LIVE_WAIT
            if not started:
                if kind == "video" and packet.is_keyframe:
                    ref_seconds = float(pts * time_base)
                elif kind == "video" and pending.packet is not None and frame_ticks:
                    first_pts = dts - frame_ticks
                    ref_seconds = float(first_pts * time_base)
                    held.append(("video", pending.packet, first_pts, first_pts, time_base, True))
                    pending.packet = None
                else:
                    returned = time.time()
                    continue  # recording starts on a video keyframe
                started = True
                self._bytes = 0
                self._bytes_since = time.monotonic()
                ingest.mark_streaming()
            self._bytes += packet.size
            data: av.Packet[Any] | bytes = packet
            if strip_adts and kind == "audio":
                raw = bytes(packet)
                data = raw[adts_header_length(raw) :]
            if wall0 is None:
                # Not dated yet: hold packets until video has arrived live for a moment,
                # then date them all from the video packet that arrived earliest for its
                # stream time (the server's clock, without the probe delay). Packets that
                # probing buffered arrive late for their time, and so does a live one read
                # late (a busy machine), so the earliest is the best estimate; one packet
                # alone, read while the CPU was elsewhere, dated a recording a second late.
                held.append((kind, data, pts, dts, time_base, packet.is_keyframe))
                if kind == "video":
                    offset = arrived - (float(pts * time_base) - ref_seconds)
                    earliest = offset if earliest is None else min(earliest, offset)
                    if drained and live_since is None:
                        live_since = arrived
                if earliest is not None and (
                    (live_since is not None and arrived - live_since >= DATING_WINDOW)
                    or len(held) >= MAX_HELD_PACKETS
                ):
                    wall0 = earliest
                    clock = WallClock(wall0, ref_seconds)
                    for item in held:
                        publish(MediaPacket(*item, clock.wall(item[0], item[2] * item[4]), session))
                    held.clear()
            else:
                assert clock is not None
                wall = clock.wall(kind, pts * time_base)
                publish(
                    MediaPacket(kind, data, pts, dts, time_base, packet.is_keyframe, wall, session)
                )
            now = time.monotonic()
            if now - self._bytes_since >= 5.0:
                ingest.bitrate_bps = self._bytes * 8 / (now - self._bytes_since)
                self._bytes = 0
                self._bytes_since = now
            returned = time.time()
        return started

    def _new_session(self, ingest: Ingest, container: Any) -> StreamSession:
        last = ingest.last_session
        if not container.streams.video:
            if last is not None:
                # It had video before: a camera that comes back audio-only is a fault to
                # show, not a recording to make.
                had = last.info.video_codec
                raise SourceError(f"camera came back without its {had} video track")
            raise SourceError("stream has no video track")
        previous = last.info.video_codec if last is not None else None
        if previous is not None and container.streams.video[0].codec_context is not None:
            now_codec = container.streams.video[0].codec_context.name
            if now_codec != previous:
                log.warning(
                    "%s: video codec changed %s -> %s", ingest.camera_id, previous, now_codec
                )
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        rate = video.average_rate or video.guessed_rate
        info = StreamInfo(
            video_codec=video.codec_context.name if video.codec_context else "unknown",
            width=video.codec_context.width or None if video.codec_context else None,
            height=video.codec_context.height or None if video.codec_context else None,
            fps=float(rate) if rate else None,
            audio_codec=audio.codec_context.name if audio and audio.codec_context else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio else None,
            audio_channels=audio.codec_context.channels if audio else None,
        )
        # "mov" accepts every codec a camera sends (incl. G.711) for the template copy.
        holder = av.open(io.BytesIO(), "w", format="mov")
        templates: dict[StreamKind, object] = {"video": holder.add_stream_from_template(video)}
        audio_config = None
        if audio is not None and info.audio_codec is not None:
            templates["audio"] = holder.add_stream_from_template(audio)
            if info.audio_codec == "aac" and not audio.codec_context.extradata:
                # ADTS source (MPEG-TS): MP4 needs raw frames and an AudioSpecificConfig.
                audio_config = audio_specific_config(
                    audio.codec_context.profile,
                    audio.codec_context.sample_rate,
                    audio.codec_context.channels,
                )
        if not info.width or not info.height:
            # Probing ended before the picture size was known (a loaded machine, a large
            # first keyframe): the MP4 muxer cannot write such a track. Try again, probing
            # longer.
            self._analyzeduration = min(
                max(2.0, ingest.options.analyzeduration), self._probe_seconds(ingest) * 2
            )
            raise ConnectionError("stream parameters incomplete (no picture size)")
        self._analyzeduration = ingest.options.analyzeduration
        return ingest.new_session(info, templates, holder, audio_config)


class _OnePacketLate:
    __slots__ = ("held", "publish")

    def __init__(self, publish: Callable[[MediaPacket], None]) -> None:
        self.publish = publish
        self.held: MediaPacket | None = None

    def __call__(self, packet: MediaPacket) -> None:
        held, self.held = self.held, packet
        if held is not None:
            self.publish(held)


def _frame_ticks(video: Any) -> int | None:
    rate = video.average_rate or video.guessed_rate
    if not rate or not video.time_base:
        return None
    return max(1, round(1 / (float(rate) * float(video.time_base))))
