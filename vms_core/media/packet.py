"""The unit that flows from an ingest through the StreamHub to every subscriber."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import av

    from vms_core.media.stream_info import StreamSession

StreamKind = Literal["video", "audio"]


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One compressed access unit, never decoded on the recording path.

    ``data`` is the demuxer's ``av.Packet`` (shared by every subscriber: treat it as
    read-only; wrap it with ``av.Packet(data)`` -- zero copy -- before muxing) or plain
    bytes. Use the timing fields here, not the ones on ``data``. ``wall`` is the server
    clock at ingest mapped through the stream timestamps (seconds since the epoch).
    ``session`` identifies the connection the packet came from: a new session means
    new codec parameters and a new timestamp base.
    """

    kind: StreamKind
    data: av.Packet[Any] | bytes
    pts: int
    dts: int
    time_base: Fraction
    keyframe: bool
    wall: float
    session: StreamSession

    @property
    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else self.data.size
