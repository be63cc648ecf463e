"""One client's RTSP session: its tracks, where their RTP goes, and the send path."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from vms_core.rtsp.media import AccessUnit, TrackKind
from vms_core.rtsp.rtp import (
    RtpPayload,
    interleaved_rtp_header,
    rtp_header,
    sender_report,
)

logger = logging.getLogger(__name__)

SENDER_REPORT_INTERVAL_S = 1.0
CNAME = b"vms"
_INTERLEAVED_PREFIX = struct.Struct("!BBH")

LowerTransport = Literal["tcp", "udp"]


class SessionConnection(Protocol):
    """What a session needs from the RTSP connection that created it."""

    @property
    def transport(self) -> asyncio.WriteTransport: ...

    def close(self) -> None: ...


class RtcpListener(asyncio.DatagramProtocol):
    """Receives on a session's UDP ports: anything from the client counts as a keep-alive."""

    def __init__(self, on_activity: Callable[[], None]) -> None:
        self._on_activity = on_activity

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._on_activity()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable when a UDP client went away; the session timeout reaps it.
        logger.debug("UDP error on RTSP session port: %s", exc)


@dataclass(slots=True)
class UdpDestination:
    rtp: asyncio.DatagramTransport
    rtcp: asyncio.DatagramTransport
    rtp_addr: tuple[str, int]
    rtcp_addr: tuple[str, int]
    server_ports: tuple[int, int]

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@dataclass(slots=True)
class ClientTrack:
    """Per-client RTP state of one track: its own SSRC, sequence and timestamp offset."""

    index: int
    kind: TrackKind
    payload_type: int
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    timestamp_offset: int = field(default_factory=lambda: secrets.randbits(32))
    interleaved: tuple[int, int] | None = None
    udp: UdpDestination | None = None
    waiting_for_keyframe: bool = True
    packets: int = 0
    octets: int = 0
    last_report: float = float("-inf")


