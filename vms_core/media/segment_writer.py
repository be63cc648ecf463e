"""SegmentWriter: remuxes a camera's packets, without transcoding, into fragmented MP4.

Crash-safety order: a segment is announced to the catalog only after its first fragment
is written and fsynced and its directory entry is fsynced; progress is announced only for
fsynced fragments. A kill -9 then loses at most the fragment being written (0.75 s) and the
frame in flight: under a second.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import av

from vms_core.media.catalog import SegmentCatalog
from vms_core.media.packet import MediaPacket
from vms_core.media.stream_info import StreamSession

log = logging.getLogger(__name__)

# Audio codecs the MP4 muxer takes as they are. G.711 (pcm_mulaw/pcm_alaw) is refused by
# the mp4 muxer and by browsers; it is left out of the recording (see the media README).
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "flac"})
# A forward timestamp jump larger than this is a hole in the stream: start a new segment.
MAX_FORWARD_GAP_SECONDS = 5.0
# Errors of the disk, not of the stream: the camera is not being recorded until they pass.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})

# Told when the writer can no longer write (the reason) and when it writes again (None).
HealthCallback = Callable[[str | None], None]


@dataclass(frozen=True, slots=True)
class SegmentPolicy:
    segment_seconds: float = 60.0
    # Under a second lost to a kill -9 with a frame in flight and the fsync (1 s fragments lost
    # up to 1.14 s in 20 kills); the extra moof and fsync cost about nothing per camera.
    fragment_seconds: float = 0.75
    # Phase of the camera's rollover grid; None = derived from the camera id so that
    # cameras do not all roll over (open files, fsync directories) at the same instant.
    stagger_seconds: float | None = None
    fsync: bool = True


def segment_path(recordings: Path, camera_id: str, start: datetime) -> Path:
    """``<recordings>/<camera>/<YYYY-MM-DD>/<HH>/<YYYYMMDDTHHMMSS.mmmZ>.mp4`` (UTC)."""
    utc = start.astimezone(UTC)
    name = utc.strftime("%Y%m%dT%H%M%S.") + f"{utc.microsecond // 1000:03d}Z.mp4"
    return recordings / camera_id / utc.strftime("%Y-%m-%d") / utc.strftime("%H") / name


def parse_segment_name(name: str) -> datetime | None:
    """Start time encoded in a segment file name, or None if it is not one of ours."""
    try:
        stamp = datetime.strptime(name.removesuffix(".mp4"), "%Y%m%dT%H%M%S.%fZ")
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC)


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_fragments_end(file: BinaryIO) -> int:
    """Offset just after the last complete top-level MP4 box, a ``moof`` not counting
    without its ``mdat``: what a fragmented MP4 cut off mid-write can be truncated to and
    still play."""
    keep = offset = 0
    while True:
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            return keep
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:16])[0]
        if size < 8 or offset + size > os.fstat(file.fileno()).st_size:
            return keep  # the box being written when the disk failed
        offset += size
        if kind != b"moof":  # a moof counts with its mdat, not alone
            keep = offset


class _Track:
    """One output stream of a segment, with its timestamp bookkeeping in its own ticks."""

    __slots__ = ("base", "last_dts", "max_step", "stream")

    def __init__(self, stream: Any, base: int, max_step: int) -> None:
        self.stream = stream
        self.base = base  # the segment's first keyframe, in this track's time base
        self.max_step = max_step
        self.last_dts = -1


class _Segment:
    """One open output file."""

    def __init__(
        self, path: Path, session: StreamSession, first: MediaPacket, policy: SegmentPolicy
    ) -> None:
        self.path = path
        self.start_wall = first.wall
        self.last_wall = first.wall
        self.end_wall = first.wall
        self.codec = session.info.video_codec
        self.announced = False
        self.synced_size = 0
        self.last_sync_wall = first.wall
        created = _make_dirs(path.parent)
        # Create the file ourselves: FFmpeg opens it lazily, we need the fd to fsync.
        self.fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        frag_us = str(int(policy.fragment_seconds * 1_000_000))
        self.container: Any = av.open(
            str(path),
            "w",
            format="mp4",
            options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "frag_duration": frag_us,
                "flush_packets": "1",
            },
        )
        if policy.fsync:
            for directory in created:
                _fsync_dir(directory.parent)
            _fsync_dir(path.parent)
        self.video = self.container.add_stream_from_template(session.templates["video"])
        self.audio: Any = None
        audio_template = session.templates.get("audio")
        if audio_template is not None and session.info.audio_codec in MP4_AUDIO_CODECS:
            self.audio = self.container.add_stream_from_template(audio_template)
            if session.audio_config is not None:
                self.audio.codec_context.extradata = session.audio_config
        # Rebase every track on the first keyframe so the file starts at zero.
        self.base_seconds = float(first.dts * first.time_base)
        self.tracks: dict[str, _Track] = {}

    def add_track(self, packet: MediaPacket) -> _Track | None:
        stream = self.video if packet.kind == "video" else self.audio
        if stream is None:
            return None
        ticks_per_second = 1 / packet.time_base
        track = _Track(
            stream,
            round(self.base_seconds * ticks_per_second),
            int(MAX_FORWARD_GAP_SECONDS * ticks_per_second),
        )
        self.tracks[packet.kind] = track
        return track

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            os.close(self.fd)


def _make_dirs(directory: Path) -> list[Path]:
    """mkdir -p that returns the directories it created, outermost first."""
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    directory.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


class SegmentWriter:
    """Feed ``write(packet)`` from one thread; ``close()`` finishes the open segment."""

    def __init__(
        self,
        camera_id: str,
        recordings: Path,
        catalog: SegmentCatalog,
        policy: SegmentPolicy | None = None,
        on_health: HealthCallback | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.on_health = on_health
        # Why nothing is being written now (the disk), None while recording works.
        self.failure: str | None = None
        self.recordings = recordings
        self.catalog = catalog
        self.policy = policy or SegmentPolicy()
        length = self.policy.segment_seconds
        stagger = self.policy.stagger_seconds
        if stagger is None:
            stagger = (zlib.crc32(camera_id.encode()) % 1000) / 1000 * length
        self._phase = stagger % length
        self._segment: _Segment | None = None
        self._session: StreamSession | None = None
        self._cut_wall = 0.0
        self._waiting_for_keyframe = True
        self.segments_written = 0
        self.errors = 0

    # -- feeding ------------------------------------------------------------------------

    def write(self, packet: MediaPacket) -> None:
        if packet.session is not self._session:
            # New connection: new codec parameters and timestamp base.
            self._finish(None)
            self._session = packet.session
            self._waiting_for_keyframe = True
        segment = self._segment
        is_video = packet.kind == "video"
        if is_video and packet.keyframe:
            if segment is None or packet.wall >= self._cut_wall:
                segment = self._rollover(packet)
        elif segment is None:
            return  # waiting for a keyframe
        if segment is None:
            return
        try:
            self._mux(segment, packet)
        except (av.FFmpegError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                self._disk_failed(f"cannot write {segment.path.name}: {exc.strerror or exc}")
                self._finish(None)
                return
            # Timestamps jumped (or the muxer refused a packet): close the segment rather
            # than feed the muxer non-monotonic DTS; restart here if this is a keyframe.
            log.warning("%s: %s; starting a new segment", self.camera_id, exc)
            self.errors += 1
            self._finish(None)
            if not (is_video and packet.keyframe):
                return
            segment = self._rollover(packet)
            if segment is None:
                return
            try:
                self._mux(segment, packet)
            except (av.FFmpegError, ValueError):
                self._finish(None)
                return
        if is_video:
            segment.end_wall = packet.wall
            if packet.keyframe or packet.wall - segment.last_sync_wall >= 1.0:
                try:
                    self._sync(segment, packet.wall)
                except OSError as exc:
                    self._disk_failed(f"cannot write {segment.path.name}: {exc.strerror or exc}")
                    self._finish(None)

    def _disk_failed(self, reason: str) -> None:
        """Recording stopped for a reason of the disk: said once (state and log), not for
        every keyframe that tries again."""
        if self.failure is None:
            log.warning("%s: not recording: %s", self.camera_id, reason)
            self.failure = reason
            if self.on_health is not None:
                self.on_health(reason)

    def _disk_recovered(self) -> None:
        if self.failure is not None:
            log.warning("%s: recording again", self.camera_id)
            self.failure = None
            if self.on_health is not None:
                self.on_health(None)

    def _mux(self, segment: _Segment, packet: MediaPacket) -> None:
        track = segment.tracks.get(packet.kind)
        if track is None:
            track = segment.add_track(packet)
            if track is None:
                return
        dts = packet.dts - track.base
        last = track.last_dts
        if dts <= last:
            if packet.kind == "audio":
                return  # audio from before the cut, or a duplicate: harmless to skip
            raise ValueError(f"non-monotonic video dts {packet.dts}")
        if dts - last > track.max_step and last >= 0 and packet.kind == "video":
            raise ValueError(f"video timestamps jump {float((dts - last) * packet.time_base)}s")
        track.last_dts = dts
        # References the demuxer's buffer (buffer protocol): no copy.
        out = av.Packet(packet.data)  # type: ignore[arg-type]
        out.stream = track.stream
        out.time_base = packet.time_base
        out.dts = dts
        out.pts = packet.pts - track.base
        out.is_keyframe = packet.keyframe
        segment.container.mux_one(out)

    # -- segments -----------------------------------------------------------------------

    def _next_cut(self, start_wall: float, first: bool) -> float:
        """Cut at the first keyframe one segment length after the start. The first segment
        of a connection instead ends on this camera's rollover grid (phase = stagger), so
        that cameras started together do not all roll over at the same instant."""
        length = self.policy.segment_seconds
        if not first:
            cut = start_wall + length
        else:
            earliest = start_wall + length / 2
            cut = math.ceil((earliest - self._phase) / length) * length + self._phase
        return cut - 0.002  # RTP jitter: a keyframe a tick early still counts

    def _rollover(self, keyframe: MediaPacket) -> _Segment | None:
        first = self._segment is None
        self._finish(keyframe.wall)
        assert self._session is not None
        path = segment_path(self.recordings, self.camera_id, _utc(keyframe.wall))
        try:
            self._segment = _Segment(path, self._session, keyframe, self.policy)
        except OSError as exc:
            self.errors += 1
            self._segment = None
            self._disk_failed(f"cannot open segment {path.name}: {exc.strerror or exc}")
            return None
        except (av.FFmpegError, ValueError) as exc:
            log.error("%s: cannot open segment %s: %s", self.camera_id, path, exc)
            self.errors += 1
            self._segment = None
            return None
        self._cut_wall = self._next_cut(keyframe.wall, first)
        return self._segment

    def _sync(self, segment: _Segment, wall: float) -> None:
        size = segment.size()
        if size == segment.synced_size:
            return
        if self.policy.fsync:
            os.fsync(segment.fd)
        segment.synced_size = size
        segment.last_sync_wall = wall
        if not segment.announced:
            segment.announced = True
            self.catalog.segment_opened(
                self.camera_id, segment.path, _utc(segment.start_wall), segment.codec
            )
            self._disk_recovered()
        else:
            self.catalog.segment_progress(self.camera_id, segment.path, _utc(wall), size)

    def _finish(self, end_wall: float | None) -> None:
        """Close the open segment; it ends where the next one starts (``end_wall``) or,
        when the stream stopped, one frame after its last video packet."""
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            segment.close()
        except (av.FFmpegError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                # Its last fragment is cut off: _cut_back keeps the whole ones.
                self._disk_failed(f"cannot write {segment.path.name}: {exc.strerror or exc}")
            else:
                log.warning("%s: closing %s failed: %s", self.camera_id, segment.path, exc)
            self.errors += 1
        if end_wall is None:
            fps = self._session.info.fps if self._session else None
            end_wall = segment.end_wall + (1 / fps if fps else 0.0)
        if segment.path.exists():
            end_wall = self._cut_back(segment, end_wall)
        size = segment.path.stat().st_size if segment.path.exists() else 0
        if self.policy.fsync and size:
            fd = os.open(segment.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            except OSError as exc:  # what is on disk still counts; reconciliation checks it
                log.warning("%s: fsync of %s failed: %s", self.camera_id, segment.path, exc)
            finally:
                os.close(fd)
        if not segment.announced:
            if size == 0:
                segment.path.unlink(missing_ok=True)
                return
            self.catalog.segment_opened(
                self.camera_id, segment.path, _utc(segment.start_wall), segment.codec
            )
        self.segments_written += 1
        self.catalog.segment_closed(
            self.camera_id, segment.path, _utc(segment.start_wall), _utc(end_wall), size
        )

    def _cut_back(self, segment: _Segment, end_wall: float) -> float:
        """Cut the file back to its last complete fragment if its tail is cut off (the disk
        failed while a fragment was written: FFmpeg does not always say so) and return the
        real end of what is left; a file left with no media ends where it starts."""
        from vms_core.media.reconcile import probe_segment  # imports this module

        try:
            with open(segment.path, "rb") as file:
                keep = complete_fragments_end(file)
                if keep == os.fstat(file.fileno()).st_size:
                    return end_wall  # whole
            os.truncate(segment.path, keep)
        except OSError as exc:
            log.warning("%s: cannot check the end of %s: %s", self.camera_id, segment.path, exc)
            return end_wall
        why = "its last fragment was cut off"
        with contextlib.suppress(OSError):
            if os.statvfs(segment.path.parent).f_bavail == 0:
                why = os.strerror(errno.ENOSPC)
        self._disk_failed(f"cannot write {segment.path.name}: {why}")
        found = probe_segment(segment.path, self.camera_id, _utc(segment.start_wall))
        return found.end.timestamp() if found is not None else segment.start_wall

    def stream_ended(self) -> None:
        """The connection ended: close the segment now rather than when the camera
        comes back, so the catalog does not show an open segment through an outage."""
        self.close()

    def close(self) -> None:
        self._finish(None)
        self._session = None
