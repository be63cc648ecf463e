"""NativeRtspSource: the native RTSP/TCP ingest source for H.264 cameras (AAC or G.711
audio).

It speaks RTSP and depacketizes RTP itself instead of running FFmpeg's RTSP demuxer.
Measured against that demuxer it halves recording CPU, and each picture is published when
its last RTP packet (marker bit) arrives instead of when the next one starts (FFmpeg's
H.264 parser holds every picture one frame interval: 40 ms of live-view latency at 25 fps).

Streams it does not handle (H.265, B-frames, no H.264 parameter sets) go to
``FFmpegSource``, for good, for that camera.
"""

from __future__ import annotations

import logging

from vms_core.media.ffmpeg_source import FFmpegSource
from vms_core.media.ingest import Ingest
from vms_core.media.native.connection import RtspConnection
from vms_core.media.native.session import NativeSession, UseFFmpeg

log = logging.getLogger(__name__)


class NativeRtspSource:
    """Receives RTSP/TCP natively (see the module docstring); one per ingest."""

    def __init__(self) -> None:
        # The connection being set up or read: stop() interrupts it, close() closes it.
        self._connection: RtspConnection | None = None
        # Set once the camera turns out to need FFmpeg's demuxer (never cleared).
        self._ffmpeg: FFmpegSource | None = None
        self._ffmpeg_reason: str | None = None

    @property
    def uses_ffmpeg(self) -> str | None:
        """Why this camera fell back to FFmpeg's demuxer, or None while native."""
        return self._ffmpeg_reason

    def pump(self, ingest: Ingest) -> bool:
        if self._ffmpeg is not None:
            return self._ffmpeg.pump(ingest)
        connection = RtspConnection(ingest.url, ingest.options.io_timeout)
        self._connection = connection
        if ingest.stopped.is_set():
            return False
        try:
            connection.open()
            medias = connection.describe()
            return NativeSession(ingest, connection, medias).run()
        except UseFFmpeg as exc:
            self._ffmpeg_reason = str(exc)
            log.info("%s: %s; using FFmpeg's RTSP demuxer", ingest.camera_id, exc)
            self._close_connection()
            self._ffmpeg = FFmpegSource()
            return self._ffmpeg.pump(ingest)

    def interrupt(self) -> None:
        connection = self._connection
        if connection is not None:
            connection.interrupt()  # a blocked read returns now, not at the I/O timeout

    def close(self) -> None:
        try:
            self._close_connection()
        finally:
            if self._ffmpeg is not None:
                self._ffmpeg.close()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
