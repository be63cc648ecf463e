"""RTP payload formats (RFC 6184 H.264, RFC 7798 H.265, RFC 3640 AAC, RFC 3551 PCMU)
and RTCP sender reports (RFC 3550).

Packetizing produces payloads only; the per-client RTP header (sequence number,
timestamp, SSRC) is written at send time, so one packetized access unit serves every
client, and a looping producer's repeated units are packetized once (``PayloadCache``).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vms_core.rtsp.codecs import (
    H264_NAL_IDR,
    H264_NAL_PPS,
    H264_NAL_SPS,
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    h264_nal_type,
    h265_nal_type,
    split_annexb,
)
from vms_core.rtsp.media import Codec

# Payload bytes per packet: keeps RTP + UDP + IP under a 1500-byte Ethernet MTU.
MAX_PAYLOAD = 1400
RTP_VERSION_BYTE = 0x80
PT_DYNAMIC_VIDEO = 96
PT_DYNAMIC_AUDIO = 97
PT_PCMU = 0
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_H264_FU_A = 28
_H265_FU = 49
_RTP_HEADER = struct.Struct("!BBHII")
_INTERLEAVED_RTP_HEADER = struct.Struct("!BBHBBHII")
_SENDER_INFO = struct.Struct("!IIII")  # ssrc, NTP seconds, NTP fraction, RTP timestamp


@dataclass(frozen=True, slots=True)
class RtpPayload:
    """One RTP packet's payload, its marker bit and its offset from the unit's timestamp."""

    data: bytes
    marker: bool
    timestamp_offset: int = 0


def payload_type(codec: Codec) -> int:
    if codec == "PCMU":
        return PT_PCMU
    if codec in ("H264", "H265"):
        return PT_DYNAMIC_VIDEO
    return PT_DYNAMIC_AUDIO


def packetize_h264(data: bytes, parameter_sets: list[bytes]) -> list[RtpPayload]:
    """RFC 6184 packetization mode 1: single NAL unit packets and FU-A fragments."""
    nals = split_annexb(data)
    types = {h264_nal_type(nal) for nal in nals}
    # Decoders joining mid-stream need SPS/PPS before each IDR: add them from the SDP's.
    if H264_NAL_IDR in types and not {H264_NAL_SPS, H264_NAL_PPS} <= types:
        nals = parameter_sets + nals
    payloads: list[bytes] = []
    for nal in nals:
        if len(nal) <= MAX_PAYLOAD:
            payloads.append(nal)
            continue
        indicator = (nal[0] & 0xE0) | _H264_FU_A
        nal_type = nal[0] & 0x1F
        payloads.extend(_fragments(nal[1:], bytes([indicator]), nal_type, MAX_PAYLOAD - 2))
    return _mark_last(payloads)


def packetize_h265(data: bytes, parameter_sets: list[bytes]) -> list[RtpPayload]:
    """RFC 7798: single NAL unit packets and fragmentation units (2-byte NAL header)."""
    nals = split_annexb(data)
    types = {h265_nal_type(nal) for nal in nals}
    is_irap = any(16 <= t <= 21 for t in types)
    if is_irap and not {H265_NAL_VPS, H265_NAL_SPS, H265_NAL_PPS} <= types:
        nals = parameter_sets + nals
    payloads: list[bytes] = []
    for nal in nals:
        if len(nal) <= MAX_PAYLOAD:
            payloads.append(nal)
            continue
        header = bytes([(nal[0] & 0x81) | (_H265_FU << 1), nal[1]])
        nal_type = h265_nal_type(nal)
        payloads.extend(_fragments(nal[2:], header, nal_type, MAX_PAYLOAD - 3))
    return _mark_last(payloads)


def _fragments(body: bytes, header: bytes, nal_type: int, chunk: int) -> list[bytes]:
    """FU-A / H.265 FU fragments: ``header`` then an S/E/type byte then a slice of ``body``."""
    out: list[bytes] = []
    count = (len(body) + chunk - 1) // chunk
    for index in range(count):
        fu_header = nal_type
        if index == 0:
            fu_header |= 0x80
        if index == count - 1:
            fu_header |= 0x40
        out.append(header + bytes([fu_header]) + body[index * chunk : (index + 1) * chunk])
    return out


def _mark_last(payloads: list[bytes]) -> list[RtpPayload]:
    last = len(payloads) - 1
    return [RtpPayload(p, index == last) for index, p in enumerate(payloads)]


def packetize_aac(data: bytes) -> list[RtpPayload]:
    """RFC 3640 AAC-hbr: one AU per packet, AU-header of 13-bit size and 3-bit index."""
    au_headers_length_bits = 16
    au_header = (len(data) & 0x1FFF) << 3
    return [RtpPayload(struct.pack("!HH", au_headers_length_bits, au_header) + data, True)]


def packetize_pcmu(data: bytes) -> list[RtpPayload]:
    """RFC 3551 PCMU: one byte per sample at 8 kHz; long runs split with advancing time."""
    return [
        RtpPayload(data[offset : offset + MAX_PAYLOAD], False, offset)
        for offset in range(0, len(data), MAX_PAYLOAD)
    ]


def packetizer_for(
    codec: Codec, parameter_sets: list[bytes]
) -> Callable[[bytes], list[RtpPayload]]:
    if codec == "H264":
        return lambda data: packetize_h264(data, parameter_sets)
    if codec == "H265":
        return lambda data: packetize_h265(data, parameter_sets)
    if codec == "MPEG4-GENERIC":
        return packetize_aac
    return packetize_pcmu


class PayloadCache:
    """Packetized payloads of recently published units, keyed by the unit's bytes.

    A looping producer publishes the same ``bytes`` objects again and again; their hash is
    cached by Python and the equality check is an identity check, so a hit costs little.
    A producer whose units are all new (live packets, or a loop stamping a send-time SEI
    into every picture) would only fill the cache: after ``probe_units`` lookups without
    a hit it is switched off (64 simulated 1080p cameras held 2.4 GB with it, 0.35 GB
    without).
    """

    def __init__(
        self,
        packetize: Callable[[bytes], list[RtpPayload]],
        max_bytes: int = 8 * 1024 * 1024,
        probe_units: int = 64,
    ) -> None:
        self._packetize = packetize
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[bytes, list[RtpPayload]] = OrderedDict()
        self._probe_units = probe_units
        self._lookups = 0
        self._hits = 0

    @property
    def enabled(self) -> bool:
        return self._max_bytes > 0

    def payloads(self, data: bytes) -> list[RtpPayload]:
        if self._max_bytes <= 0:
            return self._packetize(data)
        self._lookups += 1
        cached = self._entries.get(data)
        if cached is not None:
            self._hits += 1
            self._entries.move_to_end(data)
            return cached
        payloads = self._packetize(data)
        if self._hits == 0 and self._lookups >= self._probe_units:
            self._max_bytes = 0
            self._entries.clear()
            self._bytes = 0
            return payloads
        if len(data) <= self._max_bytes // 4:
            self._entries[data] = payloads
            self._bytes += len(data)
            while self._bytes > self._max_bytes:
                evicted, _ = self._entries.popitem(last=False)
                self._bytes -= len(evicted)
        return payloads


def rtp_header(pt: int, marker: bool, seq: int, timestamp: int, ssrc: int) -> bytes:
    return _RTP_HEADER.pack(RTP_VERSION_BYTE, pt | (0x80 if marker else 0), seq, timestamp, ssrc)


def interleaved_rtp_header(
    channel: int, payload_size: int, pt: int, marker: bool, seq: int, timestamp: int, ssrc: int
) -> bytes:
    """RFC 2326 section 10.12 interleaved frame header followed by the RTP header."""
    return _INTERLEAVED_RTP_HEADER.pack(
        0x24,
        channel,
        payload_size + 12,
        RTP_VERSION_BYTE,
        pt | (0x80 if marker else 0),
        seq,
        timestamp,
        ssrc,
    )


def ntp_timestamp(wallclock: float) -> tuple[int, int]:
    """Unix time to the NTP 64-bit format (seconds, fraction)."""
    seconds = int(wallclock) + NTP_EPOCH_OFFSET
    fraction = int((wallclock % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return seconds & 0xFFFFFFFF, fraction


def sender_report(
    ssrc: int, wallclock: float, rtp_timestamp: int, packets: int, octets: int, cname: bytes
) -> bytes:
    """Compound RTCP packet: SR without report blocks, then SDES with CNAME."""
    ntp_seconds, ntp_fraction = ntp_timestamp(wallclock)
    sr = struct.pack(
        "!BBHIIIIII",
        0x80,
        200,
        6,
        ssrc,
        ntp_seconds,
        ntp_fraction,
        rtp_timestamp & 0xFFFFFFFF,
        packets & 0xFFFFFFFF,
        octets & 0xFFFFFFFF,
    )
    item = bytes([1, len(cname)]) + cname
    chunk = struct.pack("!I", ssrc) + item + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk
    return sr + sdes


def sender_reports(packet: bytes | memoryview) -> Iterator[tuple[int, float]]:
    """(RTP timestamp, sender's wall clock as Unix time) of each sender report in a compound
    RTCP packet (RFC 3550 6.4.1); reading stops at the first part that is not RTCP v2 or
    that the packet cuts short."""
    view = memoryview(packet)
    pos, end = 0, len(view)
    while pos + 8 <= end and view[pos] & 0xC0 == 0x80:
        size = (((view[pos + 2] << 8) | view[pos + 3]) + 1) * 4
        if view[pos + 1] == 200 and size >= 28 and pos + 24 <= end:
            _ssrc, seconds, fraction, rtp_timestamp = _SENDER_INFO.unpack_from(view, pos + 4)
            yield rtp_timestamp, seconds - NTP_EPOCH_OFFSET + fraction / 2**32
        pos += size
