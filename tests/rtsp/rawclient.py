"""A minimal RTSP client over a raw socket, written for the tests (independent of the
server's code): requests, responses, interleaved frames, Basic and Digest answers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import struct
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def session(self) -> str:
        """The Session header's id, without ``;timeout=`` ("" when there is none)."""
        return (self.header("session") or "").split(";")[0]


@dataclass
class Frame:
    channel: int
    data: bytes


class RawRtspClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.cseq = 0
        self.frames: list[Frame] = []

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawRtspClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(
        self, method: str, uri: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> RawResponse:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = await asyncio.wait_for(self.read_response(), 5)
        assert response.header("cseq") == str(self.cseq)
        return response

    async def read_response(self) -> RawResponse:
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                self.frames.append(await self._read_frame_body())
                continue
            head = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
            lines = head.strip().split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers: dict[str, list[str]] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
            length = int(headers.get("content-length", ["0"])[0])
            body = await self.reader.readexactly(length) if length else b""
            return RawResponse(status, headers, body)

    async def read_frame(self) -> Frame:
        if self.frames:
            return self.frames.pop(0)
        first = await self.reader.readexactly(1)
        assert first == b"$", f"expected an interleaved frame, got {first!r}"
        return await self._read_frame_body()

    async def _read_frame_body(self) -> Frame:
        channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
        return Frame(channel, await self.reader.readexactly(length))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    async def play_tcp(self, url: str, tracks: int, auth: dict[str, str] | None = None) -> str:
        """DESCRIBE, SETUP every track interleaved, PLAY; returns the session id."""
        headers = dict(auth or {})
        assert (await self.request("DESCRIBE", url, headers)).status == 200
        session = ""
        for index in range(tracks):
            setup_headers = {
                **headers,
                "Transport": f"RTP/AVP/TCP;unicast;interleaved={2 * index}-{2 * index + 1}",
            }
            if session:
                setup_headers["Session"] = session
            response = await self.request("SETUP", f"{url}/trackID={index}", setup_headers)
            assert response.status == 200, response
            session = (response.header("session") or "").split(";")[0]
        assert (await self.request("PLAY", url, {**headers, "Session": session})).status == 200
        return session


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_challenge(response: RawResponse) -> dict[str, str]:
    for value in response.headers.get("www-authenticate", []):
        if value.lower().startswith("digest "):
            return dict(re.findall(r'(\w+)="?([^",]*)"?', value[7:]))
    raise AssertionError("no Digest challenge")


def digest_authorization(
    challenge: dict[str, str],
    username: str,
    password: str,
    method: str,
    uri: str,
    use_qop: bool,
) -> str:
    ha1 = _md5(f"{username}:{challenge['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    nonce = challenge["nonce"]
    fields = f'username="{username}", realm="{challenge["realm"]}", nonce="{nonce}", uri="{uri}"'
    if use_qop:
        nc, cnonce = "00000001", "0a4f113b"
        answer = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return f'Digest {fields}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{answer}"'
    answer = _md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest {fields}, response="{answer}"'
