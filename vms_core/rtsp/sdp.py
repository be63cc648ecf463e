"""SDP as a camera sends it, read into media sections (``MediaDesc``); the server writes
its own in ``stream.py`` (``RtspStream.sdp``), and a test reads that back with this.

Every number is checked against ``limits`` before it is used: an absurd value marks its
media section unusable (its ``problem`` names the field and the value) or, for optional
attributes, is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vms_core.rtsp.limits import MAX_MEDIA_SECTIONS, decimal, shown
from vms_core.rtsp.responses import ProtocolError

# RTP clocks run at 8-90 kHz (192 kHz audio at most); a frame rate above this is a typo.
MAX_CLOCK_RATE = 1_000_000
MAX_CHANNELS = 8
MAX_FRAMERATE = 1000.0


@dataclass(slots=True)
class MediaDesc:
    """One ``m=`` section of an SDP."""

    kind: str
    payload_type: int = -1
    encoding: str = ""  # upper case: H264, H265, MPEG4-GENERIC, PCMU, PCMA, ...
    clock_rate: int = 90000
    channels: int = 1
    fmtp: dict[str, str] = field(default_factory=dict)  # names lower case
    control: str = ""
    framerate: float | None = None
    # Why this section cannot be used (an absurd clock rate, ...); None when it can.
    problem: str | None = None

    def refuse(self, problem: str) -> None:
        """Mark the section unusable (the first problem found is the one reported)."""
        if self.problem is None:
            self.problem = f"{self.kind or 'media'} {self.encoding or ''}".rstrip() + f" {problem}"


# Static payload types (RFC 3551) a camera may use without an rtpmap line.
_STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}


def parse_sdp(text: str) -> list[MediaDesc]:
    """The media sections of an SDP. Absurd values make their section unusable (its
    ``problem`` says why) or, for optional attributes, are ignored; more sections than
    ``MAX_MEDIA_SECTIONS`` is a ProtocolError."""
    medias: list[MediaDesc] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            if len(medias) == MAX_MEDIA_SECTIONS:
                raise ProtocolError(f"the SDP has more than {MAX_MEDIA_SECTIONS} media sections")
            fields = line[2:].split()
            media = MediaDesc(shown(fields[0], 16) if fields else "")
            pt = decimal(fields[3], 0, 127) if len(fields) > 3 else None
            if pt is None:
                media.refuse(f"payload type {shown(fields[3] if len(fields) > 3 else '')!r}")
            else:
                media.payload_type = pt
            if pt in _STATIC:
                media.encoding, media.clock_rate = _STATIC[pt]
            medias.append(media)
            continue
        if not medias or not line.startswith("a="):
            continue
        media = medias[-1]
        key, _, value = line[2:].partition(":")
        if key == "rtpmap":
            _pt, _, encoding = value.partition(" ")
            parts = encoding.strip().split("/")
            media.encoding = shown(parts[0].upper(), 32)
            if len(parts) > 1:
                rate = decimal(parts[1], 1, MAX_CLOCK_RATE)
                if rate is None:
                    media.refuse(f"clock rate {shown(parts[1])!r} is not 1-{MAX_CLOCK_RATE} Hz")
                else:
                    media.clock_rate = rate
            if len(parts) > 2:
                channels = decimal(parts[2], 1, MAX_CHANNELS)
                if channels is None:
                    media.refuse(f"channel count {shown(parts[2])!r} is not 1-{MAX_CHANNELS}")
                else:
                    media.channels = channels
        elif key == "fmtp":
            _pt, _, params = value.partition(" ")
            for item in params.split(";"):
                name, sep, val = item.strip().partition("=")
                if sep:
                    media.fmtp[name.strip().lower()] = val.strip()
        elif key == "control":
            media.control = value.strip()
        elif key == "framerate":
            media.framerate = _framerate(value)
    return medias


def _framerate(text: str) -> float | None:
    """An ``a=framerate`` value, or None for one that is no frame rate (NaN, 1e999, -5)."""
    try:
        rate = float(text.strip()[:32])
    except ValueError:
        return None
    return rate if math.isfinite(rate) and 0 < rate <= MAX_FRAMERATE else None
