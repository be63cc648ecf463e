"""RTP payload formats and RTCP layout, checked by reassembling what was packetized."""

from __future__ import annotations

import base64
import struct

from vms_core.rtsp.codecs import h264_fmtp, parameter_sets_from_fmtp, split_annexb
from vms_core.rtsp.rtp import (
    MAX_PAYLOAD,
    PayloadCache,
    RtpPayload,
    packetize_aac,
    packetize_h264,
    packetize_h265,
    packetize_pcmu,
    sender_report,
    sender_reports,
)

SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x01])
PPS = bytes([0x68, 0xCE, 0x0F, 0xC8])
IDR = bytes([0x65]) + bytes(range(256)) * 20  # 5121 bytes: needs FU-A
P_SLICE = bytes([0x41, 0x9A, 0x02, 0x03])


def annexb(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def depacketize_h264(payloads: list[RtpPayload]) -> list[bytes]:
    """A receiver's view (RFC 6184): single NAL packets and FU-A reassembly."""
    nals: list[bytes] = []
    fragment = b""
    for payload in payloads:
        data = payload.data
        assert len(data) <= MAX_PAYLOAD
        if data[0] & 0x1F == 28:
            start, end = data[1] & 0x80, data[1] & 0x40
            if start:
                fragment = bytes([(data[0] & 0xE0) | (data[1] & 0x1F)])
            fragment += data[2:]
            if end:
                nals.append(fragment)
        else:
            nals.append(data)
    return nals


def test_split_annexb_handles_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + P_SLICE
    assert split_annexb(data) == [SPS, PPS, P_SLICE]


def test_h264_fragments_large_nals_and_marks_the_last_packet() -> None:
    payloads = packetize_h264(annexb(SPS, PPS, IDR), [])
    assert depacketize_h264(payloads) == [SPS, PPS, IDR]
    assert len(payloads) == 2 + -(-(len(IDR) - 1) // (MAX_PAYLOAD - 2))
    assert [p.marker for p in payloads] == [False] * (len(payloads) - 1) + [True]


def test_h264_inserts_parameter_sets_before_an_idr_that_lacks_them() -> None:
    assert depacketize_h264(packetize_h264(annexb(IDR), [SPS, PPS])) == [SPS, PPS, IDR]
    # Non-IDR pictures are left alone.
    assert depacketize_h264(packetize_h264(annexb(P_SLICE), [SPS, PPS])) == [P_SLICE]


def test_h264_fmtp_round_trips_parameter_sets() -> None:
    fmtp = h264_fmtp(annexb(SPS, PPS, IDR))
    assert fmtp["profile-level-id"] == "42C01E"
    assert fmtp["sprop-parameter-sets"] == ",".join(
        base64.b64encode(n).decode() for n in (SPS, PPS)
    )
    assert parameter_sets_from_fmtp("H264", fmtp) == [SPS, PPS]
    # As cameras write it at times: unpadded, spaced, with an entry that is not base64.
    unpadded = [base64.b64encode(n).decode().rstrip("=") for n in (SPS, PPS)]
    sloppy = {"sprop-parameter-sets": f" {unpadded[0]}, %%, {unpadded[1]}"}
    assert parameter_sets_from_fmtp("H264", sloppy) == [SPS, PPS]


def test_h265_fragmentation_units_keep_the_two_byte_header() -> None:
    idr = bytes([19 << 1, 0x01]) + bytes(3000)[:-1] + b"\x07"
    payloads = packetize_h265(annexb(idr), [])
    assert len(payloads) == 3
    first, middle, last = (p.data for p in payloads)
    assert (first[0] >> 1) & 0x3F == 49 and first[1] == 0x01
    assert first[2] == 0x80 | 19 and middle[2] == 19 and last[2] == 0x40 | 19
    rebuilt = bytes([idr[0], idr[1]]) + b"".join(p.data[3:] for p in payloads)
    assert rebuilt == idr
    assert [p.marker for p in payloads] == [False, False, True]


def test_aac_hbr_au_header_carries_the_frame_size() -> None:
    frame = bytes(371)
    (payload,) = packetize_aac(frame)
    headers_bits, au_header = struct.unpack("!HH", payload.data[:4])
    assert headers_bits == 16 and au_header >> 3 == 371 and au_header & 7 == 0
    assert payload.data[4:] == frame and payload.marker


def test_pcmu_splits_long_runs_with_advancing_timestamps() -> None:
    payloads = packetize_pcmu(bytes(3000))
    assert [len(p.data) for p in payloads] == [1400, 1400, 200]
    assert [p.timestamp_offset for p in payloads] == [0, 1400, 2800]


def test_payload_cache_packetizes_a_repeated_unit_once() -> None:
    calls: list[bytes] = []

    def packetize(data: bytes) -> list[RtpPayload]:
        calls.append(data)
        return [RtpPayload(data, True)]

    cache = PayloadCache(packetize, max_bytes=64)
    unit = bytes(10)
    assert cache.payloads(unit) is cache.payloads(unit)
    assert len(calls) == 1
    for size in range(11, 20):  # evicts the oldest
        cache.payloads(bytes(size))
    cache.payloads(unit)
    assert len(calls) == 11


def test_payload_cache_switches_itself_off_when_units_never_repeat() -> None:
    cache = PayloadCache(lambda data: [RtpPayload(data, True)], probe_units=16)
    for index in range(16):  # every unit new, like pictures stamped with a send time
        cache.payloads(index.to_bytes(4, "big") * 100)
    assert not cache.enabled
    unit = bytes(400)
    assert cache.payloads(unit) is not cache.payloads(unit), "nothing is kept any more"


def test_sender_report_layout() -> None:
    report = sender_report(0x11223344, 1_700_000_000.5, 123456, 10, 2000, b"vms")
    version, pt, length, ssrc, ntp_s, ntp_f, rtp_ts, packets, octets = struct.unpack(
        "!BBHIIIIII", report[:28]
    )
    assert (version >> 6, pt, length, ssrc) == (2, 200, 6, 0x11223344)
    assert ntp_s == 1_700_000_000 + 2_208_988_800 and ntp_f == 1 << 31
    assert (rtp_ts, packets, octets) == (123456, 10, 2000)
    assert report[29] == 202 and len(report) % 4 == 0  # SDES follows, 32-bit aligned


def test_sender_reports_read_back_what_the_server_writes() -> None:
    """Our client reads the RTCP sender reports our server writes (one library, both
    sides): RTP timestamp and wall clock, to the NTP fraction's precision."""
    packet = sender_report(0x1234, 1_700_000_000.25, 0xFFFF_FFF0, 10, 1000, b"cam")
    assert [(ts, round(wall, 6)) for ts, wall in sender_reports(packet)] == [
        (0xFFFF_FFF0, 1_700_000_000.25)
    ]
    # Cut short, or not RTCP version 2: nothing, rather than a misread clock.
    assert list(sender_reports(packet[:20])) == []
    assert list(sender_reports(b"\x00" + packet[1:])) == []