class RtspSession:
    """Created by SETUP; sends RTP while playing; ends on TEARDOWN, timeout or disconnect."""

    def __init__(
        self,
        stream_path: str,
        connection: SessionConnection,
        timeout_s: float,
        max_tcp_buffer: int,
        on_close: Callable[[RtspSession], None],
    ) -> None:
        self.id = secrets.token_hex(8).upper()
        self.stream_path = stream_path
        self.connection = connection
        self.timeout_s = timeout_s
        self.max_tcp_buffer = max_tcp_buffer
        self.lower_transport: LowerTransport | None = None
        self.tracks: dict[int, ClientTrack] = {}
        self.playing = False
        self.closed = False
        self.dropped_units = 0
        self.last_activity = time.monotonic()
        self._on_close = on_close

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def expired(self, now: float) -> bool:
        return now - self.last_activity > self.timeout_s

    def play(self) -> None:
        for track in self.tracks.values():
            # Video starts at the next keyframe, and audio with it (see deliver).
            track.waiting_for_keyframe = track.kind == "video"
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.playing = False
        for track in self.tracks.values():
            if track.udp is not None:
                track.udp.close()
        self._on_close(self)

    def deliver(self, unit: AccessUnit, payloads: list[RtpPayload]) -> None:
        """Send one access unit's packets with this client's RTP headers."""
        track = self.tracks.get(unit.track)
        if track is None or not self.playing:
            return
        if track.waiting_for_keyframe:
            if not unit.keyframe:
                return
            track.waiting_for_keyframe = False
        elif track.kind != "video" and self._video_waiting():
            # Audio before the first picture would make a client's probe (FFmpeg's
            # analyzeduration counts any stream) end before it has seen the picture size.
            return
        timestamp = (unit.timestamp + track.timestamp_offset) & 0xFFFFFFFF
        report_due = time.monotonic() - track.last_report >= SENDER_REPORT_INTERVAL_S
        if track.interleaved is not None:
            self._deliver_tcp(track, unit, payloads, timestamp, report_due)
        elif track.udp is not None:
            self._deliver_udp(track, unit, payloads, timestamp, report_due)

    def _video_waiting(self) -> bool:
        return any(t.kind == "video" and t.waiting_for_keyframe for t in self.tracks.values())

    def _report(self, track: ClientTrack, unit: AccessUnit, timestamp: int) -> bytes:
        track.last_report = time.monotonic()
        return sender_report(
            track.ssrc, unit.wallclock, timestamp, track.packets, track.octets, CNAME
        )

    def _deliver_tcp(
        self,
        track: ClientTrack,
        unit: AccessUnit,
        payloads: list[RtpPayload],
        timestamp: int,
        report_due: bool,
    ) -> None:
        assert track.interleaved is not None
        transport = self.connection.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.max_tcp_buffer:
            # The client cannot keep up: drop its video to the next keyframe.
            self.dropped_units += 1
            for other in self.tracks.values():
                if other.kind == "video":
                    other.waiting_for_keyframe = True
            return
        rtp_channel, rtcp_channel = track.interleaved
        parts: list[bytes] = []
        if report_due:
            report = self._report(track, unit, timestamp)
            parts.append(_INTERLEAVED_PREFIX.pack(0x24, rtcp_channel, len(report)))
            parts.append(report)
        seq = track.seq
        pt = track.payload_type
        ssrc = track.ssrc
        octets = 0
        for payload in payloads:
            parts.append(
                interleaved_rtp_header(
                    rtp_channel,
                    len(payload.data),
                    pt,
                    payload.marker,
                    seq,
                    (timestamp + payload.timestamp_offset) & 0xFFFFFFFF,
                    ssrc,
                )
            )
            parts.append(payload.data)
            octets += len(payload.data)
            seq = (seq + 1) & 0xFFFF
        track.seq = seq
        track.packets += len(payloads)
        track.octets += octets
        transport.write(b"".join(parts))

    def _deliver_udp(
        self,
        track: ClientTrack,
        unit: AccessUnit,
        payloads: list[RtpPayload],
        timestamp: int,
        report_due: bool,
    ) -> None:
        udp = track.udp
        assert udp is not None
        if report_due:
            udp.rtcp.sendto(self._report(track, unit, timestamp), udp.rtcp_addr)
        seq = track.seq
        for payload in payloads:
            header = rtp_header(
                track.payload_type,
                payload.marker,
                seq,
                (timestamp + payload.timestamp_offset) & 0xFFFFFFFF,
                track.ssrc,
            )
            udp.rtp.sendto(header + payload.data, udp.rtp_addr)
            track.octets += len(payload.data)
            seq = (seq + 1) & 0xFFFF
        track.seq = seq
        track.packets += len(payloads)


def bind_port_pair(host: str, attempts: int = 32) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on consecutive ports, the first even (RFC 3550 section 11)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(attempts):
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.bind((host, 0))
            port = rtp.getsockname()[1]
            if port % 2 == 0 and port < 65535:
                rtcp = socket.socket(family, socket.SOCK_DGRAM)
                try:
                    rtcp.bind((host, port + 1))
                except OSError:
                    rtcp.close()
                else:
                    rtp.setblocking(False)
                    rtcp.setblocking(False)
                    return rtp, rtcp
        except OSError:
            pass
        rtp.close()
    raise OSError("no free UDP port pair")


async def open_udp_destination(
    local_host: str,
    client_host: str,
    client_ports: tuple[int, int],
    on_activity: Callable[[], None],
) -> UdpDestination:
    loop = asyncio.get_running_loop()
    rtp_sock, rtcp_sock = bind_port_pair(local_host)
    server_ports = (rtp_sock.getsockname()[1], rtcp_sock.getsockname()[1])
    rtp, _ = await loop.create_datagram_endpoint(lambda: RtcpListener(on_activity), sock=rtp_sock)
    rtcp, _ = await loop.create_datagram_endpoint(lambda: RtcpListener(on_activity), sock=rtcp_sock)
    return UdpDestination(
        rtp=rtp,
        rtcp=rtcp,
        rtp_addr=(client_host, client_ports[0]),
        rtcp_addr=(client_host, client_ports[1]),
        server_ports=server_ports,
    )
