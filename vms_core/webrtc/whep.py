"""The values of a WHEP exchange, free of the WebRTC stack: who views, what they are
answered, the service's options, and an offer's text. The HTTP API uses these without
loading aiortc (it loads with the first live view, ``vms_core.webrtc.LiveView``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vms_core.webrtc.errors import WhepError

MAX_OFFER_BYTES = 64 * 1024  # a browser's offer is 3-8 KB
_UTF8 = {"utf-8", "utf8", "us-ascii", "ascii"}

# Loopback ICE candidates (``vms_core.webrtc.ice``).
LoopbackPolicy = Literal["auto", "include", "only"]


@dataclass(frozen=True, slots=True)
class WebRtcOptions:
    loopback: LoopbackPolicy = "auto"
    connect_timeout: float = 30.0  # a peer that never connects is dropped after this
    ready_timeout: float = 8.0  # waiting for a camera that is not streaming yet
    max_sessions_per_user: int = 32
    max_sessions: int = 256


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks for a live view: the account it counts against, and for the audit log."""

    user_id: int
    username: str
    remote: str = ""


@dataclass(slots=True)
class Answer:
    session_id: str
    sdp: str
    stream: str  # the stream actually served
    note: str | None  # why it differs from the one asked for


def decode_offer(body: bytes, charset: str | None) -> str:
    """The offer's text; SDP is UTF-8 (RFC 8866), anything else is refused."""
    if charset is not None and charset.lower() not in _UTF8:
        raise WhepError(415, f"send the SDP offer as UTF-8, not charset={charset}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WhepError(
            400,
            f"the SDP offer is not valid UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start}",
        ) from None
