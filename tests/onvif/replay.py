"""A local HTTP server that answers ONVIF SOAP calls with recorded replies.

Each POST is answered with the fixture named after the operation in the request body
(``<service>.<Operation>.xml`` if it exists, else ``<Operation>.xml``). The cameras' own
LAN addresses in the fixtures are rewritten to this server's. ``overrides`` replace the
reply to an operation: bytes to send (``Chunked`` bytes without a Content-Length), an
``Answer`` with its own HTTP status, ``HANG`` to never answer, ``TRICKLE`` for a reply that
starts and never ends (a byte every 0.1 s), ``ENDLESS`` for a chunked body that never ends
(sent as fast as the client reads).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import defusedxml.ElementTree as DET
from aiohttp import web

FIXTURES = Path("/work/shared/fixtures/onvif-recorded-responses")
HANG: Final = b"<hang>"
TRICKLE: Final = b"<trickle>"
ENDLESS: Final = b"<endless>"
_SERVICE_PREFIX = {
    "device": "device.",
    "media": "media.",
    "ptz": "ptz.",
    "events": "events.",
    "imaging": "imaging.",
}
_HTTP_ADDRESS = re.compile(rb"http://\d+\.\d+\.\d+\.\d+(:\d+)?")
_RTSP_ADDRESS = re.compile(rb"rtsp://\d+\.\d+\.\d+\.\d+(:\d+)?")


def operation_of(body: bytes) -> tuple[str, str]:
    """(service short name, operation) of a SOAP request."""
    root = DET.fromstring(body)
    soap_body = next(child for child in root if child.tag.endswith("}Body"))
    element = soap_body[0]
    namespace, name = element.tag[1:].split("}")
    service = namespace.rstrip("/").rsplit("/", 2)[-2].lower()
    return service, name


class Chunked(bytes):
    """A reply sent with chunked transfer encoding: no Content-Length to go by."""


@dataclass(frozen=True)
class Answer:
    """A reply with its own HTTP status and content type (faults, login pages)."""

    body: bytes
    status: int = 200
    content_type: str = "application/soap+xml"


class ReplayDevice:
    def __init__(self, overrides: dict[str, bytes] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.calls: list[str] = []
        self.calls_at: list[tuple[float, str]] = []  # (time.monotonic(), operation)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._forever = asyncio.Event()

    def fixture(self, service: str, operation: str) -> bytes:
        for name in (f"{_SERVICE_PREFIX.get(service, '')}{operation}.xml", f"{operation}.xml"):
            path = FIXTURES / name
            if path.exists():
                data = path.read_bytes()
                data = _HTTP_ADDRESS.sub(self.url.encode(), data)
                return _RTSP_ADDRESS.sub(b"rtsp://127.0.0.1:8554", data)
        raise web.HTTPNotFound(text=f"no fixture for {service}.{operation}")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        service, operation = operation_of(await request.read())
        self.calls.append(operation)
        self.calls_at.append((time.monotonic(), operation))
        reply = self.overrides.get(operation)
        if reply is HANG:
            await self._forever.wait()
        if reply is TRICKLE or reply is ENDLESS:
            return await self._never_ending(request, slow=reply is TRICKLE)
        if isinstance(reply, Answer):
            return web.Response(
                body=reply.body, status=reply.status, content_type=reply.content_type
            )
        if reply is None:
            reply = self.fixture(service, operation)
        if isinstance(reply, Chunked):
            stream = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
            stream.enable_chunked_encoding()
            await stream.prepare(request)
            try:
                for start in range(0, len(reply), 256 * 1024):
                    await stream.write(reply[start : start + 256 * 1024])
                await stream.write_eof()
            except ConnectionError:
                pass  # the client stopped reading at its cap: what the test wants
            return stream
        return web.Response(body=reply, content_type="application/soap+xml", charset="utf-8")

    async def _never_ending(self, request: web.Request, *, slow: bool) -> web.StreamResponse:
        stream = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        await stream.write(
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        )
        filler = b"<" if slow else b"<x/>" * 16 * 1024
        try:
            while not self._forever.is_set():
                await stream.write(filler)
                if slow:
                    await asyncio.sleep(0.1)
        except (ConnectionError, RuntimeError):
            pass  # the client gave up: that is the point
        return stream

    async def start(self) -> str:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return f"{self.url}/onvif/device_service"

    async def stop(self) -> None:
        self._forever.set()
        if self._runner is not None:
            await self._runner.cleanup()
