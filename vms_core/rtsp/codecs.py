"""Bitstream helpers: Annex-B NAL unit splitting and SDP fmtp parameters per codec.

Producers may use the ``*_fmtp`` helpers to fill ``TrackInfo.fmtp`` from a keyframe.
"""

from __future__ import annotations

import base64

H264_NAL_SPS = 7
H264_NAL_PPS = 8
H264_NAL_IDR = 5
H265_NAL_VPS = 32
H265_NAL_SPS = 33
H265_NAL_PPS = 34


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex-B byte stream into NAL units (start codes removed)."""
    nals: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        payload_start = start + 3
        following = data.find(b"\x00\x00\x01", payload_start)
        end = following if following >= 0 else len(data)
        # A NAL unit never ends in a zero byte: zeros before the next start code belong to
        # a 4-byte start code (or trailing_zero_8bits).
        nal = data[payload_start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        start = following
    return nals


def h264_nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def h265_nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def h264_parameter_sets(nals: list[bytes]) -> list[bytes]:
    """SPS and PPS NAL units among ``nals``, in order."""
    return [nal for nal in nals if h264_nal_type(nal) in (H264_NAL_SPS, H264_NAL_PPS)]


def h265_parameter_sets(nals: list[bytes]) -> list[bytes]:
    """VPS, SPS and PPS NAL units among ``nals``, in order."""
    types = (H265_NAL_VPS, H265_NAL_SPS, H265_NAL_PPS)
    return [nal for nal in nals if h265_nal_type(nal) in types]


def h264_fmtp(keyframe: bytes) -> dict[str, str]:
    """RFC 6184 fmtp for an H.264 stream, from an Annex-B keyframe carrying SPS and PPS."""
    sets = h264_parameter_sets(split_annexb(keyframe))
    fmtp = {"packetization-mode": "1"}
    sps = [nal for nal in sets if h264_nal_type(nal) == H264_NAL_SPS]
    if sps and len(sps[0]) >= 4:
        fmtp["profile-level-id"] = sps[0][1:4].hex().upper()
    if sets:
        fmtp["sprop-parameter-sets"] = ",".join(_b64(nal) for nal in sets)
    return fmtp


def h265_fmtp(keyframe: bytes) -> dict[str, str]:
    """RFC 7798 fmtp for an H.265 stream, from an Annex-B keyframe carrying VPS/SPS/PPS."""
    names = {H265_NAL_VPS: "sprop-vps", H265_NAL_SPS: "sprop-sps", H265_NAL_PPS: "sprop-pps"}
    fmtp: dict[str, str] = {}
    for nal in h265_parameter_sets(split_annexb(keyframe)):
        name = names[h265_nal_type(nal)]
        fmtp[name] = f"{fmtp[name]},{_b64(nal)}" if name in fmtp else _b64(nal)
    return fmtp


def aac_fmtp(audio_specific_config: bytes) -> dict[str, str]:
    """RFC 3640 AAC-hbr fmtp from the AudioSpecificConfig (the decoder's extradata)."""
    return {
        "streamtype": "5",
        "profile-level-id": "1",
        "mode": "AAC-hbr",
        "sizelength": "13",
        "indexlength": "3",
        "indexdeltalength": "3",
        "config": audio_specific_config.hex(),
    }


def parameter_sets_from_fmtp(codec: str, fmtp: dict[str, str]) -> list[bytes]:
    """The parameter-set NAL units an SDP fmtp announces (empty when none)."""
    if codec == "H264":
        keys = ["sprop-parameter-sets"]
    elif codec == "H265":
        keys = ["sprop-vps", "sprop-sps", "sprop-pps"]
    else:
        return []
    sets: list[bytes] = []
    for key in keys:
        for item in fmtp.get(key, "").split(","):
            item = item.strip()
            if not item:
                continue
            # Cameras send unpadded base64 at times; an unreadable entry is skipped (the
            # sets usually come again in band).
            try:
                nal = base64.b64decode(item + "=" * (-len(item) % 4), validate=True)
            except ValueError:
                continue
            if nal:
                sets.append(nal)
    return sets
