"""One native RTSP/TCP connection of an ingest (``NativeRtspSource``): SETUP and PLAY the
H.264 track (and AAC or G.711 audio), then depacketize, date and publish each picture when
its last RTP packet (marker bit) arrives.

Until the stream is dated and audio aligned it reads packet by packet (both use arrival
times); then, for recording, the process's batch reader drains it on a timer.
"""

from __future__ import annotations

import contextlib
import logging
import time
from fractions import Fraction

from vms_core.media.ingest import MAX_HELD_PACKETS, Ingest, SourceError
from vms_core.media.native.batch_reader import batch_reader
from vms_core.media.native.connection import FrameHandler, RtspConnection, StreamEnded
from vms_core.media.native.depacketize import (
    AacDepacketizer,
    G711Depacketizer,
    H264Depacketizer,
)
from vms_core.media.native.templates import (
    Template,
    aac_config_fields,
    aac_template,
    g711_template,
    h264_template,
)
from vms_core.media.packet import MediaPacket, StreamKind
from vms_core.media.stream_info import StreamInfo, StreamSession
from vms_core.media.wallclock import MonotonicDts, WallClock
from vms_core.rtsp.codecs import (
    H264_NAL_PPS,
    H264_NAL_SPS,
    h264_nal_type,
    parameter_sets_from_fmtp,
)
from vms_core.rtsp.limits import shown
from vms_core.rtsp.rtp import sender_reports
from vms_core.rtsp.sdp import MAX_CHANNELS, MediaDesc

log = logging.getLogger(__name__)

VIDEO_RATE = 90000
# Move audio onto the sender-report alignment when arrival-based alignment was further off.
AUDIO_REALIGN_SECONDS = 0.02
# Read per packet at most this long after dating while waiting for the first audio frame.
AUDIO_WAIT_SECONDS = 2.0
# Sender reports that would put audio further than this from where its packets' arrival
# puts it are not a clock to trust (a camera's broken or hostile RTCP): arrival it is.
MAX_REPORT_SKEW_SECONDS = 5.0


class UseFFmpeg(Exception):
    """This stream needs FFmpeg's demuxer (the reason is logged once)."""


class Track:
    """Timestamp bookkeeping of one RTP stream: 32-bit extension, sender reports, and the
    shift that keeps DTS increasing."""

    __slots__ = ("dts", "last", "last_ext", "rate", "sr_ext", "sr_wall")

    def __init__(self, rate: int, step: int) -> None:
        self.rate = rate
        self.dts = MonotonicDts(step)
        self.last: int | None = None
        self.last_ext = 0
        self.sr_ext: int | None = None
        self.sr_wall = 0.0

    def peek(self, ts: int) -> int:
        """``ts`` extended without moving the reference (for sender reports)."""
        if self.last is None:
            return ts
        return self.last_ext + ((ts - self.last + 0x80000000) & 0xFFFFFFFF) - 0x80000000

    def extend(self, ts: int) -> int:
        """``ts`` extended past 32-bit wraps, relative to the previous one."""
        ext = self.peek(ts)
        self.last, self.last_ext = ts, ext
        return ext


