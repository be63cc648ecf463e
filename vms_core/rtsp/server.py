"""The RTSP server (RFC 2326): connections, request handling, sessions and their reaping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from vms_core.rtsp.auth import Authenticator, Credentials
from vms_core.rtsp.limits import MAX_HEAD_BYTES, decimal, shown
from vms_core.rtsp.media import TrackInfo
from vms_core.rtsp.message import (
    BadRequest,
    RtspRequest,
    RtspResponse,
    parse_head,
    request_path,
)
from vms_core.rtsp.session import ClientTrack, LowerTransport, RtspSession, open_udp_destination
from vms_core.rtsp.stream import RtspStream

logger = logging.getLogger(__name__)

MAX_CHANNEL = 255  # an interleaved channel is one byte (RFC 2326 10.12)
# Sessions one client connection may hold at once (a player needs one): the rest wait
# for the reaper, so a client cannot pile them up.
MAX_SESSIONS_PER_CONNECTION = 16
PUBLIC_METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_TRACK_CONTROL = re.compile(r"trackID=([0-9]{1,5})")
_CSEQ = re.compile(rb"\r?\ncseq\s*:\s*(\d+)", re.IGNORECASE)


class RtspServer:
    """Serves ``RtspStream``s over RTSP/1.0 with RTP over TCP (interleaved) or UDP."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        session_timeout_s: float = 60.0,
        max_tcp_buffer: int = 1024 * 1024,
    ) -> None:
        self.host = host
        self.port = port
        self.session_timeout_s = session_timeout_s
        # Bytes queued to one TCP client beyond which its video skips to the next keyframe.
        self.max_tcp_buffer = max_tcp_buffer
        self.authenticator = Authenticator()
        self.streams: dict[str, RtspStream] = {}
        self.sessions: dict[str, RtspSession] = {}
        self._connections: set[RtspConnection] = set()
        self._server: asyncio.Server | None = None
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_HEAD_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._reaper = asyncio.create_task(self._reap_forever(), name="rtsp-session-reaper")
        logger.info("RTSP server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            # wait() neither raises the reaper's CancelledError nor swallows our own.
            await asyncio.wait([self._reaper])
            if not self._reaper.cancelled():
                self._reaper.result()  # a reaper that failed says so
        if self._server is not None:
            self._server.close()
        tasks = [connection.task for connection in self._connections if connection.task]
        for connection in list(self._connections):
            connection.close()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def add_stream(
        self, path: str, tracks: Sequence[TrackInfo], credentials: Credentials | None = None
    ) -> RtspStream:
        key = request_path(path)
        if key in self.streams:
            raise ValueError(f"stream {key!r} already exists")
        stream = RtspStream(key, tracks, credentials)
        self.streams[key] = stream
        return stream

    def remove_stream(self, path: str) -> None:
        stream = self.streams.pop(request_path(path), None)
        if stream is not None:
            stream.disconnect_all()

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{host}:{self.port}/{request_path(path)}"

    def resolve(self, uri: str) -> tuple[RtspStream, int | None] | None:
        """The stream a request URI names, and the track (None for the aggregate URL)."""
        path = request_path(uri)
        stream = self.streams.get(path)
        if stream is not None:
            return stream, None
        head, _, tail = path.rpartition("/")
        match = _TRACK_CONTROL.fullmatch(tail)
        stream = self.streams.get(head)
        if match is None or stream is None:
            return None
        return stream, int(match.group(1))

    def _forget_session(self, session: RtspSession) -> None:
        logger.debug("RTSP session %s ended", session.id)
        self.sessions.pop(session.id, None)
        stream = self.streams.get(session.stream_path)
        if stream is not None:
            stream.sessions.discard(session)
        connection = session.connection
        if isinstance(connection, RtspConnection):
            connection.sessions.discard(session)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RtspConnection(self, reader, writer)
        connection.task = asyncio.current_task()
        self._connections.add(connection)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)
            connection.close()

    async def _reap_forever(self) -> None:
        interval = min(1.0, self.session_timeout_s / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for session in [s for s in self.sessions.values() if s.expired(now)]:
                logger.info("RTSP session %s timed out", session.id)
                session.close()
            for connection in list(self._connections):
                if not connection.sessions and now - connection.last_activity > (
                    self.session_timeout_s
                ):
                    logger.info("closing idle RTSP connection from %s", connection.peer)
                    connection.close()


class RtspConnection:
    """One client TCP connection: reads requests and interleaved RTCP, writes responses/RTP."""

    def __init__(
        self, server: RtspServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.sessions: set[RtspSession] = set()
        self.task: asyncio.Task[None] | None = None
        self.last_activity = time.monotonic()
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        self.peer: str = peer[0] if peer else "?"
        self.local_address: str = local[0] if local else server.host
        self.closed = False

    @property
    def transport(self) -> asyncio.WriteTransport:
        transport = self.writer.transport
        assert isinstance(transport, asyncio.WriteTransport)
        return transport

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for session in list(self.sessions):
            session.close()
        self.writer.close()

    async def serve(self) -> None:
        try:
            while not self.closed:
                request = await self._read_request()
                if request is None:
                    continue
                self.last_activity = time.monotonic()
                try:
                    response = await self._handle(request)
                except BadRequest as exc:
                    logger.info("bad RTSP request from %s: %s", self.peer, exc)
                    response = RtspResponse(exc.status)
                except Exception:
                    logger.exception("RTSP %s %s failed", request.method, shown(request.uri))
                    response = RtspResponse(500)
                self.writer.write(response.encode(request.cseq))
        except BadRequest as exc:
            logger.info("bad RTSP request from %s: %s", self.peer, exc)
            with contextlib.suppress(ConnectionError, RuntimeError):  # the client is gone
                self.writer.write(RtspResponse(exc.status).encode(exc.cseq))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def _read_request(self) -> RtspRequest | None:
        """The next request; None after an interleaved frame or a stray line break."""
        first = await self.reader.readexactly(1)
        if first == b"$":
            _channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
            await self.reader.readexactly(length)
            # RTCP receiver reports from the client: read and ignored, but keep it alive.
            for session in self.sessions:
                session.touch()
            return None
        if first in (b"\r", b"\n"):
            return None
        try:
            head = first + await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise BadRequest("request header too large") from exc
        try:
            request = parse_head(head[:-4])
        except BadRequest as exc:
            match = _CSEQ.search(head)
            exc.cseq = match.group(1).decode() if match else None
            raise
        if request.content_length:
            request.body = await self.reader.readexactly(request.content_length)
        return request

    # --- request handling -------------------------------------------------------------

    async def _handle(self, request: RtspRequest) -> RtspResponse:
        session: RtspSession | None = None
        if request.session_id is not None:
            session = self.server.sessions.get(request.session_id)
            if session is None:
                return RtspResponse(454)
            session.touch()
        method = request.method
        if method == "OPTIONS":
            return RtspResponse(200, [("Public", PUBLIC_METHODS)])
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return RtspResponse(200, self._session_header(session))
        if method == "DESCRIBE":
            return self._describe(request)
        if method == "SETUP":
            return await self._setup(request, session)
        if method in ("PLAY", "PAUSE", "TEARDOWN"):
            if session is None:
                return RtspResponse(454)
            if method == "PLAY":
                return self._play(request, session)
            if method == "PAUSE":
                session.pause()
                return RtspResponse(200, self._session_header(session))
            session.close()
            return RtspResponse(200)
        return RtspResponse(501, [("Public", PUBLIC_METHODS)])

    def _session_header(self, session: RtspSession | None) -> list[tuple[str, str]]:
        if session is None:
            return []
        return [("Session", f"{session.id};timeout={int(self.server.session_timeout_s)}")]

    def _authorize(self, request: RtspRequest, stream: RtspStream) -> RtspResponse | None:
        """None when allowed, else the 401 to send."""
        credentials = stream.credentials
        if credentials is None:
            return None
        verdict = self.server.authenticator.check(
            credentials, request.method, request.headers.get("authorization")
        )
        if verdict == "ok":
            return None
        challenges = self.server.authenticator.challenges(credentials, stale=verdict == "stale")
        return RtspResponse(401, [("WWW-Authenticate", value) for value in challenges])

    def _base_url(self, request: RtspRequest, stream: RtspStream) -> str:
        if "://" in request.uri:
            parts = urlsplit(request.uri)
            origin = f"{parts.scheme}://{parts.netloc}"
        else:
            host = self.local_address
            host = f"[{host}]" if ":" in host else host
            origin = f"rtsp://{host}:{self.server.port}"
        return f"{origin}/{stream.path}/" if stream.path else f"{origin}/"

    def _describe(self, request: RtspRequest) -> RtspResponse:
        target = self.server.resolve(request.uri)
        if target is None:
            return RtspResponse(404)
        stream = target[0]
        denied = self._authorize(request, stream)
        if denied is not None:
            return denied
        if not stream.available:
            return RtspResponse(503)
        headers = [
            ("Content-Type", "application/sdp"),
            ("Content-Base", self._base_url(request, stream)),
        ]
        return RtspResponse(200, headers, stream.sdp(self.local_address))

    async def _setup(self, request: RtspRequest, session: RtspSession | None) -> RtspResponse:
        target = self.server.resolve(request.uri)
        if target is None:
            return RtspResponse(404)
        stream, track_index = target
        if session is None or session.stream_path != stream.path:
            denied = self._authorize(request, stream)
            if denied is not None:
                return denied
        if session is not None and session.stream_path != stream.path:
            return RtspResponse(459)
        if not stream.available:
            return RtspResponse(503)
        if track_index is None:
            if len(stream.tracks) != 1:
                return RtspResponse(459)
            track_index = 0
        if track_index >= len(stream.tracks):
            return RtspResponse(404)
        requested = _choose_transport(
            request.headers.get("transport", ""), session.lower_transport if session else None
        )
        if requested is None:
            return RtspResponse(461)
        lower, params = requested
        if session is None and len(self.sessions) >= MAX_SESSIONS_PER_CONNECTION:
            return RtspResponse(453)
        if session is None:
            session = RtspSession(
                stream.path,
                self,
                self.server.session_timeout_s,
                self.server.max_tcp_buffer,
                self.server._forget_session,
            )
            self.server.sessions[session.id] = session
            self.sessions.add(session)
            stream.sessions.add(session)
            logger.debug("RTSP session %s for %s from %s", session.id, stream.path, self.peer)
        track_state = stream.tracks[track_index]
        track = ClientTrack(track_index, track_state.info.kind, track_state.payload_type)
        previous = session.tracks.get(track_index)
        if previous is not None and previous.udp is not None:
            previous.udp.close()
        if lower == "tcp":
            channels = _parse_pair(params.get("interleaved"), MAX_CHANNEL)
            if channels is None and "interleaved" in params:
                return RtspResponse(461)
            if channels is None:
                channels = (2 * track_index, 2 * track_index + 1)
            track.interleaved = channels
            transport = f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]}"
        else:
            client_ports = _parse_pair(params.get("client_port"))
            if client_ports is None:
                return RtspResponse(461)
            try:
                track.udp = await open_udp_destination(
                    self.local_address, self.peer, client_ports, session.touch
                )
            except OSError:
                logger.exception("no UDP ports for RTSP session")
                return RtspResponse(500)
            server_ports = track.udp.server_ports
            transport = (
                f"RTP/AVP;unicast;client_port={client_ports[0]}-{client_ports[1]};"
                f"server_port={server_ports[0]}-{server_ports[1]}"
            )
        if session.closed:
            # The client vanished while the UDP ports were being opened.
            if track.udp is not None:
                track.udp.close()
            return RtspResponse(454)
        session.lower_transport = lower
        session.tracks[track_index] = track
        if session.playing:
            track.waiting_for_keyframe = track.kind == "video"
        transport += f";ssrc={track.ssrc:08X};mode=play"
        return RtspResponse(200, [("Transport", transport), *self._session_header(session)])

    def _play(self, request: RtspRequest, session: RtspSession) -> RtspResponse:
        stream = self.server.streams.get(session.stream_path)
        if stream is None:
            return RtspResponse(454)
        if not session.tracks:
            return RtspResponse(455)
        session.play()
        base = self._base_url(request, stream)
        infos = []
        for index, track in sorted(session.tracks.items()):
            last = stream.tracks[index].last_timestamp or 0
            rtptime = (last + track.timestamp_offset) & 0xFFFFFFFF
            infos.append(f"url={base}trackID={index};seq={track.seq};rtptime={rtptime}")
        headers = [
            *self._session_header(session),
            ("Range", "npt=now-"),
            ("RTP-Info", ",".join(infos)),
        ]
        return RtspResponse(200, headers)


