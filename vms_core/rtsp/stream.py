"""A published stream: its tracks, its SDP, and the fan-out of access units to sessions."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

from vms_core.rtsp.auth import Credentials
from vms_core.rtsp.codecs import (
    h264_fmtp,
    h265_fmtp,
    parameter_sets_from_fmtp,
)
from vms_core.rtsp.media import AccessUnit, TrackInfo
from vms_core.rtsp.rtp import PayloadCache, packetizer_for, payload_type
from vms_core.rtsp.session import RtspSession

logger = logging.getLogger(__name__)

_AAC_DEFAULT_FMTP = {
    "streamtype": "5",
    "profile-level-id": "1",
    "mode": "AAC-hbr",
    "sizelength": "13",
    "indexlength": "3",
    "indexdeltalength": "3",
}


class TrackState:
    """Server-side state of one track: payload type, packetizer cache, last timestamp."""

    def __init__(self, index: int, info: TrackInfo) -> None:
        self.index = index
        self.info = info
        self.payload_type = payload_type(info.codec)
        self.fmtp = dict(info.fmtp)
        self.parameter_sets = parameter_sets_from_fmtp(info.codec, self.fmtp)
        self.cache = PayloadCache(packetizer_for(info.codec, self.parameter_sets))
        self.last_timestamp: int | None = None

    def learn_parameter_sets(self, unit: AccessUnit) -> None:
        """Fill a missing sprop from the first keyframe so the SDP can announce it."""
        if self.parameter_sets or not unit.keyframe:
            return
        learned = h264_fmtp(unit.data) if self.info.codec == "H264" else h265_fmtp(unit.data)
        for key, value in learned.items():
            self.fmtp.setdefault(key, value)
        # The packetizer holds this list: extend it in place.
        self.parameter_sets.extend(parameter_sets_from_fmtp(self.info.codec, self.fmtp))

    def media_description(self) -> list[str]:
        info = self.info
        pt = self.payload_type
        lines = [f"m={info.kind} 0 RTP/AVP {pt}"]
        encoding = f"{info.codec}/{info.clock_rate}"
        if info.kind == "audio" and info.channels > 1:
            encoding += f"/{info.channels}"
        lines.append(f"a=rtpmap:{pt} {encoding}")
        fmtp = dict(self.fmtp)
        if info.codec == "H264":
            fmtp.setdefault("packetization-mode", "1")
        elif info.codec == "MPEG4-GENERIC":
            fmtp = {**_AAC_DEFAULT_FMTP, **fmtp}
        if fmtp:
            lines.append(f"a=fmtp:{pt} " + ";".join(f"{k}={v}" for k, v in fmtp.items()))
        if info.fps:
            lines.append(f"a=framerate:{info.fps:g}")
        if info.width and info.height:
            lines.append(f"a=x-dimensions:{info.width},{info.height}")
        lines.append(f"a=control:trackID={self.index}")
        return lines


class RtspStream:
    """One path on the server. The producer calls ``publish`` for each access unit."""

    def __init__(
        self, path: str, tracks: Sequence[TrackInfo], credentials: Credentials | None = None
    ) -> None:
        if not tracks:
            raise ValueError("a stream needs at least one track")
        self.path = path
        self.credentials = credentials
        # False makes DESCRIBE and SETUP answer 503 (a camera refusing new clients).
        self.available = True
        self.tracks = [TrackState(index, info) for index, info in enumerate(tracks)]
        self.sessions: set[RtspSession] = set()
        self._session_id = secrets.randbelow(2**31)

    @property
    def client_count(self) -> int:
        """Sessions currently playing this stream."""
        return sum(1 for session in self.sessions if session.playing)

    def publish(self, unit: AccessUnit) -> None:
        """Packetize ``unit`` (cached for repeats) and send it to every playing session."""
        if not 0 <= unit.track < len(self.tracks):
            raise ValueError(f"stream {self.path!r} has no track {unit.track}")
        track = self.tracks[unit.track]
        if track.info.kind == "video" and not track.parameter_sets:
            track.learn_parameter_sets(unit)
        track.last_timestamp = unit.timestamp
        if not self.sessions:
            return
        payloads = track.cache.payloads(unit.data)
        for session in self.sessions:
            session.deliver(unit, payloads)

    def disconnect_all(self) -> None:
        """Close every client's session and its RTSP connection (a camera dropping clients)."""
        for session in list(self.sessions):
            session.close()
            session.connection.close()

    def sdp(self, server_address: str) -> bytes:
        ip_version = "IP6" if ":" in server_address else "IP4"
        lines = [
            "v=0",
            f"o=- {self._session_id} 1 IN {ip_version} {server_address}",
            f"s={self.path or 'vms'}",
            f"c=IN {ip_version} {'::' if ip_version == 'IP6' else '0.0.0.0'}",  # noqa: S104
            "t=0 0",
            "a=tool:vms",
            "a=range:npt=now-",
            "a=control:*",
        ]
        for track in self.tracks:
            lines.extend(track.media_description())
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")
