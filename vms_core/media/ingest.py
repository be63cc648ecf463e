"""Ingest: one thread per camera stream that demuxes packets (never decodes) into a hub.

Reconnects with capped exponential backoff. End of stream counts as a disconnect: a
camera that goes away can end the RTSP demuxer as if the stream had finished.

States: ``connecting`` until the first stream, then ``streaming``; a failure is ``lost``
(it had streamed) or ``error``, and stays so through the reconnect attempts that fail
(their count is in the status; a new reason is reported, a new count at most every
``ATTEMPTS_REPORT_SECONDS``) until the camera streams again.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

import av

from vms_core.media.aac import adts_header_length, audio_specific_config
from vms_core.media.hub import StreamHub
from vms_core.media.packet import MediaPacket, StreamKind
from vms_core.media.stream_info import StreamInfo, StreamSession

log = logging.getLogger(__name__)


# A video timestamp step larger than this (or any step back) is a jump of the camera's
# clock, not a gap in the stream.
MAX_TIMESTAMP_STEP = 5.0
# A packet the demuxer made us wait this long for arrived live (not from the probe buffer).
LIVE_WAIT = 0.004
# Date the stream from the first video packet anyway after holding this many.
MAX_HELD_PACKETS = 200
# A camera that stays down reports its growing attempt count at most this often.
ATTEMPTS_REPORT_SECONDS = 60.0


class IngestState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    LOST = "lost"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class IngestStatus:
    state: IngestState
    since: float  # time.time() of the change
    reason: str | None = None
    # Failed connection attempts since the camera last streamed; on ``streaming``, those
    # it took to get there.
    attempts: int = 0


StateCallback = Callable[[str, IngestStatus], None]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    transport: str = "tcp"  # "tcp" or "udp" (RTSP only)
    io_timeout: float = 5.0  # seconds without data before the connection counts as lost
    # Retry soon and keep retrying often: recording must resume within 2 s of the camera
    # coming back (worst case: backoff_max + connect + one GOP), and a failed RTSP connect
    # to a camera that is down costs next to nothing.
    backoff_min: float = 0.2
    backoff_max: float = 0.5
    # Small probing keeps memory flat when many cameras open at once.
    probesize: int = 1024 * 1024
    analyzeduration: float = 1.0
    extra: tuple[tuple[str, str], ...] = ()
    # RTSP over TCP with H.264 is received natively (RtspIngest); False: FFmpeg's demuxer.
    native: bool = True
    # > 0: once streaming, read the socket every this many seconds, all that arrived at
    # once (native ingest). Recording does not mind the delay and saves CPU; live view
    # reads each packet as it arrives (0).
    read_interval: float = 0.0


class SourceError(Exception):
    """The source answered but is unusable (e.g. no video track): not a transient loss."""


class _NoPts:
    """Holds a first keyframe that arrived without timestamps until the next frame."""

    __slots__ = ("packet",)

    def __init__(self) -> None:
        self.packet: av.Packet[Any] | None = None


class Ingest:
    """Demuxes ``url`` into ``hub`` on its own thread until ``stop()``."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        hub: StreamHub,
        *,
        options: IngestOptions | None = None,
        on_state: StateCallback | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.hub = hub
        self.options = options or IngestOptions()
        self._on_state = on_state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = IngestStatus(IngestState.CONNECTING, time.time())
        self._reported_at = 0.0  # time.monotonic() of the last on_state call
        self._attempts = 0  # failed since the camera last streamed
        self._session: StreamSession | None = None
        self._sessions = 0
        self._bytes = 0
        self._bytes_since = time.monotonic()
        self.bitrate_bps: float | None = None
        self._container: Any = None
        # Grows after a probe that ended before the picture size was known (a camera that
        # sends audio first, or a loaded machine); back to the option once connected.
        self._analyzeduration = self.options.analyzeduration

    # -- public -------------------------------------------------------------------------

    @property
    def status(self) -> IngestStatus:
        return self._status

    @property
    def stream_info(self) -> StreamInfo | None:
        session = self._session
        return session.info if session else None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"ingest-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_state(IngestState.STOPPED)

    # -- thread -------------------------------------------------------------------------

    def _set_state(self, state: IngestState, reason: str | None = None, attempts: int = 0) -> None:
        status = self._status
        now = time.monotonic()
        if state == status.state:
            if reason == status.reason and attempts == status.attempts:
                return
            # Same state, new details: ``since`` stays when the state began. A new count
            # alone is reported now and then, not on every attempt.
            self._status = replace(status, reason=reason, attempts=attempts)
            if reason == status.reason and now - self._reported_at < ATTEMPTS_REPORT_SECONDS:
                return
        else:
            self._status = IngestStatus(state, time.time(), reason, attempts)
        self._reported_at = now
        if self._on_state is not None:
            try:
                self._on_state(self.camera_id, self._status)
            except Exception:
                log.exception("state callback failed for %s", self.camera_id)

    def _open_options(self) -> dict[str, str]:
        opts = self.options
        timeout_us = str(int(opts.io_timeout * 1_000_000))
        # FFmpeg's own timeout option, not av.open(timeout=): PyAV's interrupt callback
        # takes the GIL on every I/O check and doubles CPU at scale.
        result = {
            "probesize": str(opts.probesize),
            "analyzeduration": str(int(self._analyzeduration * 1_000_000)),
        }
        if self.url.startswith(("rtsp://", "rtsps://")):
            result["rtsp_transport"] = opts.transport
            result["timeout"] = timeout_us
        elif self.url.startswith(("http://", "https://", "tcp://")):
            result["rw_timeout"] = timeout_us
        result.update(opts.extra)
        return result

    def _run(self) -> None:
        backoff = self.options.backoff_min
        while not self._stop.is_set():
            if self._status.state not in (IngestState.LOST, IngestState.ERROR):
                self._set_state(IngestState.CONNECTING)
            streamed = False
            state, reason = IngestState.LOST, "end of stream"
            try:
                streamed = self._connect_and_pump()
                if self._stop.is_set():
                    break
            except SourceError as exc:
                state, reason = IngestState.ERROR, str(exc)
            except (av.FFmpegError, OSError) as exc:
                state = IngestState.LOST if self._session else IngestState.ERROR
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # keep the camera alive whatever happens
                log.exception("ingest %s failed", self.camera_id)
                state, reason = IngestState.ERROR, f"{type(exc).__name__}: {exc}"
            finally:
                self._close_container()
                self.hub.reset()
            self._attempts = 0 if streamed else self._attempts + 1
            self._set_state(state, reason, self._attempts)
            if streamed:
                backoff = self.options.backoff_min
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.options.backoff_max)

    def _close_container(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # closing a broken connection may fail; nothing to save
                log.debug("close failed for %s", self.camera_id, exc_info=True)

    def _connect_and_pump(self) -> bool:
        container = av.open(self.url, "r", options=self._open_options())
        self._container = container
        session = self._new_session(container)
        video = container.streams.video[0]
        audio = container.streams.audio[0] if session.info.audio_codec else None
        kinds: dict[int, StreamKind] = {video.index: "video"}
        if audio is not None:
            kinds[audio.index] = "audio"
        streams = [video] if audio is None else [video, audio]
        strip_adts = session.audio_config is not None
        has_b_frames = bool(video.codec_context.has_b_frames) if video.codec_context else True
        frame_ticks = _frame_ticks(video)

        publish: Callable[[MediaPacket], None] = self.hub.publish
        if not self.url.startswith(("rtsp://", "rtsps://")):
            # Byte-stream sources (MPEG-TS over HTTP/TCP, files) flush a truncated last
            # frame when the connection drops: publish one packet late, drop the last.
            publish = _OnePacketLate(publish)
        stop = self._stop
        wall0: float | None = None
        clock: _WallClock | None = None
        ref_seconds = 0.0
        pending = _NoPts()
        started = False
        held: list[tuple[StreamKind, Any, int, int, Fraction, bool]] = []
        drained = False
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
                self._mark_streaming()
            self._bytes += packet.size
            data: av.Packet[Any] | bytes = packet
            if strip_adts and kind == "audio":
                raw = bytes(packet)
                data = raw[adts_header_length(raw) :]
            if wall0 is None:
                # Not dated yet: hold packets until a video packet arrives live, then date
                # them all from its arrival (the server's clock, without the probe delay).
                held.append((kind, data, pts, dts, time_base, packet.is_keyframe))
                if kind == "video" and (drained or len(held) >= MAX_HELD_PACKETS):
                    wall0 = arrived - (float(pts * time_base) - ref_seconds)
                    clock = _WallClock(wall0, ref_seconds)
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
                self.bitrate_bps = self._bytes * 8 / (now - self._bytes_since)
                self._bytes = 0
                self._bytes_since = now
            returned = time.time()
        return started

    def _mark_streaming(self) -> None:
        self._bytes = 0
        self._bytes_since = time.monotonic()
        self._set_state(IngestState.STREAMING, None, self._attempts)

    def _new_session(self, container: Any) -> StreamSession:
        if not container.streams.video:
            if self._session is not None:
                # It had video before: a camera that comes back audio-only is a fault to
                # show, not a recording to make.
                had = self._session.info.video_codec
                raise SourceError(f"camera came back without its {had} video track")
            raise SourceError("stream has no video track")
        previous = self._session.info.video_codec if self._session is not None else None
        if previous is not None and container.streams.video[0].codec_context is not None:
            now_codec = container.streams.video[0].codec_context.name
            if now_codec != previous:
                log.warning("%s: video codec changed %s -> %s", self.camera_id, previous, now_codec)
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
        templates: dict[StreamKind, Any] = {"video": holder.add_stream_from_template(video)}
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
                max(2.0, self.options.analyzeduration), self._analyzeduration * 2
            )
            raise ConnectionError("stream parameters incomplete (no picture size)")
        self._analyzeduration = self.options.analyzeduration
        self._sessions += 1
        self._session = StreamSession(self._sessions, info, templates, holder, audio_config)
        return self._session


