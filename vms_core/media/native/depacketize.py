"""RTP payloads to access units: H.264 (RFC 6184) as Annex-B, AAC (RFC 3640 AAC-hbr) as
raw frames, G.711 as is. Each depacketizer takes one RTP packet (header included) and
calls its sink with whole access units and their 32-bit RTP timestamp.

Packets come from the camera: every size in them (CSRC count, extension length, padding,
STAP-A sizes, AU headers) is checked against the packet before use, packets that are not
RTP version 2 are dropped, and a unit being gathered never grows past a fixed bound
(``MAX_ACCESS_UNIT``; an AAC frame past what its size field can express)."""

from __future__ import annotations

import struct
from collections.abc import Callable

from vms_core.rtsp.codecs import H264_NAL_IDR, H264_NAL_PPS, H264_NAL_SPS
from vms_core.rtsp.limits import decimal, shown

RTP_HEADER = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")
START_CODE = b"\x00\x00\x00\x01"
_STAP_A = 24
_FU_A = 28
# Largest H.264 access unit kept: an 8K intra picture at high quality is a few MB. A
# larger one (or fragments that never end) is dropped like a lost one.
MAX_ACCESS_UNIT = 16 * 1024 * 1024

VideoSink = Callable[[bytes, int, bool], None]  # (annex-b unit, rtp timestamp, keyframe)
AudioSink = Callable[[bytes, int], None]  # (frame, rtp timestamp)


def is_rtp(mv: memoryview) -> bool:
    """At least a fixed header (and one more byte), RTP version 2."""
    return len(mv) > 12 and mv[0] & 0xC0 == 0x80


def rtp_payload_bounds(mv: memoryview) -> tuple[int, int]:
    """(start, end) of the payload: after CSRCs and any extension, before padding. Empty
    (start >= end) when those lengths do not fit in the packet."""
    length = len(mv)
    b0 = mv[0]
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if offset + 4 > length:
            return length, length
        offset += 4 + 4 * _U16.unpack_from(mv, offset + 2)[0]
    end = length - mv[length - 1] if b0 & 0x20 else length
    return offset, end


class H264Depacketizer:
    """Single NAL units, STAP-A and FU-A to Annex-B access units, split on the marker bit
    (or a timestamp change, for senders that do not set it). A lost packet drops its unit
    and everything up to the next keyframe (the decoder could not use them)."""

    __slots__ = (
        "au", "broken", "dropped", "fu_open", "keyframe", "pps", "seq", "sink", "sps", "ts",
        "waiting",
    )  # fmt: skip

    def __init__(self, sink: VideoSink) -> None:
        self.sink = sink
        self.au = bytearray()
        self.ts: int | None = None
        self.seq = -1  # -1: none yet
        self.keyframe = False
        self.broken = False
        self.fu_open = False  # inside an FU-A (the connection's fast path appends to au)
        self.waiting = False
        # The latest in-band parameter sets (None until the camera sends them in band).
        self.sps: bytes | None = None
        self.pps: bytes | None = None
        # Why the last unit was dropped, for the camera's state reason (None: none was).
        self.dropped: str | None = None

    def packet(self, mv: memoryview) -> None:
        if not is_rtp(mv):
            return
        _b0, b1, seq, ts, _ssrc = RTP_HEADER.unpack_from(mv)
        offset, end = rtp_payload_bounds(mv)
        if self.seq >= 0 and seq != (self.seq + 1) & 0xFFFF:
            self.broken = True  # on TCP only after the sender skipped packets
        self.seq = seq
        if ts != self.ts and self.au:
            self.flush()
        self.ts = ts
        if offset < end:
            self._payload(mv, offset, end)
        if b1 & 0x80:
            self.flush()

    def _payload(self, mv: memoryview, offset: int, end: int) -> None:
        au = self.au
        header = mv[offset]
        nal_type = header & 0x1F
        if 1 <= nal_type <= 23:
            self._nal(mv[offset:end], nal_type)
        elif nal_type == _FU_A:
            if offset + 2 > end:
                return
            fu = mv[offset + 1]
            if fu & 0x80:
                if self.fu_open:
                    self.broken = True  # the previous FU-A never ended
                au += START_CODE
                au.append((header & 0xE0) | (fu & 0x1F))
                self.fu_open = True
                if fu & 0x1F == H264_NAL_IDR:
                    self.keyframe = True
            elif not self.fu_open:
                self.broken = True
                return
            au += mv[offset + 2 : end]
            if len(au) > MAX_ACCESS_UNIT:
                self.overflow()
            elif fu & 0x40:
                self.fu_open = False
        elif nal_type == _STAP_A:
            pos = offset + 1
            while pos + 2 <= end:
                size = _U16.unpack_from(mv, pos)[0]
                pos += 2
                if size == 0 or pos + size > end:
                    self.broken = True
                    return
                self._nal(mv[pos : pos + size], mv[pos] & 0x1F)
                pos += size

    def _nal(self, nal: memoryview, nal_type: int) -> None:
        self.au += START_CODE
        self.au += nal
        if len(self.au) > MAX_ACCESS_UNIT:
            self.overflow()
        elif nal_type == H264_NAL_IDR:
            self.keyframe = True
        elif nal_type == H264_NAL_SPS:
            self.sps = bytes(nal)
        elif nal_type == H264_NAL_PPS:
            self.pps = bytes(nal)

    def overflow(self) -> None:
        """The unit being gathered outgrew ``MAX_ACCESS_UNIT``: drop it and what follows up
        to the next keyframe, as after a lost packet."""
        self.au = bytearray()
        self.broken = True
        self.fu_open = False  # the rest of an endless FU-A is dropped as it comes
        self.dropped = f"a picture over {MAX_ACCESS_UNIT // (1024 * 1024)} MiB was dropped"

    def flush(self) -> None:
        au, ts = self.au, self.ts
        self.au = bytearray()
        keyframe, self.keyframe = self.keyframe, False
        broken = self.broken or self.fu_open
        self.broken = self.fu_open = False
        if not au or ts is None:
            return
        if broken or (self.waiting and not keyframe):
            self.waiting = True
            return
        self.waiting = False
        self.sink(bytes(au), ts, keyframe)


