"""Hostile and broken RTSP cameras on loopback, for tests: each mode misbehaves in one way
that real (broken, or malicious) cameras do.

The camera runs on its own event-loop thread, so synchronous tests (an ingest on its own
thread) and asynchronous ones (a whole vms server) can both use it. It answers the requests
of vms's native RTSP client (OPTIONS, DESCRIBE, SETUP, PLAY, keep-alives) well enough to
reach the misbehaviour of its mode, and nothing more.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import re
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any, TypeVar

# What each mode does, as the camera list of a test names it.
MODES: dict[str, str] = {
    "negative-content-length": "answers OPTIONS with Content-Length equal to minus its header",
    "huge-content-length": "announces a 100 GB body and sends a little of it",
    "unicode-digits": "a Content-Length in superscript digits ('²'), which str.isdigit accepts",
    "endless-headers": "sends header lines forever, never the blank line",
    "no-blank-line": "sends a status line and headers, no blank line, then nothing",
    "never-answers": "accepts the connection and reads, never writes",
    "stalls-mid-body": "answers DESCRIBE with half its announced body, then stalls",
    "garbage": "answers with random bytes, not RTSP",
    "giant-frames": "answers OPTIONS with an endless stream of 64 KiB interleaved frames",
    "rtp-flood": "plays, then floods the video channel with junk RTP as fast as it can",
    "endless-fragments": "plays an H.264 FU-A that never ends (no end bit, no marker)",
    "impossible-rtp": "plays RTP whose CSRC, extension, padding and STAP-A sizes lie",
    "absurd-sdp": "an SDP with a zero clock rate, a billion channels, NaN frame rate, ...",
    "unauthorized": "answers 401 with a fresh Digest challenge to everything",
    "redirect-loop": "answers every request with a redirect to itself",
}

_CSEQ = re.compile(rb"cseq\s*:\s*(\d+)", re.IGNORECASE)
_METHOD = re.compile(rb"^([A-Z_]+) ")
_INTERLEAVED = re.compile(rb"interleaved=(\d+)")
T = TypeVar("T")

_GOOD_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=hostile\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHqtAoD2QAAADABAAAAMDKPFi6oA=,"
    "aM48gA==\r\na=control:trackID=0\r\n"
)
_ABSURD_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=absurd\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/0\r\na=framerate:nan\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=!!!!,\r\na=control:trackID=0\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/4294967296/1000000000\r\n"
    "a=fmtp:97 sizelength=99999;indexlength=-3;config=1190\r\na=control:trackID=1\r\n"
)


class HostileCamera:
    """One misbehaving RTSP camera (``mode``, one of ``MODES``) on 127.0.0.1."""

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown hostile mode {mode!r}")
        self.mode = mode
        self.connections = 0  # TCP connections accepted so far
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name=f"hostile-{mode}", daemon=True
        )
        self.thread.start()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = self._run(self._start())

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    def close(self) -> None:
        self._run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Cut the connections rather than cancel their tasks: asyncio logs an error for a
        # cancelled connection callback.
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await Session(self.mode, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client gave up on us: that is the point
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()


class HostileCameraProcess:
    """Hostile cameras, one per mode, in a process of their own: the floods must not
    compete for this process's GIL with a vms server under test here."""

    def __init__(self, modes: list[str]) -> None:
        context = mp.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve_modes, args=(modes, child), name="hostile-cameras", daemon=True
        )
        self._process.start()
        if not self._pipe.poll(60):  # hang guard: starting takes about a second
            self._process.kill()
            raise RuntimeError("the hostile cameras did not start")
        self.urls: dict[str, str] = self._pipe.recv()

    def connections(self) -> dict[str, int]:
        """TCP connections each camera accepted so far."""
        self._pipe.send("count")
        counts: dict[str, int] = self._pipe.recv()
        return counts

    def close(self) -> None:
        self._pipe.send("stop")
        self._process.join(15)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


def _serve_modes(modes: list[str], pipe: Connection) -> None:
    cameras = {mode: HostileCamera(mode) for mode in modes}
    pipe.send({mode: camera.url for mode, camera in cameras.items()})
    while pipe.recv() == "count":
        pipe.send({mode: camera.connections for mode, camera in cameras.items()})
    for camera in cameras.values():
        camera.close()


