"""A viewer's WHEP offer, checked on its text alone before anything is opened for it.

The offer is untrusted bytes. Everything it can be refused for is found here, so that a
refusal never costs a connection to the camera: not UTF-8, not SDP, too many sections or
candidates, no video section a viewer receives on, no H.264 in packetization mode 1, and
what aiortc needs to apply it (ICE credentials, a DTLS role and fingerprint, RTCP
multiplexing, a direction and a usable codec in every section). aiortc applying the
offer afterwards is the backstop, not the check; the fuzz tests hold the two together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aiortc import RTCRtpCodecParameters
from aiortc.codecs import CODECS
from aiortc.rtcdtlstransport import X509_DIGEST_ALGORITHMS
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.sdp import DIRECTIONS, MediaDescription, SessionDescription

from vms_core.webrtc.errors import WhepError
from vms_core.webrtc.whep import MAX_OFFER_BYTES, decode_offer

__all__ = ["MAX_OFFER_BYTES", "Offer", "check_offer", "decode_offer"]

MAX_MEDIA_SECTIONS = 8  # browsers offer two (video, audio)
MAX_CANDIDATES = 32  # in all sections; mDNS ones are resolved one by one


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str
    description: SessionDescription
    video: int  # index of the media section the camera's video is sent on
    audio: int | None  # index of the first audio section, if any


def check_offer(sdp: str) -> Offer:
    """Parse and check ``sdp``; raise ``WhepError`` (4xx) naming what is wrong."""
    if not sdp.strip():
        raise WhepError(400, "the body is empty: send the SDP offer")
    if not sdp.startswith("v=0"):
        raise WhepError(400, "not an SDP offer: it must begin with v=0")
    description = _parse(sdp)
    media = description.media
    if len(media) > MAX_MEDIA_SECTIONS:
        raise WhepError(
            400, f"the offer has {len(media)} media sections; at most {MAX_MEDIA_SECTIONS}"
        )
    candidates = sum(len(m.ice_candidates) for m in media)
    if candidates > MAX_CANDIDATES:
        raise WhepError(400, f"the offer has {candidates} ICE candidates; at most {MAX_CANDIDATES}")
    _check_mids(description)
    for index, section in enumerate(media):
        _check_section(index, section)
    video = next((i for i, m in enumerate(media) if m.kind == "video"), None)
    if video is None:
        raise WhepError(400, "the offer has no video section (m=video)")
    _check_video(media[video])
    audio = next((i for i, m in enumerate(media) if m.kind == "audio"), None)
    return Offer(sdp, description, video, audio)


def sendable_h264(section: MediaDescription) -> list[RTCRtpCodecParameters]:
    """The section's H.264 formats in packetization mode 1 (FU-A, what we send)."""
    return [
        codec
        for codec in section.rtp.codecs
        if codec.mimeType.lower() == "video/h264"
        and str(codec.parameters.get("packetization-mode", "0")) == "1"
        and _hex6(str(codec.parameters.get("profile-level-id", "42e01f")))
    ]


def _parse(sdp: str) -> SessionDescription:
    try:
        return SessionDescription.parse(sdp)
    except Exception:
        # aiortc's parser reports a bad line with whatever the failing step raised
        # (ValueError, AssertionError, KeyError, IndexError, StopIteration, ...): all of
        # them mean "this text is not an offer we can read". It does not say which line.
        number, line = _first_bad_line(sdp)
        raise WhepError(
            400, f"cannot parse the SDP offer at line {number}: {line[:80]!r}"
        ) from None


def _first_bad_line(sdp: str) -> tuple[int, str]:
    """The line where parsing starts to fail: the shortest failing prefix, found by
    bisection (a dozen parses for the largest offer we take)."""
    lines = sdp.splitlines()
    good, bad = 0, len(lines)  # a prefix of `good` lines parses, of `bad` lines does not
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            SessionDescription.parse("\r\n".join(lines[:middle]))
            good = middle
        except Exception:
            bad = middle
    return bad, lines[bad - 1] if bad else ""


def _check_mids(description: SessionDescription) -> None:
    seen: Counter[str] = Counter()
    for index, section in enumerate(description.media):
        mid = section.rtp.muxId
        if not mid:
            raise WhepError(400, f"media section {index + 1} has no a=mid")
        seen[mid] += 1
        if seen[mid] > 1:
            raise WhepError(400, f"two media sections have a=mid:{mid}")
    for group in description.group:
        for item in group.items:
            if str(item) not in seen:
                raise WhepError(
                    400, f"a=group:{group.semantic} names mid {item}, which no section has"
                )


def _check_section(index: int, section: MediaDescription) -> None:
    where = f"media section {index + 1} ({section.kind})"
    if section.kind not in ("audio", "video"):
        # Live view has no data channel: an SCTP association would be attack surface only.
        raise WhepError(400, f"{where}: live view accepts only audio and video sections")
    ice = section.ice
    if ice is None or not ice.usernameFragment or not ice.password:
        raise WhepError(400, f"{where}: no ICE credentials (a=ice-ufrag and a=ice-pwd)")
    if section.dtls is None:
        raise WhepError(400, f"{where}: no DTLS role (a=setup)")
    if not any(f.algorithm.lower() in X509_DIGEST_ALGORITHMS for f in section.dtls.fingerprints):
        algorithms = ", ".join(X509_DIGEST_ALGORITHMS)
        raise WhepError(400, f"{where}: no DTLS fingerprint (a=fingerprint, {algorithms})")
    if not section.rtcp_mux:
        raise WhepError(400, f"{where}: no a=rtcp-mux (RTCP multiplexing is required)")
    if section.direction not in DIRECTIONS:
        raise WhepError(400, f"{where}: no direction (a=recvonly)")
    if not find_common_codecs(CODECS[section.kind], section.rtp.codecs):
        offered = ", ".join(sorted({c.mimeType for c in section.rtp.codecs})) or "none"
        raise WhepError(400, f"{where}: no codec the server can use (offered: {offered})")


def _check_video(section: MediaDescription) -> None:
    if section.direction not in ("recvonly", "sendrecv"):
        raise WhepError(
            400,
            f"the offer's video section is {section.direction}: "
            "a WHEP viewer receives video (a=recvonly)",
        )
    if not sendable_h264(section):
        offered = ", ".join(_describe(c) for c in section.rtp.codecs) or "nothing"
        raise WhepError(
            400,
            f"the offer's video has no H.264 with packetization-mode=1 (offered: {offered}); "
            "a browser must put H.264 first with setCodecPreferences",
        )


def _describe(codec: RTCRtpCodecParameters) -> str:
    name = codec.mimeType.split("/", 1)[-1]
    if name.lower() == "h264":
        return f"H264 packetization-mode={codec.parameters.get('packetization-mode', 0)}"
    return name


def _hex6(value: str) -> bool:
    return len(value) == 6 and all(c in "0123456789abcdefABCDEF" for c in value)
