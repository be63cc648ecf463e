"""One RTSP session over one TCP connection with interleaved RTP/RTCP (RFC 2326 10.12),
on a blocking socket owned by the calling thread.

Reads go into one preallocated buffer (``recv_into``); ``$`` frames are handed to the
handler of their channel as memoryviews into that buffer (valid only during the call).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from vms_core.media.ingest import LoginRefused
from vms_core.media.native.depacketize import MAX_ACCESS_UNIT, H264Depacketizer
from vms_core.rtsp.limits import MAX_HEAD_BYTES, decimal, shown
from vms_core.rtsp.responses import (
    Auth,
    ProtocolError,
    Response,
    content_length,
    parse_response_head,
)
from vms_core.rtsp.sdp import MediaDesc, parse_sdp

# Holds a largest interleaved frame (4 + 65535 bytes) or answer (head and body limits):
# a full buffer is compacted, and then what is being received fits from its start.
BUFFER_BYTES = 128 * 1024
MIN_FREE = 64 * 1024 + 4  # compact when less than a largest frame fits after the data
RECEIVE_BUFFER = 2 * 1024 * 1024  # kernel buffer: room for batched reads of a keyframe
# Reading one camera goes no faster than this (bytes/s, 100 Mbit/s, a second's worth in
# reserve): far above what cameras send, so it only ever holds back one that floods us,
# which then costs a bounded share of a core, not all of it (and TCP slows it down).
MAX_BYTES_PER_SECOND = 12_500_000
MAX_SESSION_ID = 256  # characters (RFC 2326: at least 8)
# Media (or junk) read while waiting for the answer to one request, before giving up.
MAX_BYTES_BEFORE_ANSWER = 4 * 1024 * 1024
# A read waits for at least this many bytes of budget (fewer, longer waits when throttled).
_MIN_READ = 64 * 1024
# A connection attempt checks this often whether it was interrupted.
_CONNECT_SLICE = 0.1
# A recv that had to wait at least this long returned data that came off the wire just now.
LIVE_WAIT = 0.004

FrameHandler = Callable[[memoryview], None]
# '$', channel, length, RTP V/P/X/CC, M/PT, sequence, timestamp, SSRC, FU indicator, FU header
_FU_A = struct.Struct("!BBHBBHIIBB")


class StreamEnded(ConnectionError):
    """The camera closed the connection."""


class RtspRefused(ConnectionError):
    """The camera answered a request with an error status."""


class ReadBudget:
    """Token bucket over the bytes read from one camera: ``rate`` per second, ``burst`` in
    reserve."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def available(self, now: float) -> int:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, count: int) -> None:
        self.tokens -= count

    def wait_for(self, count: int) -> float:
        """Seconds until ``count`` bytes may be read."""
        return max(0.0, (count - self.tokens) / self.rate)