class AacDepacketizer:
    """RFC 3640 AAC-hbr / AAC-lbr: AU headers (sizelength + indexlength bits), one or more
    access units per packet, or one access unit fragmented over several (until the marker).

    The AU-header layout comes from the SDP's fmtp; one this class cannot read (a size
    field of 99999 bits, a negative index length) raises ValueError: use no audio then."""

    __slots__ = (
        "frame_samples", "index_bits", "max_frame", "partial", "partial_ts", "sink", "size_bits",
    )  # fmt: skip

    def __init__(self, sink: AudioSink, fmtp: dict[str, str], frame_samples: int = 1024) -> None:
        self.sink = sink
        self.size_bits = _fmtp_bits(fmtp, "sizelength", 13, 1, 16)
        self.index_bits = _fmtp_bits(fmtp, "indexlength", 3, 0, 8)
        if _fmtp_bits(fmtp, "indexdeltalength", self.index_bits, 0, 8) != self.index_bits:
            raise ValueError("AAC indexdeltalength differs from indexlength (not supported)")
        # A fragmented unit is never longer than its AU-size field can say.
        self.max_frame = (1 << self.size_bits) - 1
        self.frame_samples = frame_samples
        self.partial = bytearray()
        self.partial_ts = -1

    def packet(self, mv: memoryview) -> None:
        if not is_rtp(mv):
            return
        _b0, b1, _seq, ts, _ssrc = RTP_HEADER.unpack_from(mv)
        offset, end = rtp_payload_bounds(mv)
        if offset + 2 > end:
            return
        header_bits = _U16.unpack_from(mv, offset)[0]
        header_bytes = (header_bits + 7) // 8
        pos = offset + 2 + header_bytes
        if pos > end:
            return  # AU headers longer than the packet
        per = self.size_bits + self.index_bits
        # Each unit takes at least a byte: never more headers than bytes of data (a
        # packet's work stays in proportion to its size, whatever its header says).
        count = min(header_bits // per, end - pos)
        # The headers used, right-aligned: the first one is the highest ``per`` bits.
        headers = int.from_bytes(mv[offset + 2 : pos], "big") >> (header_bytes * 8 - count * per)
        size_mask = self.max_frame
        if self.partial and ts != self.partial_ts:
            self.partial.clear()  # the fragmented unit never completed
        for index in range(count):
            size = (headers >> ((count - 1 - index) * per + self.index_bits)) & size_mask
            if size == 0:
                return  # no such unit: the rest of the packet cannot be trusted
            if pos + size > end or self.partial:
                # A fragment (RFC 3640 3.2.3): gather until the marker bit.
                if len(self.partial) + end - pos > self.max_frame:
                    self.partial.clear()  # more than any unit: fragments that never end
                    return
                self.partial += mv[pos:end]
                self.partial_ts = ts
                if b1 & 0x80:
                    data = bytes(self.partial)
                    self.partial.clear()
                    if data:
                        self.sink(data, ts)
                return
            self.sink(bytes(mv[pos : pos + size]), (ts + self.frame_samples * index) & 0xFFFFFFFF)
            pos += size


class G711Depacketizer:
    """PCMU/PCMA (RFC 3551): the payload is the samples."""

    __slots__ = ("sink",)

    def __init__(self, sink: AudioSink) -> None:
        self.sink = sink

    def packet(self, mv: memoryview) -> None:
        if not is_rtp(mv):
            return
        ts = RTP_HEADER.unpack_from(mv)[3]
        offset, end = rtp_payload_bounds(mv)
        if offset < end:
            self.sink(bytes(mv[offset:end]), ts)


def _fmtp_bits(fmtp: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """A bit count from an SDP fmtp, ``default`` when absent; ValueError naming it when it
    is not a whole number from ``low`` to ``high``."""
    text = fmtp.get(name)
    if text is None:
        return default
    value = decimal(text, low, high)
    if value is None:
        raise ValueError(f"AAC {name} {shown(text)!r} is not {low}-{high}")
    return value
