"""WebRTC live view: WHEP sessions that forward the camera's own H.264 (and G.711) packets.

No decoder and no encoder sit in the live path. Per camera stream one ``CameraRelay``
reframes each packet (Annex-B, SPS/PPS before keyframes) and splits it into RTP payloads
once; each viewer is an aiortc peer connection whose tracks return those packets.
AAC audio is not forwarded: browsers' WebRTC stacks take Opus or G.711, so AAC would
need a decode and an Opus encode per camera on the server.

This package's top level loads no WebRTC stack: ``LiveView`` loads it with the first
viewer (``vms_core.webrtc.service``).
"""

from __future__ import annotations

from vms_core.config.settings import WebRtcSettings
from vms_core.webrtc.errors import WhepError
from vms_core.webrtc.live_view import LiveView
from vms_core.webrtc.whep import MAX_OFFER_BYTES, Answer, Viewer, WebRtcOptions, decode_offer

__all__ = [
    "MAX_OFFER_BYTES",
    "Answer",
    "LiveView",
    "Viewer",
    "WebRtcOptions",
    "WhepError",
    "decode_offer",
    "webrtc_options",
]


def webrtc_options(settings: WebRtcSettings) -> WebRtcOptions:
    return WebRtcOptions(
        loopback=settings.ice_loopback,
        connect_timeout=settings.connect_timeout_seconds,
        max_sessions_per_user=settings.max_sessions_per_user,
        max_sessions=settings.max_sessions,
    )