class RtspConnection:
    """Blocking RTSP/TCP client: ``open``, ``describe``, ``setup``, ``play``, then
    ``receive`` in a loop; ``interrupt`` (from another thread) wakes a blocked receive."""

    def __init__(self, url: str, timeout: float, user_agent: str = "vms") -> None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp":
            raise ValueError(f"not an rtsp:// URL: {parts.scheme}://")
        self.auth = (
            Auth(unquote(parts.username or ""), unquote(parts.password or ""))
            if parts.username is not None
            else None
        )
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        # The URL without credentials: what requests name and what logs may show.
        self.url = urlunsplit(("rtsp", netloc, parts.path or "/", parts.query, ""))
        self.host = parts.hostname or ""
        self.port = parts.port or 554
        self.timeout = timeout
        self.user_agent = user_agent
        self.buffer = bytearray(BUFFER_BYTES)
        self.view = memoryview(self.buffer)
        self.start = 0
        self.end = 0
        self.sock: socket.socket | None = None
        self.cseq = 0
        self.session: str | None = None
        self.session_timeout = 60.0
        self.control_url = self.url
        self.public: set[str] = set()
        self.handlers: dict[int, FrameHandler] = {}
        # The H.264 track's channel and depacketizer, for the fast path in _parse.
        self.video_channel = -1
        self.video: H264Depacketizer | None = None
        self.responses: dict[int, Response] = {}
        # Set before frames of a receive are handled: when its bytes arrived and whether
        # the read had to wait for them (then they are live, not a backlog).
        self.recv_time = 0.0
        self.recv_live = False
        self.bytes_received = 0
        self.budget = ReadBudget(MAX_BYTES_PER_SECOND, MAX_BYTES_PER_SECOND)
        self._blocking = True
        self._closed = False

    # -- connection ---------------------------------------------------------------------

    def open(self) -> None:
        """Connect within the timeout; ``interrupt`` ends the wait at once (a camera that
        is unplugged never answers: its removal must not wait for the timeout)."""
        deadline = time.monotonic() + self.timeout
        error: OSError = OSError(f"no address for {self.host}")
        for family, kind, proto, _name, address in socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                self._connect(sock, address, deadline)
            except OSError as exc:
                sock.close()
                if self._closed:
                    raise ConnectionError("stopped") from None
                error = exc
                continue
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.sock = sock
            if self._closed:  # interrupted just as it connected
                self.close()
                raise ConnectionError("stopped")
            return
        raise error

    def _connect(self, sock: socket.socket, address: Any, deadline: float) -> None:
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
            poller = select.poll()  # not select(): a worker may have over 1024 files open
            poller.register(sock, select.POLLOUT)
            while not poller.poll(_CONNECT_SLICE * 1000):
                if self._closed:
                    raise ConnectionError("stopped")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no connection within {self.timeout:g} s")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))  # e.g. ConnectionRefusedError

    def interrupt(self) -> None:
        """Wake a thread blocked in a read on this connection (it then sees an error)."""
        self._closed = True
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        sock, self.sock = self.sock, None
        if sock is None:
            return
        if self.session is not None:
            try:  # polite, best effort: the camera frees the session at once
                sock.settimeout(0.2)
                sock.sendall(self._request_bytes("TEARDOWN", self.control_url, {}))
            except OSError:
                pass
        sock.close()

    # -- requests -----------------------------------------------------------------------

    def _request_bytes(self, method: str, uri: str, headers: dict[str, str]) -> bytes:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {self.user_agent}"]
        if self.auth is not None:
            authorization = self.auth.header(method, uri)
            if authorization:
                lines.append(f"Authorization: {authorization}")
        if self.session is not None:
            lines.append(f"Session: {self.session}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def request(self, method: str, uri: str, headers: dict[str, str] | None = None) -> Response:
        """Send a request and wait for its answer (answering one auth challenge)."""
        for _attempt in range(2):
            self._send(self._request_bytes(method, uri, headers or {}))
            response = self._answer(method, self.cseq)
            challenge = response.headers.get("www-authenticate")
            retry = (
                response.status == 401
                and self.auth is not None
                and self.auth.scheme is None
                and challenge is not None
                and self.auth.challenge(challenge)
            )
            if not retry:
                break
        if response.status != 200:
            hint = ""
            if response.status == 401:
                hint = " (check the camera's username and password)"
            elif 300 <= response.status < 400:
                location = shown(response.headers.get("location", "?"))
                hint = f" (to {location}; redirects are not followed)"
            message = f"{method} refused: {response.status} {response.reason}{hint}"
            if response.status in (401, 403):
                raise LoginRefused(message)
            raise RtspRefused(message)
        return response

    def _answer(self, method: str, cseq: int) -> Response:
        """Read until the answer to request ``cseq`` is in (interleaved media meanwhile is
        handled as usual), within the timeout and ``MAX_BYTES_BEFORE_ANSWER``."""
        deadline = time.monotonic() + self.timeout
        began = self.bytes_received
        no_answer = f"no answer to {method} within {self.timeout:g} s"
        while cseq not in self.responses:
            if time.monotonic() > deadline:
                raise TimeoutError(no_answer)
            if self.bytes_received - began > MAX_BYTES_BEFORE_ANSWER:
                raise ProtocolError(
                    f"no answer to {method}: {self.bytes_received - began} bytes of "
                    "interleaved data instead"
                )
            try:
                self.receive()
            except TimeoutError:  # the socket's own timeout: nothing came for that long
                raise TimeoutError(no_answer) from None
        return self.responses.pop(cseq)

    def send_keepalive(self) -> None:
        """Keep the session alive without waiting (the answer is read with the media)."""
        method = "GET_PARAMETER" if "GET_PARAMETER" in self.public else "OPTIONS"
        self._send(self._request_bytes(method, self.control_url, {}))

    def _send(self, data: bytes) -> None:
        if self.sock is None:
            raise ConnectionError("not connected")
        self.sock.sendall(data)

    def describe(self) -> list[MediaDesc]:
        options = self.request("OPTIONS", self.url)
        self.public = {m.strip().upper() for m in options.headers.get("public", "").split(",")}
        described = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = described.headers.get("content-base") or described.headers.get("content-location")
        self.control_url = (base or self.url).rstrip("/") if base else self.url
        sdp = described.body.decode("utf-8", "replace")
        session_control = _session_control(sdp)
        if session_control and session_control != "*":
            self.control_url = self._resolve(session_control)
        return parse_sdp(sdp)

    def _resolve(self, control: str) -> str:
        if "://" in control:
            return control
        if control in ("", "*"):
            return self.control_url
        return self.control_url.rstrip("/") + "/" + control.lstrip("/")

    def setup(self, media: MediaDesc, channel: int) -> None:
        transport = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"
        response = self.request("SETUP", self._resolve(media.control), {"Transport": transport})
        session, _, params = response.headers.get("session", "").partition(";")
        session = session.strip()
        if len(session) > MAX_SESSION_ID:
            raise ProtocolError(f"Session id over {MAX_SESSION_ID} characters")
        self.session = session or self.session
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            seconds = decimal(value, 1, 86400) if name.strip().lower() == "timeout" else None
            if seconds is not None:
                self.session_timeout = float(seconds)
        answered = response.headers.get("transport", "")
        if "interleaved=" in answered:
            first = answered.split("interleaved=")[1].split(";")[0].split("-")[0]
            moved = decimal(first, 0, 255)
            if moved is not None and moved != channel:
                raise ConnectionError(f"camera moved the track to channel {moved}")

    def play(self) -> None:
        self.request("PLAY", self.control_url, {"Range": "npt=0.000-"})

    # -- reading ------------------------------------------------------------------------

    def receive(self) -> bool:
        """One read from the socket and every complete frame or response in the buffer.
        True when the read filled the free space (more data is probably waiting)."""
        sock = self.sock
        if sock is None:
            raise ConnectionError("not connected")
        began = time.monotonic()
        allowed = self.budget.available(began)
        if allowed < _MIN_READ:
            if not self._blocking:
                return False  # the next batch reads on
            time.sleep(self.budget.wait_for(_MIN_READ))
            if self._closed:
                raise ConnectionError("stopped")
            began = time.monotonic()
            allowed = self.budget.available(began)
        free = min(len(self.buffer) - self.end, allowed)
        if free <= 0:  # never with the limits above; never a recv of 0 bytes either
            raise ProtocolError("receive buffer full")
        count = sock.recv_into(self.view[self.end :], free)
        now = time.monotonic()
        if count == 0:
            raise StreamEnded("the camera closed the connection")
        self.budget.spend(count)
        self.recv_time = time.time()
        self.recv_live = now - began > LIVE_WAIT
        self.bytes_received += count
        self.end += count
        self._parse()
        return count == free

    def feed(self, data: bytes | memoryview) -> int:
        """Handle ``data`` as if a read had just received it, without a socket: as much as
        the buffer has room for (the count taken; feed the rest next). How tests and
        fuzzers drive the parser."""
        size = min(len(self.buffer) - self.end, len(data))
        if size <= 0 < len(data):
            raise ProtocolError("receive buffer full")
        self.view[self.end : self.end + size] = data[:size]
        self.end += size
        self._parse()
        return size

    def nonblocking(self) -> None:
        """From now on ``drain`` reads; ``receive`` would raise BlockingIOError."""
        if self.sock is None:
            raise ConnectionError("not connected")
        self.sock.setblocking(False)
        self._blocking = False

    def drain(self) -> None:
        """Read and handle everything that has arrived (non-blocking socket)."""
        try:
            while self.receive():
                pass
        except BlockingIOError:
            pass

    def _parse(self) -> None:
        buf, view = self.buffer, self.view
        pos, end = self.start, self.end
        handlers = self.handlers
        video, video_channel = self.video, self.video_channel
        while pos < end:
            first = buf[pos]
            if first == 0x24:  # '$' channel, length
                if end - pos < 4:
                    break
                stop = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                if stop > end:
                    break
                channel = buf[pos + 1]
                # Fast path for most packets of a camera: a middle or last FU-A fragment
                # of the picture being built (plain 12-byte RTP header, the next sequence
                # number, same timestamp): append its payload, finish the picture on the
                # marker bit. Measured: about a third of the ingest's CPU at 64 cameras.
                if (
                    channel == video_channel
                    and video is not None
                    and video.fu_open
                    and stop - pos > 18
                ):
                    _d, _c, _n, b0, b1, seq, ts, _s, indicator, fu = _FU_A.unpack_from(buf, pos)
                    if (
                        b0 == 0x80
                        and indicator & 0x1F == 28
                        and not fu & 0x80
                        and seq == (video.seq + 1) & 0xFFFF
                        and ts == video.ts
                    ):
                        video.seq = seq
                        video.au += view[pos + 18 : stop]
                        if len(video.au) > MAX_ACCESS_UNIT:
                            video.overflow()
                        elif fu & 0x40:
                            video.fu_open = False
                            if b1 & 0x80:
                                video.flush()
                        pos = stop
                        continue
                handler = handlers.get(channel)
                if handler is not None:
                    handler(view[pos + 4 : stop])
                pos = stop
            elif first in (0x0D, 0x0A):
                pos += 1
            else:
                head_end = buf.find(b"\r\n\r\n", pos, min(end, pos + MAX_HEAD_BYTES))
                if head_end < 0:
                    if end - pos >= MAX_HEAD_BYTES:
                        raise ProtocolError(
                            f"an answer's head is over {MAX_HEAD_BYTES} bytes (no blank line)"
                        )
                    break
                response = parse_response_head(bytes(buf[pos:head_end]))
                stop = head_end + 4 + content_length(response)
                if stop > end:
                    break
                response.body = bytes(buf[head_end + 4 : stop])
                pos = stop
                cseq = decimal(response.headers.get("cseq", ""), 0, 2**32)
                if cseq is not None:
                    self.responses[cseq] = response
                    if response.status == 454:  # Session Not Found (a keep-alive's answer)
                        raise ConnectionError("the camera ended the RTSP session")
                    if len(self.responses) > 8:  # answers to keep-alives nobody reads
                        self.responses.pop(min(self.responses))
        if pos >= end:
            self.start = self.end = 0
        elif len(buf) - end < MIN_FREE:
            remaining = end - pos
            buf[:remaining] = buf[pos:end]
            self.start, self.end = 0, remaining
        else:
            self.start = pos


def _session_control(sdp: str) -> str | None:
    """The session-level ``a=control`` (before the first ``m=`` line), if any."""
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("m="):
            return None
        if line.startswith("a=control:"):
            return line[len("a=control:") :].strip()
    return None
