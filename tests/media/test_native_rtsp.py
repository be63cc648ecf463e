"""The native RTSP/TCP ingest: depacketizing against the project's own packetizer, auth,
G.711, and the hand-over to FFmpeg's demuxer for what it does not handle."""

from __future__ import annotations

import itertools
import struct
import time
from pathlib import Path

import pytest

from tests.media.mediatools import decode_errors, probe
from tests.media.rtsp_camera import RtspCameras, small_loop
from tests.media.states import States
from vms_core.media.catalog import MemoryCatalog
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import Ingest, IngestOptions, IngestState
from vms_core.media.native.connection import RtspConnection
from vms_core.media.native.depacketize import AacDepacketizer, H264Depacketizer
from vms_core.media.native.session import NativeSession, UseFFmpeg
from vms_core.media.native.source import NativeRtspSource
from vms_core.media.packet import MediaPacket
from vms_core.media.recorder import CameraRecorder
from vms_core.media.segment_writer import SegmentPolicy
from vms_core.media.sources import make_ingest
from vms_core.rtsp.auth import Credentials
from vms_core.rtsp.codecs import split_annexb
from vms_core.rtsp.rtp import packetize_aac, packetize_h264, rtp_header
from vms_core.rtsp.sdp import parse_sdp
from vms_core.simulator.media.encoder import LoopSpec, encode_loop
from vms_core.simulator.media.profiles import VideoProfile
from vms_core.simulator.media.scene import SceneConfig


def _rtp(payloads: list[tuple[bytes, bool]], timestamp: int, seq: int) -> list[bytes]:
    return [
        rtp_header(96, marker, (seq + i) & 0xFFFF, timestamp, 1234) + data
        for i, (data, marker) in enumerate(payloads)
    ]


class Interleaved:
    """Feeds RTP packets through RtspConnection's ``$``-frame parser (and its FU-A fast
    path) in odd-sized chunks, as TCP delivers them."""

    def __init__(self, depacketizer: H264Depacketizer) -> None:
        self.connection = RtspConnection("rtsp://127.0.0.1/x", 1.0)
        self.connection.handlers[0] = depacketizer.packet
        self.connection.video_channel, self.connection.video = 0, depacketizer
        self.pending = b""

    def packet(self, packet: memoryview) -> None:
        self.pending += b"$\x00" + struct.pack("!H", len(packet)) + bytes(packet)
        connection = self.connection
        while len(self.pending) >= 997:
            chunk, self.pending = self.pending[:997], self.pending[997:]
            assert connection.feed(chunk) == len(chunk)

    def flush(self) -> None:
        self.pending += b"\r\n"  # an RTSP-level byte: pushes the last frame through
        while self.pending:
            chunk, self.pending = self.pending, b""
            assert self.connection.feed(chunk) == len(chunk)


@pytest.mark.parametrize("path", ["direct", "interleaved"])
def test_h264_units_come_back_exactly_as_the_server_packetized_them(path: str) -> None:
    loop = small_loop(None)
    sets = [loop.parameter_sets["sps"], loop.parameter_sets["pps"]]
    out: list[tuple[bytes, int, bool]] = []
    depacketizer = H264Depacketizer(lambda data, ts, key: out.append((data, ts, key)))
    feed = Interleaved(depacketizer) if path == "interleaved" else depacketizer
    seq = 65000  # crosses the 16-bit wrap
    sent: list[list[bytes]] = []
    for index, unit in enumerate(loop.video.units[:25]):
        payloads = packetize_h264(unit.data, sets)
        sent.append([p.data for p in payloads])
        for packet in _rtp([(p.data, p.marker) for p in payloads], 3000 * index, seq):
            feed.packet(memoryview(packet))
        seq += len(payloads)
    if isinstance(feed, Interleaved):
        feed.flush()
    assert len(out) == 25
    assert any(len(p) > 2 for p in sent), "no middle FU-A fragment (fast path untested)"
    for index, (data, ts, keyframe) in enumerate(out):
        unit = loop.video.units[index]
        expected = split_annexb(unit.data)
        if unit.keyframe and not any(n[0] & 0x1F == 7 for n in expected):
            expected = sets + expected
        assert split_annexb(data) == expected
        assert (ts, keyframe) == (3000 * index, unit.keyframe)
    assert depacketizer.sps == sets[0] and depacketizer.pps == sets[1]


