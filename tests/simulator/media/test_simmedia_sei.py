"""The send-time SEI: well-formed NAL units that decoders accept and we read back."""

from __future__ import annotations

import re
import struct

import av

from vms_core.simulator.media import EncodedLoop, parse_sei_send_time
from vms_core.simulator.media.nal import (
    H264_SEI_HEADER,
    H265_PREFIX_SEI_HEADER,
    SEND_TIME_UUID,
    add_emulation_prevention,
    send_time_sei,
    split_annexb,
)

EMULATION = re.compile(b"\x00\x00[\x00-\x03]")


def test_send_time_round_trips_including_times_that_need_emulation_prevention() -> None:
    # 0x0000_0000_0000_0001 microseconds style values produce 00 00 00 / 00 00 01 runs.
    awkward = [struct.unpack(">Q", b"\x00\x06\x00\x00\x01\x00\x00\x03")[0] / 1e6, 1_763_000_000.25]
    for send_time in [*awkward, 0.000001]:
        for header in (H264_SEI_HEADER, H265_PREFIX_SEI_HEADER):
            nal = send_time_sei(header, send_time)
            payload = nal[len(header) :]
            # Inside a NAL unit 00 00 is only ever followed by the 03 escape byte.
            assert all(m.group()[2] == 3 for m in EMULATION.finditer(payload))
            assert parse_sei_send_time(b"\x00\x00\x00\x01" + nal + b"\x00\x00\x01\x65") == send_time


def test_escaped_and_plain_payload_differ_only_by_escape_bytes() -> None:
    assert add_emulation_prevention(b"\x00\x00\x01\x00\x00\x00\xff") == (
        b"\x00\x00\x03\x01\x00\x00\x03\x00\xff"
    )
    assert add_emulation_prevention(b"\x12\x00\x00\x04") == b"\x12\x00\x00\x04"


def test_no_send_time_in_a_plain_access_unit(h264_loop: EncodedLoop) -> None:
    assert parse_sei_send_time(h264_loop.video.units[0].data) is None
    assert parse_sei_send_time(b"") is None
    assert parse_sei_send_time(SEND_TIME_UUID[:10]) is None


def test_decoder_accepts_pictures_carrying_the_sei(h264_loop: EncodedLoop) -> None:
    decoder = av.CodecContext.create("h264", "r")
    frames = 0
    for index, unit in enumerate(h264_loop.video.units[:20]):
        nals = split_annexb(unit.data)
        first_slice = next(i for i, n in enumerate(nals) if 1 <= (n[0] & 0x1F) <= 5)
        nals.insert(first_slice, send_time_sei(H264_SEI_HEADER, 1_700_000_000 + index / 10))
        data = b"".join(b"\x00\x00\x00\x01" + n for n in nals)
        assert parse_sei_send_time(data) == 1_700_000_000 + index / 10
        frames += len(decoder.decode(av.Packet(data)))
    frames += len(decoder.decode(None))
    assert frames == 20