class MonotonicDts:
    """Per-track shift that keeps DTS increasing when the stream's clock steps back: the
    recording then goes on without a cut and without waiting for the next keyframe."""

    __slots__ = ("last", "shift", "step")

    def __init__(self, step: int) -> None:
        self.step = step  # ticks to put between a repeated or earlier DTS and the last
        self.shift = 0  # add it to the PTS too
        self.last: int | None = None

    def repair(self, dts: int, step: int = 0) -> int:
        """``dts`` shifted past the last one (``step`` ticks on, default ``self.step``)."""
        dts += self.shift
        last = self.last
        if last is not None and dts <= last:
            jump = last + (step or self.step) - dts
            self.shift += jump
            dts += jump
        self.last = dts
        return dts


class _WallClock:
    """Maps stream time to the server's wall clock: ``wall0`` at stream second ``ref``.

    A video timestamp step back or of more than MAX_TIMESTAMP_STEP re-anchors on the
    server clock so wall time stays monotonic (the writer then starts a new segment)."""

    __slots__ = ("last_video", "ref", "wall0")

    def __init__(self, wall0: float, ref: float) -> None:
        self.wall0 = wall0
        self.ref = ref
        self.last_video = 0.0

    def wall(self, kind: StreamKind, stream_time: Fraction | float) -> float:
        seconds = float(stream_time)
        wall = self.wall0 + seconds - self.ref
        if kind == "video":
            last = self.last_video
            if last and not last <= wall <= last + MAX_TIMESTAMP_STEP:
                self.wall0 = wall = max(time.time(), last)
                self.ref = seconds
            self.last_video = wall
        return wall


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
