"""RTSP responses and client authentication (Digest and Basic), as a camera sends and
asks for them: the client's half of the messages (``message.py`` is the server's).

Every number a camera sends is checked against ``limits`` before it is used; what fails is
refused with a ``ProtocolError`` that names the field and the value.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from vms_core.rtsp.auth import digest_response, parse_auth_params
from vms_core.rtsp.limits import MAX_BODY_BYTES, decimal, shown


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
