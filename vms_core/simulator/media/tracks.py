"""``TrackInfo`` (the SDP description) of an encoded loop's tracks."""

from __future__ import annotations

from base64 import b64encode

from vms_core.rtsp.media import TrackInfo
from vms_core.simulator.media.encoder import EncodedLoop

VIDEO_TRACK = 0
AUDIO_TRACK = 1


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def video_track_info(loop: EncodedLoop) -> TrackInfo:
    profile = loop.spec.video
    sets = loop.parameter_sets
    if profile.codec == "H264":
        sps = sets["sps"]
        fmtp = {
            "packetization-mode": "1",
            # profile_idc, constraint flags, level_idc: the three bytes after the NAL header.
            "profile-level-id": sps[1:4].hex(),
            "sprop-parameter-sets": f"{_b64(sps)},{_b64(sets['pps'])}",
        }
    else:
        fmtp = {
            "sprop-vps": _b64(sets["vps"]),
            "sprop-sps": _b64(sets["sps"]),
            "sprop-pps": _b64(sets["pps"]),
        }
    return TrackInfo(
        kind="video",
        codec=profile.codec,
        clock_rate=loop.video.clock_rate,
        fmtp=fmtp,
        width=profile.width,
        height=profile.height,
        fps=float(profile.fps),
    )


def audio_track_info(loop: EncodedLoop) -> TrackInfo | None:
    profile = loop.spec.audio
    if profile is None:
        return None
    if profile.codec == "PCMU":
        return TrackInfo(kind="audio", codec="PCMU", clock_rate=8000, channels=1)
    assert loop.audio_config is not None
    return TrackInfo(
        kind="audio",
        codec="MPEG4-GENERIC",
        clock_rate=profile.sample_rate,
        channels=1,
        fmtp={
            "streamtype": "5",
            "profile-level-id": "15",
            "mode": "AAC-hbr",
            "sizelength": "13",
            "indexlength": "3",
            "indexdeltalength": "3",
            "config": loop.audio_config,
        },
    )


def track_infos(loop: EncodedLoop) -> list[TrackInfo]:
    """Tracks in the order ``LoopPlayer`` numbers them: video is 0, audio (if any) is 1."""
    audio = audio_track_info(loop)
    return [video_track_info(loop)] + ([audio] if audio is not None else [])
