"""RTSP/1.0 request parsing and response formatting (RFC 2326 section 6 and 7)."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from vms_core.rtsp.limits import MAX_BODY_BYTES, MAX_HEADER_LINES

_METHOD = re.compile(r"[A-Za-z_]{1,32}")
_DIGITS = re.compile(r"[0-9]+")

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    453: "Not Enough Bandwidth",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}


class BadRequest(Exception):
    """The bytes received are not an RTSP request we can answer (status to send back)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.cseq: str | None = None


@dataclass(slots=True)
class RtspRequest:
    method: str
    uri: str
    headers: dict[str, str]
    body: bytes = b""
    content_length: int = 0

    @property
    def cseq(self) -> str | None:
        return self.headers.get("cseq")

    @property
    def session_id(self) -> str | None:
        value = self.headers.get("session")
        return value.split(";", 1)[0].strip() if value else None


@dataclass(slots=True)
class RtspResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self, cseq: str | None) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}"]
        if cseq is not None:
            lines.append(f"CSeq: {cseq}")
        lines.append("Server: vms")
        lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def parse_head(head: bytes) -> RtspRequest:
    """Parse a request line and headers (without the blank line); the body is read later."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("request is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest("malformed request line")
    method, uri, version = parts
    if not version.startswith("RTSP/"):
        raise BadRequest("not an RTSP request")
    if version != "RTSP/1.0":
        raise BadRequest("unsupported RTSP version", 505)
    if "://" in uri:
        try:
            urlsplit(uri)
        except ValueError as exc:  # e.g. rtsp://[::1 (an unclosed IPv6 host)
            raise BadRequest("malformed request URI") from exc
    if len(lines) - 1 > MAX_HEADER_LINES:
        raise BadRequest("too many header lines")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise BadRequest("malformed header line")
        headers[name.lower()] = value.strip()
    if "cseq" not in headers:
        raise BadRequest("missing CSeq")
    length_text = headers.get("content-length", "0")
    if not _DIGITS.fullmatch(length_text):  # ASCII only: "²".isdigit() is True
        raise BadRequest("bad Content-Length")
    if len(length_text) > 9 or int(length_text) > MAX_BODY_BYTES:
        raise BadRequest("body too large", 413)
    return RtspRequest(method.upper(), uri, headers, content_length=int(length_text))


def request_path(uri: str) -> str:
    """The path part of a request URI without surrounding slashes.

    Clients send ``rtsp://host:port/a/b/``, ``/a/b`` or ``a/b``; all name the same resource.
    """
    if uri == "*":
        return ""
    uri = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    return unquote(uri).strip("/")