class NativeSession:
    """One connection: SETUP, PLAY, then receive until stop or loss, publishing into the
    ingest's hub."""

    def __init__(self, ingest: Ingest, connection: RtspConnection, medias: list[MediaDesc]):
        self.ingest = ingest
        self.connection = connection
        self.video_media, self.audio_media = self._choose(medias)
        self.video = Track(VIDEO_RATE, 1)
        self.depacketizer = H264Depacketizer(self._video_unit)
        announced = parameter_sets_from_fmtp("H264", self.video_media.fmtp)
        self.sprop_sps = next((n for n in announced if h264_nal_type(n) == H264_NAL_SPS), None)
        self.sprop_pps = next((n for n in announced if h264_nal_type(n) == H264_NAL_PPS), None)
        self.audio: Track | None = None
        self.audio_config: bytes | None = None
        self.audio_depacketizer: AacDepacketizer | G711Depacketizer | None = None
        self.audio_offset: int | None = None
        self.audio_aligned_by_reports = False
        if self.audio_media is not None:
            self._prepare_audio(self.audio_media)
        self.started = False
        self.ref_seconds = 0.0
        self.clock: WallClock | None = None
        self.held: list[tuple[bytes, int, bool, bool, float]] = []  # data, pts, key, live, at
        self.session: StreamSession | None = None
        self.session_sps: bytes | None = None
        self.last_video = time.monotonic()
        self.dated_at = 0.0
        self.keepalive_every = 0.0  # from the session timeout, known after SETUP
        self.next_keepalive = 0.0
        self.bitrate_since = 0.0
        self.counted = 0

    def _choose(self, medias: list[MediaDesc]) -> tuple[MediaDesc, MediaDesc | None]:
        ingest = self.ingest
        videos = [m for m in medias if m.kind == "video"]
        if not videos:
            if ingest.last_session is not None:
                had = ingest.last_session.info.video_codec
                raise SourceError(f"camera came back without its {had} video track")
            raise SourceError("stream has no video track")
        h264 = [m for m in videos if m.encoding == "H264"]
        video = next((m for m in h264 if m.problem is None), None)
        if video is None:
            if h264:
                raise SourceError(f"SDP: {h264[0].problem}")
            raise UseFFmpeg(f"video is {videos[0].encoding or 'unknown'}, not H.264")
        for media in medias:
            if media.kind == "audio" and media.problem is not None:
                log.warning("%s: SDP: %s; audio not used", ingest.camera_id, media.problem)
        audio = next(
            (
                m
                for m in medias
                if m.kind == "audio"
                and m.problem is None
                and (
                    (m.encoding == "MPEG4-GENERIC" and "config" in m.fmtp)
                    or m.encoding in ("PCMU", "PCMA")
                )
            ),
            None,
        )
        return video, audio

    def _prepare_audio(self, media: MediaDesc) -> None:
        if media.encoding == "MPEG4-GENERIC":
            try:
                self.audio_config = bytes.fromhex(media.fmtp["config"])
                _type, _index, channels = aac_config_fields(self.audio_config)
                depacketizer = AacDepacketizer(self._audio_unit, media.fmtp)
            except ValueError as exc:
                log.warning(
                    "%s: AAC (config %r) unusable: %s; video only",
                    self.ingest.camera_id,
                    shown(media.fmtp.get("config", "")),
                    exc,
                )
                self.audio_media = None
                return
            media.channels = min(channels, MAX_CHANNELS) or media.channels
            self.audio_depacketizer = depacketizer
            self.audio = Track(media.clock_rate, 1024)
        else:
            self.audio_depacketizer = G711Depacketizer(self._audio_unit)
            self.audio = Track(media.clock_rate, 1)

    # -- connection ---------------------------------------------------------------------

    def run(self) -> bool:
        connection = self.connection
        connection.handlers[0] = self.depacketizer.packet
        connection.video_channel, connection.video = 0, self.depacketizer
        connection.handlers[1] = self._reports(self.video)
        connection.setup(self.video_media, 0)
        if self.audio_media is not None and self.audio_depacketizer is not None:
            assert self.audio is not None
            connection.handlers[2] = self.audio_depacketizer.packet
            connection.handlers[3] = self._reports(self.audio)
            connection.setup(self.audio_media, 2)
        connection.play()
        with contextlib.suppress(StreamEnded):  # end of stream: a disconnect like any other
            self._receive_until_stopped()
        return self.started

    def _receive_until_stopped(self) -> None:
        connection, ingest = self.connection, self.ingest
        self.keepalive_every = max(5.0, connection.session_timeout / 2)
        self.bitrate_since = time.monotonic()
        self.next_keepalive = self.bitrate_since + self.keepalive_every
        self.counted = connection.bytes_received
        interval = ingest.options.read_interval
        stop = ingest.stopped
        # Per packet until the stream is dated and audio aligned: both use arrival times.
        while not stop.is_set() and not (interval > 0 and self._settled()):
            connection.receive()
            self.check(time.monotonic())
        if not stop.is_set():
            connection.nonblocking()
            batch_reader(interval).serve(self)

    def tick(self, now: float) -> None:
        """The batch reader's turn: read all that arrived, then check timeouts."""
        if self.ingest.stopped.is_set():
            raise StreamEnded("stopped")
        self.connection.drain()
        self.check(now)

    def _settled(self) -> bool:
        if self.clock is None:
            return False
        if self.audio_media is None or self.audio_offset is not None:
            return True
        return time.monotonic() - self.dated_at > AUDIO_WAIT_SECONDS

    def check(self, now: float) -> None:
        """Timeouts, keep-alive and bitrate; called after each read (or batch of reads)."""
        io_timeout = self.ingest.options.io_timeout
        if now - self.last_video > io_timeout:
            why = f"no video for {io_timeout:g} s"
            dropped = self.depacketizer.dropped
            raise TimeoutError(f"{why} ({dropped})" if dropped else why)
        if now >= self.next_keepalive:
            self.next_keepalive = now + self.keepalive_every
            self.connection.send_keepalive()
        if now - self.bitrate_since >= 5.0:
            received = self.connection.bytes_received
            self.ingest.bitrate_bps = (received - self.counted) * 8 / (now - self.bitrate_since)
            self.counted, self.bitrate_since = received, now

    def _reports(self, track: Track) -> FrameHandler:
        def handle(mv: memoryview) -> None:
            for rtp_timestamp, wall in sender_reports(mv):
                track.sr_ext = track.peek(rtp_timestamp)
                track.sr_wall = wall

        return handle

    # -- video --------------------------------------------------------------------------

    def _video_unit(self, data: bytes, ts: int, keyframe: bool) -> None:
        self.last_video = time.monotonic()
        track = self.video
        previous = track.last_ext if track.last is not None else None
        ext = track.extend(ts)
        if previous is not None and previous - VIDEO_RATE < ext < previous:
            # A picture older than the one before: B-frames (RTP carries presentation
            # times; decode times would have to be derived).
            raise UseFFmpeg("the camera sends B-frames")
        if not self.started:
            if not keyframe:
                return  # recording starts on a keyframe
            self.started = True
            self.ref_seconds = ext / VIDEO_RATE
        pts = track.dts.repair(ext)
        clock = self.clock
        if clock is None:
            connection = self.connection
            self.held.append((data, pts, keyframe, connection.recv_live, connection.recv_time))
            self._date_if_live()
            return
        session = self.session
        assert session is not None
        sps = self.depacketizer.sps
        if keyframe and sps is not None and sps != self.session_sps:
            session = self._new_session(data)  # parameters changed in band: new files
        wall = clock.wall("video", pts / VIDEO_RATE)
        self.ingest.hub.publish(
            MediaPacket("video", data, pts, pts, _VIDEO_TB, keyframe, wall, session)
        )

    def _date_if_live(self) -> None:
        """Date the stream from the first picture that came off the wire live (not out of
        a backlog), once two pictures give the frame rate; then publish what was held."""
        held = self.held
        _data, pts, _key, live, arrived = held[-1]
        if len(held) < MAX_HELD_PACKETS and (len(held) < 2 or not live):
            return
        clock = WallClock(arrived - (pts / VIDEO_RATE - self.ref_seconds), self.ref_seconds)
        session = self._new_session(held[0][0])
        self.clock = clock
        self.ingest.mark_streaming()
        publish = self.ingest.hub.publish
        for data, pts, keyframe, _live, _at in held:
            wall = clock.wall("video", pts / VIDEO_RATE)
            publish(MediaPacket("video", data, pts, pts, _VIDEO_TB, keyframe, wall, session))
        held.clear()
        self.dated_at = time.monotonic()

    def _frame_rate(self) -> float | None:
        if self.video_media.framerate:
            return self.video_media.framerate
        if len(self.held) >= 2:
            ticks = self.held[1][1] - self.held[0][1]
            if ticks > 0:
                return round(VIDEO_RATE / ticks, 3)
        return self.session.info.fps if self.session is not None else None

    def _new_session(self, keyframe: bytes) -> StreamSession:
        sps = self.depacketizer.sps or self.sprop_sps
        pps = self.depacketizer.pps or self.sprop_pps
        if sps is None or pps is None:
            raise UseFFmpeg("no H.264 parameter sets in the SDP or the keyframe")
        video = h264_template(sps, pps, keyframe)
        context = video.stream.codec_context
        if not context.width or not context.height:
            raise ConnectionError("stream parameters incomplete (no picture size)")
        audio, audio_codec = self._audio_template()
        media = self.audio_media
        info = StreamInfo(
            video_codec="h264",
            width=context.width,
            height=context.height,
            fps=self._frame_rate(),
            audio_codec=audio_codec,
            audio_sample_rate=media.clock_rate if audio is not None and media else None,
            audio_channels=media.channels if audio is not None and media else None,
        )
        self.session_sps = sps
        templates: dict[StreamKind, object] = {"video": video.stream}
        if audio is not None:
            templates["audio"] = audio.stream
        holder = (video, audio)  # keeps the templates' containers alive
        self.session = self.ingest.new_session(info, templates, holder, self.audio_config)
        return self.session

    def _audio_template(self) -> tuple[Template | None, str | None]:
        media = self.audio_media
        if media is None:
            return None, None
        try:
            if media.encoding == "MPEG4-GENERIC" and self.audio_config is not None:
                return aac_template(self.audio_config, media.clock_rate, media.channels), "aac"
            template = g711_template(media.encoding, media.clock_rate, media.channels)
            return template, template.stream.codec_context.name
        except (ValueError, OSError) as exc:  # av errors are OSErrors
            log.warning(
                "%s: audio %s unusable (%s); video only", self.ingest.camera_id, media.encoding, exc
            )
            self.audio_media = None
            return None, None

    # -- audio --------------------------------------------------------------------------

    def _audio_unit(self, data: bytes, ts: int) -> None:
        clock, session, track = self.clock, self.session, self.audio
        if clock is None or session is None or track is None or self.audio_media is None:
            return  # audio starts with the first dated picture
        ext = track.extend(ts)
        rate = track.rate
        offset = self.audio_offset
        if not self.audio_aligned_by_reports:
            if offset is None:
                # Align by arrival, like the first picture, until sender reports say better.
                seconds = clock.ref + (self.connection.recv_time - clock.wall0)
                offset = round(seconds * rate) - ext
            by_reports = self._offset_from_reports()
            if by_reports is not None and abs(by_reports - offset) <= (
                MAX_REPORT_SKEW_SECONDS * rate
            ):
                if abs(by_reports - offset) > AUDIO_REALIGN_SECONDS * rate:
                    offset = by_reports
                self.audio_aligned_by_reports = True
            self.audio_offset = offset
        assert offset is not None
        pts = track.dts.repair(ext + offset)
        wall = clock.wall("audio", pts / rate)
        time_base = _AUDIO_TB.get(rate) or _AUDIO_TB.setdefault(rate, Fraction(1, rate))
        self.ingest.hub.publish(
            MediaPacket("audio", data, pts, pts, time_base, True, wall, session)
        )

    def _offset_from_reports(self) -> int | None:
        """Audio ticks to add so audio shares the video's timeline, from the two tracks'
        RTCP sender reports (the camera's common clock)."""
        video, audio = self.video, self.audio
        if audio is None or video.sr_ext is None or audio.sr_ext is None:
            return None
        video_seconds = (video.sr_ext + video.dts.shift) / VIDEO_RATE + (
            audio.sr_wall - video.sr_wall
        )
        return round(video_seconds * audio.rate) - audio.sr_ext


_VIDEO_TB = Fraction(1, VIDEO_RATE)
_AUDIO_TB: dict[int, Fraction] = {}
