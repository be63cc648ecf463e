"""AAC framing: MP4 wants raw AAC plus an AudioSpecificConfig; MPEG-TS sources send ADTS.

Stripping the 7/9-byte ADTS header is all the ``aac_adtstoasc`` filter does for
single-block frames, done here without a filter context per stream.
"""

from __future__ import annotations

SAMPLE_RATES = (
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
)  # fmt: skip
# ADTS can only carry these object types (2-bit profile); HE-AAC travels as LC + implicit SBR.
OBJECT_TYPES = {"Main": 1, "LC": 2, "SSR": 3, "LTP": 4, "HE-AAC": 2, "HE-AACv2": 2}


def adts_header_length(data: bytes | memoryview) -> int:
    """Length of the ADTS header ``data`` starts with, 0 if it is raw AAC."""
    if len(data) < 7 or data[0] != 0xFF or (data[1] & 0xF6) != 0xF0:
        return 0
    protection_absent = data[1] & 0x01
    return 7 if protection_absent else 9


def audio_specific_config(profile: str | None, sample_rate: int, channels: int) -> bytes:
    """The 2-byte AudioSpecificConfig (ISO 14496-3) the MP4 'esds' box carries."""
    object_type = OBJECT_TYPES.get(profile or "LC", 2)
    rate_index = SAMPLE_RATES.index(sample_rate) if sample_rate in SAMPLE_RATES else 0xF
    if rate_index == 0xF:
        raise ValueError(f"unsupported AAC sample rate {sample_rate}")
    value = (object_type << 11) | (rate_index << 7) | ((channels & 0xF) << 3)
    return value.to_bytes(2, "big")
