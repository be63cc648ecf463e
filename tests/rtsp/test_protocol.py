"""RTSP protocol behaviour seen from a raw-socket client: methods, URLs, errors, auth,
sessions, RTP/RTCP on the wire."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator

import pytest

from tests.eventually import eventually
from vms_core.rtsp import AccessUnit, Credentials, RtspServer, RtspStream

from .clips import Clip, publishing
from .rawclient import (
    RawResponse,
    RawRtspClient,
    basic_authorization,
    digest_authorization,
    digest_challenge,
)

TCP_TRANSPORT = "RTP/AVP/TCP;unicast;interleaved=0-1"


@pytest.fixture
async def client(rtsp_server: RtspServer) -> AsyncIterator[RawRtspClient]:
    raw = await RawRtspClient.connect(rtsp_server.port)
    yield raw
    await raw.close()


async def test_options_lists_methods_and_echoes_cseq(client: RawRtspClient) -> None:
    response = await client.request("OPTIONS", "*")
    assert response.status == 200
    public = response.header("public") or ""
    for method in ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"):
        assert method in public
    assert (await client.request("OPTIONS", "*")).header("cseq") == "2"


async def test_describe_returns_sdp_for_every_track(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam/main", h264_clip.tracks)
    url = rtsp_server.url("cam/main")
    response = await client.request("DESCRIBE", url, {"Accept": "application/sdp"})
    assert response.status == 200
    assert response.header("content-type") == "application/sdp"
    assert response.header("content-base") == url + "/"
    sdp = response.body.decode()
    assert sdp.count("\r\nm=") == 2
    assert "m=video 0 RTP/AVP 96" in sdp and "a=rtpmap:96 H264/90000" in sdp
    assert "sprop-parameter-sets=" in sdp and "packetization-mode=1" in sdp
    assert "a=framerate:10" in sdp and "a=x-dimensions:320,180" in sdp
    assert "a=rtpmap:97 MPEG4-GENERIC/48000/2" in sdp and "mode=AAC-hbr" in sdp
    assert "a=control:trackID=0" in sdp and "a=control:trackID=1" in sdp
    assert "a=range:npt=now-" in sdp


@pytest.mark.parametrize(
    "form",
    ["absolute", "absolute-slash", "path-only", "path-only-slash"],
)
async def test_control_urls_in_every_client_form(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient, form: str
) -> None:
    rtsp_server.add_stream("cam/main", h264_clip.tracks)
    base = {
        "absolute": rtsp_server.url("cam/main"),
        "absolute-slash": rtsp_server.url("cam/main") + "/",
        "path-only": "/cam/main",
        "path-only-slash": "/cam/main/",
    }[form]
    assert (await client.request("DESCRIBE", base)).status == 200
    track_url = base.rstrip("/") + "/trackID=1" + ("/" if base.endswith("/") else "")
    setup = await client.request("SETUP", track_url, {"Transport": TCP_TRANSPORT})
    assert setup.status == 200
    session = setup.session
    play = await client.request("PLAY", base, {"Session": session})
    assert play.status == 200
    assert "trackID=1;seq=" in (play.header("rtp-info") or "")


async def test_errors_have_the_rfc_status_codes(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    assert (await client.request("DESCRIBE", rtsp_server.url("nope"))).status == 404
    assert (await client.request("PLAY", url, {"Session": "DEADBEEF"})).status == 454
    assert (await client.request("PLAY", url)).status == 454
    multicast = {"Transport": "RTP/AVP;multicast;port=5000-5001"}
    assert (await client.request("SETUP", f"{url}/trackID=0", multicast)).status == 461
    srtp = {"Transport": "RTP/SAVP;unicast;client_port=5000-5001"}
    assert (await client.request("SETUP", f"{url}/trackID=0", srtp)).status == 461
    # Aggregate SETUP of a two-track stream is ambiguous.
    assert (await client.request("SETUP", url, {"Transport": TCP_TRANSPORT})).status == 459
    assert (
        await client.request("SETUP", f"{url}/trackID=7", {"Transport": TCP_TRANSPORT})
    ).status == 404
    assert (await client.request("RECORD", url)).status == 501


async def test_malformed_and_huge_requests_get_400_and_others_are_unaffected(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks)
    bad = await RawRtspClient.connect(rtsp_server.port)
    bad.writer.write(b"HELLO\r\nCSeq: 4\r\n\r\n")
    response = await asyncio.wait_for(bad.read_response(), 5)
    assert response.status == 400 and response.header("cseq") == "4"
    await bad.close()

    nocseq = await RawRtspClient.connect(rtsp_server.port)
    nocseq.writer.write(b"OPTIONS * RTSP/1.0\r\n\r\n")
    assert (await asyncio.wait_for(nocseq.read_response(), 5)).status == 400
    await nocseq.close()

    huge = await RawRtspClient.connect(rtsp_server.port)
    huge.writer.write(b"DESCRIBE /cam RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + b"a" * 100_000)
    response = await asyncio.wait_for(huge.read_response(), 5)
    assert response.status == 400
    assert await asyncio.wait_for(huge.reader.read(), 5) == b""  # connection closed
    await huge.close()

    assert (await client.request("DESCRIBE", rtsp_server.url("cam"))).status == 200


async def test_unauthenticated_request_gets_both_challenges(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks, Credentials("admin", "pw"))
    response = await client.request("DESCRIBE", rtsp_server.url("cam"))
    assert response.status == 401
    challenges = response.headers["www-authenticate"]
    assert challenges[0].startswith('Digest realm="vms"') and 'qop="auth"' in challenges[0]
    assert challenges[1] == 'Basic realm="vms"'
    # OPTIONS stays open, as cameras do.
    assert (await client.request("OPTIONS", rtsp_server.url("cam"))).status == 200


async def test_basic_auth(rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks, Credentials("admin", "pw"))
    url = rtsp_server.url("cam")
    good = {"Authorization": basic_authorization("admin", "pw")}
    bad = {"Authorization": basic_authorization("admin", "nope")}
    assert (await client.request("DESCRIBE", url, bad)).status == 401
    assert (await client.request("DESCRIBE", url, good)).status == 200
    setup = await client.request("SETUP", f"{url}/trackID=0", {**good, "Transport": TCP_TRANSPORT})
    assert setup.status == 200


async def test_basic_refused_when_stream_allows_only_digest(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks, Credentials("a", "b", schemes=("digest",)))
    response = await client.request(
        "DESCRIBE", rtsp_server.url("cam"), {"Authorization": basic_authorization("a", "b")}
    )
    assert response.status == 401
    assert all(v.startswith("Digest") for v in response.headers["www-authenticate"])


@pytest.mark.parametrize("use_qop", [True, False])
async def test_digest_auth_with_and_without_qop(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient, use_qop: bool
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks, Credentials("admin", "pw", realm="city"))
    url = rtsp_server.url("cam")
    challenge = digest_challenge(await client.request("DESCRIBE", url))
    assert challenge["realm"] == "city"
    wrong = digest_authorization(challenge, "admin", "bad", "DESCRIBE", url, use_qop)
    assert (await client.request("DESCRIBE", url, {"Authorization": wrong})).status == 401
    right = digest_authorization(challenge, "admin", "pw", "DESCRIBE", url, use_qop)
    assert (await client.request("DESCRIBE", url, {"Authorization": right})).status == 200
    # A response computed for another method does not replay.
    assert (await client.request("SETUP", url + "/trackID=0", {"Authorization": right,
            "Transport": TCP_TRANSPORT})).status == 401  # fmt: skip


async def test_expired_nonce_is_reported_stale(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks, Credentials("admin", "pw"))
    rtsp_server.authenticator.nonces.lifetime_s = 0.2
    url = rtsp_server.url("cam")
    challenge = digest_challenge(await client.request("DESCRIBE", url))
    await asyncio.sleep(0.4)
    answer = digest_authorization(challenge, "admin", "pw", "DESCRIBE", url, True)
    response = await client.request("DESCRIBE", url, {"Authorization": answer})
    assert response.status == 401
    assert "stale=TRUE" in response.headers["www-authenticate"][0]


async def test_unavailable_stream_answers_503(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    stream.available = False
    url = rtsp_server.url("cam")
    assert (await client.request("DESCRIBE", url)).status == 503
    assert (
        await client.request("SETUP", url + "/trackID=0", {"Transport": TCP_TRANSPORT})
    ).status == 503
    stream.available = True
    assert (await client.request("DESCRIBE", url)).status == 200


async def describe_and_set_up_video(client: RawRtspClient, url: str) -> RawResponse:
    """DESCRIBE, then SETUP of the video track over TCP (channels 0-1)."""
    assert (await client.request("DESCRIBE", url)).status == 200
    return await client.request("SETUP", url + "/trackID=0", {"Transport": TCP_TRANSPORT})


def rtp_fields(data: bytes) -> tuple[bool, int, int, int, int]:
    """marker, payload type, sequence number, timestamp, SSRC."""
    _, second, seq, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
    return bool(second & 0x80), second & 0x7F, seq, timestamp, ssrc


async def test_tcp_play_starts_at_keyframe_with_sender_reports(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    async with publishing(stream, h264_clip):
        await asyncio.sleep(0.35)  # join mid-GOP
        setup = await describe_and_set_up_video(client, url)
        session = setup.session
        assert "timeout=" in (setup.header("session") or "")
        transport = setup.header("transport") or ""
        assert "interleaved=0-1" in transport and "ssrc=" in transport
        play = await client.request("PLAY", url, {"Session": session})
        rtp_info = play.header("rtp-info") or ""
        announced_seq = int(rtp_info.split("seq=")[1].split(";")[0])
        rtp: list[bytes] = []
        reports: list[bytes] = []
        async with asyncio.timeout(15):  # hang guard: two reports come within ~2 s
            while len(reports) < 2 or len(rtp) < 20:
                frame = await client.read_frame()
                (rtp if frame.channel == 0 else reports).append(frame.data)
        assert (await client.request("TEARDOWN", url, {"Session": session})).status == 200
    assert stream.client_count == 0
    _marker, pt, first_seq, _, ssrc = rtp_fields(rtp[0])
    assert pt == 96 and first_seq == announced_seq
    assert rtp[0][12] & 0x1F == 7, "the first packet is the keyframe's SPS"
    seqs = [rtp_fields(packet)[2] for packet in rtp]
    assert seqs == [(first_seq + i) & 0xFFFF for i in range(len(seqs))]
    assert any(rtp_fields(packet)[0] for packet in rtp), "marker bit ends each picture"
    # RTCP SR: NTP wall-clock time next to the RTP timestamp, about one per second.
    report = reports[0]
    assert report[1] == 200 and struct.unpack("!I", report[4:8])[0] == ssrc
    ntp_seconds = struct.unpack("!I", report[8:12])[0] - 2_208_988_800
    assert abs(ntp_seconds - time.time()) < 5
    assert len(reports) >= 2


async def test_audio_starts_with_the_first_picture(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    # Audio ahead of the first keyframe would end a client's probe (FFmpeg counts any
    # stream towards analyzeduration) before it has seen the picture size.
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    async with publishing(stream, h264_clip):
        await asyncio.sleep(0.35)  # join mid-GOP: the next keyframe is ~0.65 s away
        setup = await describe_and_set_up_video(client, url)
        session = setup.session
        audio = await client.request(
            "SETUP",
            url + "/trackID=1",
            {"Transport": "RTP/AVP/TCP;unicast;interleaved=2-3", "Session": session},
        )
        assert audio.status == 200
        assert (await client.request("PLAY", url, {"Session": session})).status == 200
        channels: list[int] = []
        while len(channels) < 40:
            frame = await asyncio.wait_for(client.read_frame(), 3)
            if frame.channel in (0, 2):  # RTP of video, of audio
                channels.append(frame.channel)
        await client.request("TEARDOWN", url, {"Session": session})
    assert channels[0] == 0, "audio arrived before the first picture"
    assert 2 in channels, "audio follows once the picture has started"


async def test_udp_delivers_rtp_and_rtcp_to_client_ports(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    loop = asyncio.get_running_loop()
    received: dict[str, list[bytes]] = {"rtp": [], "rtcp": []}

    class Collector(asyncio.DatagramProtocol):
        def __init__(self, kind: str) -> None:
            self.kind = kind

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            received[self.kind].append(data)

    rtp_transport, _ = await loop.create_datagram_endpoint(
        lambda: Collector("rtp"), local_addr=("127.0.0.1", 0)
    )
    rtp_port = rtp_transport.get_extra_info("sockname")[1]
    rtcp_transport, _ = await loop.create_datagram_endpoint(
        lambda: Collector("rtcp"), local_addr=("127.0.0.1", 0)
    )
    rtcp_port = rtcp_transport.get_extra_info("sockname")[1]
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    try:
        async with publishing(stream, h264_clip):
            transport = f"RTP/AVP;unicast;client_port={rtp_port}-{rtcp_port}"
            setup = await client.request("SETUP", url + "/trackID=1", {"Transport": transport})
            assert setup.status == 200
            server_ports = (setup.header("transport") or "").split("server_port=")[1].split(";")[0]
            low, high = (int(p) for p in server_ports.split("-"))
            assert low % 2 == 0 and high == low + 1
            session = setup.session
            assert (await client.request("PLAY", url, {"Session": session})).status == 200
            await asyncio.sleep(1.2)
    finally:
        rtp_transport.close()
        rtcp_transport.close()
    assert len(received["rtp"]) > 20
    assert all(rtp_fields(packet)[1] == 97 for packet in received["rtp"])
    # RFC 3640 AU-headers-length is 16 bits, one AU-header per packet.
    assert all(packet[12:14] == b"\x00\x10" for packet in received["rtp"])
    assert received["rtcp"] and received["rtcp"][0][1] == 200


async def test_silent_session_is_reaped_and_keepalive_keeps_it(h264_clip: Clip) -> None:
    server = RtspServer(session_timeout_s=1.0)
    await server.start()
    try:
        stream = server.add_stream("cam", h264_clip.tracks)
        url = server.url("cam")
        silent = await RawRtspClient.connect(server.port)
        talker = await RawRtspClient.connect(server.port)
        talker_session = await talker.play_tcp(url, tracks=2)
        await silent.play_tcp(url, tracks=2)
        assert stream.client_count == 2
        for _ in range(6):
            await asyncio.sleep(0.4)
            keepalive = await talker.request("GET_PARAMETER", url, {"Session": talker_session})
            assert keepalive.status == 200
        assert stream.client_count == 1
        assert await asyncio.wait_for(silent.reader.read(), 3) == b""  # its connection closed
        await talker.close()
        await silent.close()
    finally:
        await server.stop()


async def test_closing_the_connection_ends_the_session(
    rtsp_server: RtspServer, h264_clip: Clip
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    raw = await RawRtspClient.connect(rtsp_server.port)
    await raw.play_tcp(rtsp_server.url("cam"), tracks=2)
    assert stream.client_count == 1 and len(rtsp_server.sessions) == 1
    await raw.close()
    await eventually(lambda: not rtsp_server.sessions, 5, 0.02, what="the session reaped")
    assert stream.client_count == 0


async def publish_fast(stream: RtspStream, clip: Clip, seconds: float) -> int:
    """Publish the clip up to 100 times faster than real time; returns video units sent."""
    video_units = 0
    loops = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for unit in clip.units:
            if unit.keyframe and unit.track == 0:
                await asyncio.sleep(0.01)
            offset = round(loops * clip.period_s * clip.tracks[unit.track].clock_rate)
            stream.publish(
                AccessUnit(
                    unit.track, unit.data, unit.timestamp + offset, time.time(), unit.keyframe
                )
            )
            video_units += unit.track == 0
        loops += 1
    return video_units


async def test_slow_tcp_client_drops_to_keyframes_without_slowing_others(h264_clip: Clip) -> None:
    server = RtspServer(max_tcp_buffer=256 * 1024)
    await server.start()
    try:
        stream = server.add_stream("cam", h264_clip.tracks)
        url = server.url("cam")
        fast = await RawRtspClient.connect(server.port)
        slow_socket = socket.socket()
        slow_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_socket.connect(("127.0.0.1", server.port))
        slow = RawRtspClient(*await asyncio.open_connection(sock=slow_socket))
        fast_session = await fast.play_tcp(url, tracks=2)
        await slow.play_tcp(url, tracks=2)
        received = 0

        async def read_fast() -> None:
            nonlocal received
            while True:
                frame = await fast.read_frame()
                if frame.channel == 0 and frame.data[1] & 0x80:  # marker: end of a picture
                    received += 1

        reader = asyncio.create_task(read_fast())
        sent = await publish_fast(stream, h264_clip, 2.0)  # the slow client never reads
        await asyncio.sleep(0.3)
        reader.cancel()
        dropped = {session.id: session.dropped_units for session in stream.sessions}
        await fast.close()
        await slow.close()
    finally:
        await server.stop()
    assert dropped.pop(fast_session) == 0
    assert next(iter(dropped.values())) > 0, dropped
    assert received >= sent - 10  # the fast client got (almost) every picture


async def test_pause_stops_delivery_and_play_resumes(
    rtsp_server: RtspServer, h264_clip: Clip, client: RawRtspClient
) -> None:
    stream = rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    async with publishing(stream, h264_clip):
        session = await client.play_tcp(url, tracks=2)
        await asyncio.wait_for(client.read_frame(), 3)
        assert (await client.request("PAUSE", url, {"Session": session})).status == 200
        assert stream.client_count == 0
        client.frames.clear()
        await asyncio.sleep(0.3)
        # Anything still queued was sent before the PAUSE; after it, silence.
        while True:
            try:
                await asyncio.wait_for(client.read_frame(), 0.3)
            except TimeoutError:
                break
        assert (await client.request("PLAY", url, {"Session": session})).status == 200
        assert stream.client_count == 1
        frame = await asyncio.wait_for(client.read_frame(), 3)
        assert frame.channel in (0, 1, 2, 3)


async def test_remove_stream_disconnects_clients_and_forgets_the_path(
    rtsp_server: RtspServer, h264_clip: Clip
) -> None:
    rtsp_server.add_stream("cam", h264_clip.tracks)
    url = rtsp_server.url("cam")
    watcher = await RawRtspClient.connect(rtsp_server.port)
    await watcher.play_tcp(url, tracks=2)
    rtsp_server.remove_stream("/cam/")
    assert await asyncio.wait_for(watcher.reader.read(), 3) == b""
    assert not rtsp_server.sessions
    newcomer = await RawRtspClient.connect(rtsp_server.port)
    assert (await newcomer.request("DESCRIBE", url)).status == 404
    await newcomer.close()
    await watcher.close()
