"""What an ingest learned about a camera stream when it connected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vms_core.media.packet import StreamKind


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Stream parameters as the demuxer reports them (``None`` when unknown)."""

    video_codec: str
    width: int | None
    height: int | None
    fps: float | None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None


class StreamSession:
    """One connection to a camera: its parameters and the codec templates a muxer copies.

    ``templates`` are streams of a private, never-written container holding a copy of the
    demuxer's codec parameters, so they stay valid after the demuxer is closed and a writer
    may build output streams from them at any time (``add_stream_from_template``).
    """

    __slots__ = ("_holder", "audio_config", "info", "number", "templates")

    def __init__(
        self,
        number: int,
        info: StreamInfo,
        templates: dict[StreamKind, Any],
        holder: Any,
        audio_config: bytes | None = None,
    ) -> None:
        self.number = number
        self.info = info
        self.templates = templates
        self._holder = holder  # keeps the templates' container alive
        # AudioSpecificConfig to put in the MP4 when the source sends ADTS (no extradata).
        self.audio_config = audio_config

    def __repr__(self) -> str:
        return f"StreamSession({self.number}, {self.info})"