def test_a_lost_packet_drops_pictures_until_the_next_keyframe() -> None:
    loop = small_loop(None)
    sets = [loop.parameter_sets["sps"], loop.parameter_sets["pps"]]
    out: list[bool] = []
    depacketizer = H264Depacketizer(lambda data, ts, key: out.append(key))
    seq = 0
    for index, unit in enumerate(loop.video.units[:25]):
        packets = _rtp([(p.data, p.marker) for p in packetize_h264(unit.data, sets)], index, seq)
        seq += len(packets)
        for number, packet in enumerate(packets):
            if index == 3 and number == 0:
                continue  # lost
            depacketizer.packet(memoryview(packet))
    keyframes = [i for i, u in enumerate(loop.video.units[:25]) if u.keyframe]
    resumed = next(k for k in keyframes if k > 3)
    assert len(out) == 3 + (25 - resumed)
    assert out[3] is True  # the first picture after the loss is a keyframe


def test_stap_a_and_aac_fragments() -> None:
    out: list[bytes] = []
    depacketizer = H264Depacketizer(lambda data, ts, key: out.append(data))
    sps, pps, idr = b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80", b"\x65\x88\x84\x21"
    stap = b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in (sps, pps))
    for packet in _rtp([(stap, False), (idr, True)], 90000, 7):
        depacketizer.packet(memoryview(packet))
    assert split_annexb(out[0]) == [sps, pps, idr]

    frames: list[tuple[bytes, int]] = []
    aac = AacDepacketizer(lambda data, ts: frames.append((data, ts)), {})
    for index, frame in enumerate((b"\x21" * 300, b"\x22" * 200)):
        for packet in _rtp([(p.data, p.marker) for p in packetize_aac(frame)], 1024 * index, 0):
            aac.packet(memoryview(packet))
    # Two AUs in one packet (AU-headers-length 32 bits), then one AU in two fragments.
    two = struct.pack("!HHH", 32, 3 << 3, 2 << 3) + b"abc" + b"de"
    big = b"x" * 1000
    header = struct.pack("!HH", 16, len(big) << 3)
    aac.packet(memoryview(rtp_header(97, True, 5, 4096, 1) + two))
    aac.packet(memoryview(rtp_header(97, False, 6, 6144, 1) + header + big[:600]))
    aac.packet(memoryview(rtp_header(97, True, 7, 6144, 1) + header + big[600:]))
    assert frames == [
        (b"\x21" * 300, 0), (b"\x22" * 200, 1024), (b"abc", 4096), (b"de", 5120), (big, 6144),
    ]  # fmt: skip


def test_digest_login_and_a_refused_password_names_the_problem(
    rtsp_cameras: RtspCameras,
) -> None:
    url = rtsp_cameras.add("locked", small_loop("AAC"), Credentials("admin", "s3cret"))
    good = url.replace("rtsp://", "rtsp://admin:s3cret@")
    bad = url.replace("rtsp://", "rtsp://admin:wrong@")
    states, refused = States(), States()
    ingest = make_ingest("locked", good, StreamHub("locked"), on_state=states)
    wrong = make_ingest("wrong", bad, StreamHub("wrong"), on_state=refused)
    assert isinstance(ingest.source, NativeRtspSource)
    ingest.start()
    wrong.start()
    try:
        states.wait(IngestState.STREAMING)
        status = refused.wait(IngestState.ERROR)
        assert status.reason is not None
        assert "401" in status.reason and "password" in status.reason
        assert ingest.source.uses_ffmpeg is None
        # A refused login is not asked again at once (two a second would lock the account
        # on many cameras): an observation window in which no new connection may come.
        connections = rtsp_cameras.server.connections
        time.sleep(1.5)
        assert rtsp_cameras.server.connections == connections
    finally:
        ingest.stop()
        wrong.stop()