def _parse_pair(value: str | None, highest: int = 65535) -> tuple[int, int] | None:
    """``"a-b"`` or ``"a"`` (then b = a + 1) as two port or channel numbers up to
    ``highest``; None when absent or not such numbers."""
    if not value:
        return None
    first, _, second = value.partition("-")
    low = decimal(first, 0, highest)
    if low is None:
        return None
    high = decimal(second, 0, highest) if second else low + 1
    if high is None or high > highest:
        return None
    return low, high


def _choose_transport(
    header: str, required: LowerTransport | None
) -> tuple[LowerTransport, dict[str, str]] | None:
    """The first unicast transport we support in a Transport header, with its parameters."""
    for spec in header.split(","):
        fields = [item.strip() for item in spec.split(";") if item.strip()]
        if not fields:
            continue
        protocol = fields[0].upper()
        params: dict[str, str] = {}
        for item in fields[1:]:
            key, _, value = item.partition("=")
            params[key.lower()] = value
        if "multicast" in params:
            continue
        lower: LowerTransport
        if protocol == "RTP/AVP/TCP":
            lower = "tcp"
        elif protocol in ("RTP/AVP", "RTP/AVP/UDP") and "client_port" in params:
            lower = "udp"
        else:
            continue
        if required is None or required == lower:
            return lower, params
    return None
