"""One end of the server <-> runner connection: requests both ways, answers, notes.

Messages are length-prefixed (:mod:`vms_sdk.runtime.protocol`). Incoming requests run as
tasks, at most ``max_incoming`` at once: past that they are answered ``busy`` at once
(back-pressure instead of an unbounded pile). Outgoing requests wait for their answer
within a deadline; a closed channel fails every request still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from vms_sdk.runtime.protocol import (
    ERROR,
    MAX_MESSAGE_BYTES,
    NOTE,
    REQUEST,
    RESULT,
    Codec,
    ErrorBody,
)

log = logging.getLogger("vms.plugins.channel")
_LENGTH = struct.Struct(">I")


class RemoteError(Exception):
    """The other side answered a request with an error."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body.message)
        self.body = body


class ChannelClosed(ConnectionError):
    """The other side went away (exited, killed, or closed the connection)."""


RequestHandler = Callable[[Any], Awaitable[Any]]
NoteHandler = Callable[[Any], None]


class Channel:
    """A peer over an asyncio stream pair."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        codec: Codec,
        on_request: RequestHandler,
        on_note: NoteHandler,
        *,
        max_incoming: int = 64,
        error_of: Callable[[BaseException], ErrorBody] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._codec = codec
        self._on_request = on_request
        self._on_note = on_note
        self._max_incoming = max_incoming
        self._error_of = error_of or _plain_error
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[asyncio.Future[Any], Any]] = {}
        self._incoming: set[asyncio.Task[None]] = set()
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_reason = ""

    def start(self) -> None:
        """Start reading (call once, on the loop that owns the streams)."""
        self._reader_task = asyncio.get_running_loop().create_task(
            self._read_forever(), name="vms-plugin-channel"
        )

    async def request(self, body: Any, result: Any, within: float) -> Any:
        """Send ``body``; its answer decoded as ``result`` (a type).

        :raises RemoteError: the other side answered with an error.
        :raises TimeoutError: no answer ``within`` seconds.
        :raises ChannelClosed: the connection is gone.
        """
        if self.closed.is_set():
            raise ChannelClosed(self.close_reason or "closed")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = (future, result)
        try:
            try:
                data = self._codec.encode(REQUEST, ident, body)
            except (msgspec.EncodeError, TypeError, UnicodeEncodeError) as exc:
                raise ValueError(f"cannot send {type(body).__name__}: {exc}") from None
            self._writer.write(_LENGTH.pack(len(data)) + data)
            await self._send_pending()
            async with asyncio.timeout(within):
                return await future
        finally:
            self._waiting.pop(ident, None)

    def note(self, body: Any) -> None:
        """Send a message that needs no answer; dropped when the channel is closed."""
        if self.closed.is_set():
            return
        self._write(NOTE, 0, body)

    async def drain(self) -> None:
        """Wait until the socket buffer has room (back-pressure for many notes)."""
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def _send_pending(self) -> None:
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            self._close(f"connection lost: {exc}")
            raise ChannelClosed(self.close_reason) from None

    def _write(self, kind: int, ident: int, body: Any) -> None:
        data = self._codec.encode(kind, ident, body)
        self._writer.write(_LENGTH.pack(len(data)) + data)

    async def _read_forever(self) -> None:
        reason = "closed by the other side"
        try:
            while True:
                head = await self._reader.readexactly(_LENGTH.size)
                (length,) = _LENGTH.unpack(head)
                if length > MAX_MESSAGE_BYTES:
                    reason = f"message of {length} bytes is over the limit"
                    return
                self._dispatch(await self._reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except msgspec.DecodeError as exc:
            reason = f"undecodable message: {exc}"
        finally:
            self._close(reason)

    def _dispatch(self, data: bytes) -> None:
        envelope = self._codec.envelope(data)
        if envelope.kind == RESULT or envelope.kind == ERROR:
            waiting = self._waiting.get(envelope.id)
            if waiting is None or waiting[0].done():
                return  # its caller gave up
            future, kind = waiting
            try:
                if envelope.kind == RESULT:
                    future.set_result(self._codec.result(envelope.body, kind))
                else:
                    future.set_exception(RemoteError(self._codec.error(envelope.body)))
            except msgspec.DecodeError as exc:
                future.set_exception(exc)
        elif envelope.kind == REQUEST:
            body = self._codec.incoming(envelope.body)
            if len(self._incoming) >= self._max_incoming:
                self._write(ERROR, envelope.id, ErrorBody("busy", "too many requests at once"))
                return
            task = asyncio.get_running_loop().create_task(self._answer(envelope.id, body))
            self._incoming.add(task)
            task.add_done_callback(self._incoming.discard)
        elif envelope.kind == NOTE:
            self._on_note(self._codec.incoming(envelope.body))

    async def _answer(self, ident: int, body: Any) -> None:
        try:
            result = await self._on_request(body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.closed.is_set():
                self._write(ERROR, ident, self._error_of(exc))
            return
        if not self.closed.is_set():
            try:
                self._write(RESULT, ident, result)
            except (TypeError, msgspec.EncodeError) as exc:
                self._write(ERROR, ident, ErrorBody("error", f"unsendable answer: {exc}"))

    def _close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        for future, _ in self._waiting.values():
            if not future.done():
                future.set_exception(ChannelClosed(reason))
        for task in self._incoming:
            task.cancel()
        with contextlib.suppress(Exception):
            self._writer.close()

    async def close(self) -> None:
        """Close the connection and stop reading."""
        self._close("closed")
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task


def _plain_error(exc: BaseException) -> ErrorBody:
    return ErrorBody("error", f"{type(exc).__name__}: {exc}")