def test_g711_camera_records_video_and_offers_its_audio_live(
    rtsp_cameras: RtspCameras, tmp_path: Path
) -> None:
    url = rtsp_cameras.add("pcmu", small_loop("PCMU"))
    states = States()
    recorder = CameraRecorder(
        "pcmu",
        url,
        tmp_path,
        MemoryCatalog(),
        policy=SegmentPolicy(segment_seconds=2.0, stagger_seconds=0.0),
        ingest_options=IngestOptions(read_interval=0.1),
        on_state=states,
    )
    audio: list[MediaPacket] = []
    subscription = recorder.hub.subscribe("audio-tap", 500)
    recorder.start()
    try:
        states.wait(IngestState.STREAMING)
        info = recorder.ingest.stream_info
        assert info is not None
        assert (info.video_codec, info.audio_codec, info.audio_sample_rate) == (
            "h264", "pcm_mulaw", 8000,
        )  # fmt: skip
        while len(audio) < 50:
            packet = subscription.get(timeout=5)
            assert packet is not None
            if packet.kind == "audio":
                audio.append(packet)
        assert all(len(bytes(p.data)) == 160 for p in audio)  # 20 ms of samples each
        ticks = [b.pts - a.pts for a, b in itertools.pairwise(audio)]
        assert set(ticks) == {160}
    finally:
        recorder.stop()
    files = sorted(tmp_path.rglob("*.mp4"))
    assert files
    assert probe(files[0]).codecs == ["h264"]  # G.711 is not recorded (see media README)
    assert not decode_errors(files[0])


def test_h265_camera_is_handed_to_ffmpeg_and_recorded(
    rtsp_cameras: RtspCameras, tmp_path: Path
) -> None:
    url = rtsp_cameras.add("hevc", small_loop("AAC", video="H265"))
    states = States()
    hub = StreamHub("hevc")
    ingest = make_ingest("hevc", url, hub, on_state=states)
    source = ingest.source
    assert isinstance(source, NativeRtspSource)
    subscription = hub.subscribe("tap", 100)
    ingest.start()
    try:
        states.wait(IngestState.STREAMING, 15)
        assert source.uses_ffmpeg is not None and "H265" in source.uses_ffmpeg
        info = ingest.stream_info
        assert info is not None and info.video_codec == "hevc"
        packet = subscription.get(timeout=5)
        assert packet is not None and packet.kind in ("video", "audio")
    finally:
        ingest.stop()


VIDEO_ONLY_SDP = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:v\r\n"


class Fed:
    """One native connection's state, fed RTP packets directly (no socket): the units
    arrive 'live' so the stream is dated at once."""

    def __init__(self) -> None:
        self.hub = StreamHub("unit", keep_gop=False)
        self.subscription = self.hub.subscribe("tap", 1000)
        ingest = Ingest("unit", "rtsp://127.0.0.1:9/unit", self.hub, NativeRtspSource())
        self.connection = RtspConnection(ingest.url, 1.0)
        self.run = NativeSession(ingest, self.connection, parse_sdp(VIDEO_ONLY_SDP))
        self.seq = 0

    def send(self, data: bytes, sets: list[bytes], timestamp: int) -> None:
        self.connection.recv_live, self.connection.recv_time = True, time.time()
        payloads = [(p.data, p.marker) for p in packetize_h264(data, sets)]
        for packet in _rtp(payloads, timestamp, self.seq):
            self.run.depacketizer.packet(memoryview(packet))
        self.seq += len(payloads)

    def published(self) -> list[MediaPacket]:
        out = []
        while (packet := self.subscription.get(timeout=0)) is not None:
            out.append(packet)
        return out


def test_b_frames_hand_the_camera_to_ffmpeg() -> None:
    loop = small_loop(None)
    sets = [loop.parameter_sets["sps"], loop.parameter_sets["pps"]]
    fed = Fed()
    units = loop.video.units
    fed.send(units[0].data, sets, 0)
    fed.send(units[1].data, sets, 18000)
    with pytest.raises(UseFFmpeg, match="B-frames"):
        fed.send(units[2].data, sets, 9000)  # presented before the picture sent before it


def test_new_parameter_sets_in_band_start_a_new_session() -> None:
    first = small_loop(None)
    second = encode_loop(
        LoopSpec(SceneConfig(loop_seconds=2), VideoProfile(160, 96, 10, 100_000), None)
    )
    fed = Fed()
    timestamp = 0
    for loop in (first, second):
        sets = [loop.parameter_sets["sps"], loop.parameter_sets["pps"]]
        for unit in loop.video.units[:12]:
            fed.send(unit.data, sets, timestamp)
            timestamp += 9000
    packets = fed.published()
    sizes = [(p.session.number, p.session.info.width, p.session.info.height) for p in packets]
    assert sizes[0] == (1, 320, 180) and sizes[-1] == (2, 160, 96)
    switch = next(i for i, p in enumerate(packets) if p.session.number == 2)
    assert packets[switch].keyframe  # the new session starts on the new keyframe
    assert all(b.wall > a.wall for a, b in itertools.pairwise(packets))
