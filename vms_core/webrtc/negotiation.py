"""What a browser can play as sent, and which of its offered H.264 formats to answer.

Chromium offers only Baseline, Constrained Baseline and Main ``profile-level-id``s (with
packetization-mode 0 and 1) yet decodes High-profile streams signalled as one of them, so
the answer echoes the offered format closest to the camera's real profile. Streams with
B-frames do not play over WebRTC (no reordering in the browser's RTP path), nor does
H.265 in most browsers: those get a clear refusal, never a black tile.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from aiortc import RTCRtpCodecParameters
from aiortc.sdp import MediaDescription

from vms_core.webrtc.offer import sendable_h264

# profile_idc → preference order of what to signal when the offer lacks that exact profile.
_BASELINE, _MAIN, _HIGH = 0x42, 0x4D, 0x64
_FALLBACK_ORDER = {
    _HIGH: (_HIGH, _MAIN, _BASELINE),
    _MAIN: (_MAIN, _HIGH, _BASELINE),
    _BASELINE: (_BASELINE, _MAIN, _HIGH),
}


class Unplayable(Exception):
    """The stream cannot be forwarded to a browser as it is; the message says why."""


@dataclass(frozen=True, slots=True)
class StreamTraits:
    codec: str  # FFmpeg codec name: "h264", "hevc", ...
    has_b_frames: bool
    profile_level_id: str | None  # from the SPS, e.g. "640028"
    audio_codec: str | None


def check_playable(traits: StreamTraits) -> None:
    """Raise ``Unplayable`` when a browser could not show this stream as sent."""
    if traits.codec == "hevc":
        raise Unplayable(
            "this stream is H.265, which browsers cannot play over WebRTC; "
            "set the camera (or its sub stream) to H.264"
        )
    if traits.codec != "h264":
        raise Unplayable(f"this stream is {traits.codec}; live view needs H.264")
    if traits.has_b_frames:
        raise Unplayable(
            "this stream uses B-frames, which WebRTC cannot play; "
            "turn B-frames off in the camera's encoder settings"
        )


def forwarded_audio(audio_codec: str | None) -> str | None:
    """The RTP codec name under which the camera's audio is forwarded, if any.

    G.711 goes out as sent. AAC would need a decode and an Opus encode per camera on the
    server (see the webrtc package notes), so AAC cameras are shown without sound.
    """
    return {"pcm_mulaw": "PCMU", "pcm_alaw": "PCMA"}.get(audio_codec or "")


def choose_h264(media: MediaDescription, camera_profile: str | None) -> list[RTCRtpCodecParameters]:
    """The offered H.264 format (packetization-mode 1) to answer for the video section
    ``media``, and its RTX, as aiortc codec parameters; empty when there is none."""
    offered = sendable_h264(media)
    if not offered:
        return []
    camera_idc = int(camera_profile[:2], 16) if camera_profile else _BASELINE
    order = _FALLBACK_ORDER.get(camera_idc, (camera_idc, _HIGH, _MAIN, _BASELINE))

    def rank(codec: RTCRtpCodecParameters) -> tuple[int, int]:
        plid = str(codec.parameters.get("profile-level-id", "42e01f"))
        idc = int(plid[:2], 16)
        place = order.index(idc) if idc in order else len(order)
        # Among Baseline flavours prefer Constrained Baseline (what Chromium decodes in HW).
        constrained = 0 if idc != _BASELINE or int(plid[2:4], 16) & 0x40 else 1
        return place, constrained

    chosen = copy.deepcopy(min(offered, key=rank))
    chosen.rtcpFeedback = [f for f in chosen.rtcpFeedback if f.type in ("nack", "goog-remb")]
    result = [chosen]
    for codec in media.rtp.codecs:
        if codec.mimeType.lower() == "video/rtx" and codec.parameters.get("apt") == (
            chosen.payloadType
        ):
            result.append(copy.deepcopy(codec))
    return result
