"""Real receivers on loopback: an HTTP server standing in for Slack/Teams/webhooks and an
SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import socket
import time
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.eventually import NeverHappened, eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ChatReceiver:
    """Records every POST; answers from ``script`` (status, headers) first, then 200."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.attempts: list[float] = []
        self.script: deque[tuple[int, dict[str, str]]] = deque()
        self._runner: web.AppRunner | None = None
        self.arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts.append(time.monotonic())
        if self.script:
            status, headers = self.script.popleft()
            return web.Response(status=status, text="busy", headers=headers)
        self.received.append(Received(time.monotonic(), request.path, dict(request.headers), body))
        self.arrived.set()
        return web.Response(text="ok")

    async def start(self) -> ChatReceiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
        return self.received


class _MailHandler:
    def __init__(self, box: MailReceiver) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.box.messages.append((time.monotonic(), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class MailReceiver:
    """aiosmtpd on 127.0.0.1 in its own thread, collecting messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[float, list[str], EmailMessage]] = []
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` messages arrived, or ``timeout`` passed (the caller checks)."""
        with contextlib.suppress(NeverHappened):
            await eventually(lambda: len(self.messages) >= count, timeout, 0.01)