class Session:
    """One client connection to a hostile camera."""

    def __init__(
        self, mode: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.mode = mode
        self.reader = reader
        self.writer = writer
        self.random = random.Random(mode)
        self.channel = 0  # the interleaved channel the last SETUP asked for

    async def run(self) -> None:
        handler: Callable[[], Awaitable[None]] = getattr(self, "_" + self.mode.replace("-", "_"))
        await handler()

    # -- plumbing -------------------------------------------------------------------------

    async def request(self) -> tuple[str, str]:
        """The next request's (method, CSeq); its body, if any, is not expected."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        method = _METHOD.match(head)
        cseq = _CSEQ.search(head)
        channel = _INTERLEAVED.search(head)
        self.channel = int(channel.group(1)) if channel else 0
        return (
            method.group(1).decode() if method else "",
            cseq.group(1).decode() if cseq else "0",
        )

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(
        self, cseq: str, status: str = "200 OK", *headers: str, body: bytes = b""
    ) -> None:
        lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", *headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def idle(self) -> None:
        """Read (and ignore) whatever the client sends until it hangs up."""
        while await self.reader.read(4096):
            pass

    async def play(self, sdp: str = _GOOD_SDP) -> None:
        """A well-behaved session up to PLAY."""
        while True:
            method, cseq = await self.request()
            if method == "OPTIONS":
                await self.answer(cseq, "200 OK", "Public: OPTIONS, DESCRIBE, SETUP, PLAY")
            elif method == "DESCRIBE":
                await self.answer(
                    cseq,
                    "200 OK",
                    "Content-Type: application/sdp",
                    "Content-Base: rtsp://127.0.0.1/stream/",
                    body=sdp.encode(),
                )
            elif method == "SETUP":
                channel = self.channel
                await self.answer(
                    cseq,
                    "200 OK",
                    f"Transport: RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}",
                    "Session: 12345678;timeout=60",
                )
            elif method == "PLAY":
                await self.answer(cseq, "200 OK", "Session: 12345678")
                return
            else:
                await self.answer(cseq, "200 OK")

    async def frames(self, packets: list[bytes], forever: bool = True) -> None:
        """Send RTP packets on channel 0, again and again."""
        data = b"".join(b"$\x00" + struct.pack("!H", len(p)) + p for p in packets)
        while True:
            await self.send(data)
            if not forever:
                return
            await asyncio.sleep(0)  # let the loop breathe between bursts

    # -- modes ----------------------------------------------------------------------------

    async def _negative_content_length(self) -> None:
        _method, cseq = await self.request()
        status = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n"
        length = len(status) + len("Content-Length: -00\r\n\r\n")
        # -76 for the first request: exactly the bytes of the head, so the body "ends"
        # where the response began.
        await self.send(f"{status}Content-Length: -{length}\r\n\r\n".encode())
        await self.idle()

    async def _huge_content_length(self) -> None:
        _method, cseq = await self.request()
        await self.send(
            f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: 100000000000\r\n\r\n".encode()
        )
        await self.send(b"x" * 4096)
        await self.idle()

    async def _unicode_digits(self) -> None:
        _method, cseq = await self.request()
        await self.send(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: ²\r\n\r\n".encode())
        await self.idle()

    async def _endless_headers(self) -> None:
        _method, cseq = await self.request()
        await self.send(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n".encode())
        line = b"X-Padding: " + b"a" * 100 + b"\r\n"
        while True:
            await self.send(line * 64)

    async def _no_blank_line(self) -> None:
        _method, cseq = await self.request()
        await self.send(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS\r\n".encode())
        await self.idle()

    async def _never_answers(self) -> None:
        await self.idle()

    async def _stalls_mid_body(self) -> None:
        while True:
            method, cseq = await self.request()
            if method != "DESCRIBE":
                await self.answer(cseq, "200 OK", "Public: OPTIONS, DESCRIBE, SETUP, PLAY")
                continue
            body = _GOOD_SDP.encode()
            head = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: {len(body)}\r\n\r\n"
            await self.send(head.encode() + body[: len(body) // 2])
            await self.idle()
            return

    async def _garbage(self) -> None:
        await self.request()
        await self.send(bytes(self.random.getrandbits(8) for _ in range(32 * 1024)))
        await self.idle()

    async def _giant_frames(self) -> None:
        await self.request()
        frame = b"$\x07\xff\xff" + b"\x00" * 0xFFFF
        while True:
            await self.send(frame * 4)

    async def _rtp_flood(self) -> None:
        await self.play()
        junk = [
            bytes([0x80, 96]) + struct.pack("!HII", seq, seq * 3000, 1) + b"\x41" + b"\x99" * 1400
            for seq in range(64)
        ]
        await self.frames(junk)

    async def _endless_fragments(self) -> None:
        await self.play()
        header = bytes([0x80, 96])
        start = header + struct.pack("!HII", 0, 9000, 1) + bytes([0x7C, 0x85]) + b"\x11" * 1400
        await self.frames([start], forever=False)
        seq = 1
        while True:
            middles = [
                header + struct.pack("!HII", (seq + i) & 0xFFFF, 9000, 1) + bytes([0x7C, 0x05])
                + b"\x22" * 1400
                for i in range(64)
            ]  # fmt: skip
            seq += 64
            await self.frames(middles, forever=False)
            await asyncio.sleep(0)

    async def _impossible_rtp(self) -> None:
        await self.play()
        ts = struct.pack("!II", 9000, 1)
        packets = [
            bytes([0x8F, 96]) + b"\x00\x01" + ts + b"\x65",  # 15 CSRCs in a 13-byte packet
            bytes([0x90, 96]) + b"\x00\x02" + ts + b"\xbe\xde\xff\xff" + b"\x65" * 8,  # ext
            bytes([0xA0, 96]) + b"\x00\x03" + ts + b"\x65\x00\xff",  # 255 bytes of padding
            bytes([0x80, 96]) + b"\x00\x04" + ts + b"\x18\xff\xff\x65",  # STAP-A past the end
            bytes([0x80, 96]) + b"\x00\x05" + ts + b"\x18\x00\x00\x00\x00",  # empty NAL units
            bytes([0x00, 96]) + b"\x00\x06" + ts + b"\x65\x88",  # RTP version 0
            bytes([0x80, 96]) + b"\x00\x07" + ts + b"\x7c",  # FU-A without its FU header
            bytes([0x80, 0xE0]) + b"\x00\x08" + ts,  # header only, marker set
        ]
        await self.frames(packets)

    async def _absurd_sdp(self) -> None:
        await self.play(_ABSURD_SDP)
        await self.idle()

    async def _unauthorized(self) -> None:
        nonce = 0
        while True:
            _method, cseq = await self.request()
            nonce += 1
            await self.answer(
                cseq,
                "401 Unauthorized",
                f'WWW-Authenticate: Digest realm="hostile", nonce="{nonce:032x}"',
            )

    async def _redirect_loop(self) -> None:
        while True:
            _method, cseq = await self.request()
            await self.answer(cseq, "302 Moved Temporarily", "Location: rtsp://127.0.0.1/stream")
