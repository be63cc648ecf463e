"""RTSP responses, client authentication (Digest and Basic) and SDP, as a camera sends them.

Every number a camera sends is checked against ``vms_core.rtsp.limits`` before it is used;
what fails is refused with a ``ProtocolError`` (or, in an SDP, marks its media section
unusable) that names the field and the value.
"""

from __future__ import annotations

import base64
import math
import secrets
from dataclasses import dataclass, field

from vms_core.rtsp.auth import digest_response, parse_auth_params
from vms_core.rtsp.limits import MAX_BODY_BYTES, MAX_MEDIA_SECTIONS, decimal, shown

# RTP clocks run at 8-90 kHz (192 kHz audio at most); a frame rate above this is a typo.
MAX_CLOCK_RATE = 1_000_000
MAX_CHANNELS = 8
MAX_FRAMERATE = 1000.0


class ProtocolError(ConnectionError):
    """The camera broke RTSP; the message names the field and the value."""


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""


def parse_response_head(head: bytes) -> Response:
    """Status line and headers (lower-case names; repeated headers joined by newlines)."""
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = decimal(parts[1], 100, 999) if len(parts) > 1 else None
    if status is None or not parts[0].startswith("RTSP/"):
        raise ProtocolError(f"not an RTSP response: {shown(lines[0])!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            headers[name] = (
                f"{headers[name]}\n{value.strip()}" if name in headers else value.strip()
            )
    return Response(status, shown(parts[2]) if len(parts) > 2 else "", headers)


def content_length(response: Response) -> int:
    """The body size a response announces: 0 to ``MAX_BODY_BYTES``, else ProtocolError."""
    text = response.headers.get("content-length")
    if text is None:
        return 0
    values = set(text.split("\n"))  # repeated: only if they all agree
    length = decimal(values.pop(), 0, 10**18) if len(values) == 1 else None
    if length is None:
        raise ProtocolError(f"Content-Length {shown(text)!r} is not a byte count")
    if length > MAX_BODY_BYTES:
        raise ProtocolError(f"Content-Length {length} is over the {MAX_BODY_BYTES}-byte limit")
    return length


class Auth:
    """Answers a 401 challenge: Digest (MD5, with or without qop=auth) preferred, else Basic."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.scheme: str | None = None
        self.params: dict[str, str] = {}
        self.nc = 0

    def challenge(self, header: str) -> bool:
        """Take the server's WWW-Authenticate offers; False if none is usable."""
        offers = [offer.strip() for offer in header.split("\n")]
        for offer in offers:
            scheme, _, rest = offer.partition(" ")
            if scheme.lower() == "digest":
                self.scheme, self.params, self.nc = "digest", parse_auth_params(rest), 0
                return True
        if any(offer.lower().startswith("basic") for offer in offers):
            self.scheme = "basic"
            return True
        return False

    def header(self, method: str, uri: str) -> str | None:
        """The Authorization header for a request, once a challenge was taken."""
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self.scheme != "digest":
            return None
        realm, nonce = self.params.get("realm", ""), self.params.get("nonce", "")
        fields = f'username="{self.username}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
        qop_auth = None
        if "auth" in [q.strip() for q in self.params.get("qop", "").split(",")]:
            self.nc += 1
            qop_auth = (f"{self.nc:08x}", secrets.token_hex(8))
            fields += f', qop=auth, nc={qop_auth[0]}, cnonce="{qop_auth[1]}"'
        response = digest_response(
            self.username, realm, self.password, method, uri, nonce, qop_auth
        )
        if "opaque" in self.params:
            fields += f', opaque="{self.params["opaque"]}"'
        return f'Digest {fields}, response="{response}", algorithm=MD5'


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
