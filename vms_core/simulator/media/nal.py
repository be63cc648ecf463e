"""Annex-B NAL unit helpers and the send-time SEI.

Every simulated video access unit carries the moment it was sent in a "user data
unregistered" SEI message (payload type 5): a fixed 16-byte UUID, then the send time as
8-byte big-endian microseconds since the epoch. Downstream (ingest, WebRTC, recording)
``parse_sei_send_time`` reads it back to measure glass-to-glass latency.
"""

from __future__ import annotations

import re
import struct

START_CODE = b"\x00\x00\x00\x01"
# Chosen at random once; contains no zero byte so it never needs emulation prevention.
SEND_TIME_UUID = bytes.fromhex("b7e1a95c4d2f4e8a9c3d6f1e2a5b7c9d")
_SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED = 5
_SEND_TIME_PAYLOAD_SIZE = len(SEND_TIME_UUID) + 8

H264_SEI_HEADER = b"\x06"
H265_PREFIX_SEI_HEADER = bytes([39 << 1, 1])  # nal_unit_type 39, layer 0, temporal id 1

_START_CODE_RE = re.compile(b"\x00\x00\x01")
_EMULATION_RE = re.compile(b"\x00\x00(?=[\x00-\x03])")
_UNESCAPE_RE = re.compile(b"\x00\x00\x03")


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream, without their start codes."""
    starts = [m.end() for m in _START_CODE_RE.finditer(data)]
    nals: list[bytes] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        nal = data[start:end]
        # A 4-byte start code leaves a zero at the end of the previous unit; trailing zero
        # bytes are never part of a NAL unit (they end in rbsp_trailing_bits).
        nals.append(nal.rstrip(b"\x00") if index + 1 < len(starts) else nal)
    return [n for n in nals if n]


def h264_nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def h265_nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """Insert 0x03 after every 00 00 that is followed by 00..03 (H.264 7.4.1)."""
    out = _EMULATION_RE.sub(b"\x00\x00\x03", rbsp)
    if out.endswith(b"\x00"):  # a NAL unit may not end in zero
        out += b"\x03"
    return out


def send_time_sei(header: bytes, send_time: float) -> bytes:
    """A complete SEI NAL unit (no start code) carrying ``send_time`` (seconds)."""
    micros = struct.pack(">Q", round(send_time * 1_000_000))
    rbsp = (
        bytes([_SEI_PAYLOAD_TYPE_USER_DATA_UNREGISTERED, _SEND_TIME_PAYLOAD_SIZE])
        + SEND_TIME_UUID
        + micros
        + b"\x80"  # rbsp_trailing_bits
    )
    return header + add_emulation_prevention(rbsp)


def parse_sei_send_time(au_or_packet: bytes) -> float | None:
    """The send time (seconds since the epoch) from our SEI in an access unit, a NAL unit or
    an RTP payload that contains it whole; ``None`` if there is none."""
    at = au_or_packet.find(SEND_TIME_UUID)
    if at < 0:
        return None
    # 8 payload bytes may grow to 12 with emulation-prevention bytes.
    tail = _UNESCAPE_RE.sub(b"\x00\x00", au_or_packet[at + 16 : at + 16 + 12])
    if len(tail) < 8:
        return None
    (micros,) = struct.unpack(">Q", tail[:8])
    return float(micros) / 1_000_000
