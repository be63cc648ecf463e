"""RTSP responses, client authentication (Digest and Basic) and SDP, as a camera sends them."""

from __future__ import annotations

import base64
import contextlib
import secrets
from dataclasses import dataclass, field

from vms_core.rtsp.auth import digest_response, parse_auth_params


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
    if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an RTSP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            headers[name] = (
                f"{headers[name]}\n{value.strip()}" if name in headers else value.strip()
            )
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


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


# Static payload types (RFC 3551) a camera may use without an rtpmap line.
_STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}


def parse_sdp(text: str) -> list[MediaDesc]:
    medias: list[MediaDesc] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            fields = line[2:].split()
            pt = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else -1
            media = MediaDesc(fields[0] if fields else "")
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
            media.encoding = parts[0].upper()
            if len(parts) > 1 and parts[1].isdigit():
                media.clock_rate = int(parts[1])
            if len(parts) > 2 and parts[2].isdigit():
                media.channels = int(parts[2])
        elif key == "fmtp":
            _pt, _, params = value.partition(" ")
            for item in params.split(";"):
                name, sep, val = item.strip().partition("=")
                if sep:
                    media.fmtp[name.strip().lower()] = val.strip()
        elif key == "control":
            media.control = value.strip()
        elif key == "framerate":
            with contextlib.suppress(ValueError):
                media.framerate = float(value.strip())
    return medias
