"""Which source receives a camera: the native RTSP client for RTSP over TCP, FFmpeg's
demuxer for everything else."""

from __future__ import annotations

from vms_core.media.ffmpeg_source import FFmpegSource
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest, IngestOptions, Source, StateCallback
from vms_core.media.native.source import NativeRtspSource


def make_ingest(
    camera_id: str,
    url: str,
    hub: StreamHub,
    *,
    options: IngestOptions | None = None,
    on_state: StateCallback | None = None,
) -> Ingest:
    """The ingest for ``url``: native for RTSP over TCP, FFmpeg's demuxer otherwise."""
    opts = options or IngestOptions()
    native = url.startswith("rtsp://") and opts.transport == "tcp" and opts.native
    source: Source = NativeRtspSource() if native else FFmpegSource()
    return Ingest(camera_id, url, hub, source, options=opts, on_state=on_state)
