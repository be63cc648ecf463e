"""Media units exchanged between a media producer (the simulator, later the VMS restreamer)
and the RTSP server.

The producer describes its tracks once and then publishes one ``AccessUnit`` at a time, in
presentation order, at the moment it should go on the wire. The server does the rest:
RTP packetization, fan-out to every client of the stream, RTCP sender reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TrackKind = Literal["video", "audio"]
# RTP encoding names as they appear in SDP a=rtpmap.
Codec = Literal["H264", "H265", "MPEG4-GENERIC", "PCMU"]


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One elementary stream of an RTSP stream, as the SDP will describe it."""

    kind: TrackKind
    codec: Codec
    clock_rate: int
    channels: int = 1
    # SDP a=fmtp parameters, e.g. packetization-mode, profile-level-id,
    # sprop-parameter-sets (H.264); sprop-vps/sps/pps (H.265); config, mode,
    # sizelength, indexlength, indexdeltalength (AAC, RFC 3640).
    fmtp: dict[str, str] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    fps: float | None = None


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One picture (all its NAL units, Annex-B with start codes) or one audio frame
    (a raw AAC frame without ADTS header, or a run of G.711 bytes).

    ``timestamp`` counts in the track's ``clock_rate`` and increases monotonically;
    the server adds its own random RTP offset. ``wallclock`` is the unit's capture time
    (``time.time()`` scale): RTCP sender reports map RTP time to it, so it must advance
    exactly with ``timestamp``. A send time would not: a receiver with audio and video
    re-bases its timestamps on every report, and the jitter of the send times becomes
    timestamps that step backward or bunch up.
    """

    track: int
    data: bytes
    timestamp: int
    wallclock: float
    keyframe: bool = False
