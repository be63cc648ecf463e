"""A playback stream: the remux runs in its own thread and hands its bytes to a coroutine.

The queue between them is bounded, so the remux runs only as fast as the client reads;
a client that goes away stops the thread at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import CancelledError as FutureCancelled
from typing import Any

from vms_core.playback.remux import FRAGMENTED, Output, RemuxResult, SourceSegment, remux_range

_QUEUE_CHUNKS = 32  # x 32 KB AVIO writes: about 1 MB buffered per viewer


class PlaybackCancelled(Exception):
    """The reader went away; raised inside the remux thread to end it."""


class _End:
    def __init__(self, result: RemuxResult | None, error: BaseException | None) -> None:
        self.result = result
        self.error = error


class _QueueSink:
    """The file object FFmpeg writes to (from the remux thread)."""

    def __init__(self, stream: PlaybackStream) -> None:
        self._stream = stream

    def write(self, data: Any) -> int:
        self._stream._put(bytes(data))
        return len(data)


class PlaybackStream:
    def __init__(
        self,
        segments: list[SourceSegment],
        start_us: int,
        end_us: int,
        *,
        keep_gaps: bool,
        keyframes_only: bool = False,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue(_QUEUE_CHUNKS)
        self._started: asyncio.Future[int | None] = self._loop.create_future()
        self._cancelled = threading.Event()
        self.result: RemuxResult | None = None
        self._thread = threading.Thread(
            target=self._run,
            args=(segments, start_us, end_us, keep_gaps, keyframes_only),
            name="playback-remux",
            daemon=True,
        )
        self._thread.start()

    # -- the remux thread --------------------------------------------------------------------
    def _run(
        self,
        segments: list[SourceSegment],
        start_us: int,
        end_us: int,
        keep_gaps: bool,
        keyframes_only: bool,
    ) -> None:
        result: RemuxResult | None = None
        error: BaseException | None = None
        try:
            result = remux_range(
                segments,
                start_us,
                end_us,
                Output(_QueueSink(self), "mp4", dict(FRAGMENTED)),
                keep_gaps=keep_gaps,
                keyframes_only=keyframes_only,
                on_start=self._on_start,
            )
        except PlaybackCancelled:
            pass
        except BaseException as exc:  # handed to the reader, which raises it
            error = exc
            if self._cancelled.is_set():
                error = None
        finally:
            self._loop.call_soon_threadsafe(self._resolve_start, None)
            if not self._cancelled.is_set():
                self._put_end(_End(result, error))

    def _on_start(self, wall_us: int) -> None:
        self._loop.call_soon_threadsafe(self._resolve_start, wall_us)

    def _resolve_start(self, wall_us: int | None) -> None:
        if not self._started.done():
            self._started.set_result(wall_us)

    def _put(self, item: bytes) -> None:
        if self._cancelled.is_set():
            raise PlaybackCancelled
        future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        try:
            future.result()
        except (FutureCancelled, RuntimeError):
            raise PlaybackCancelled from None

    def _put_end(self, end: _End) -> None:
        with contextlib.suppress(FutureCancelled, RuntimeError):  # loop closed: no reader
            asyncio.run_coroutine_threadsafe(self._queue.put(end), self._loop).result()

    # -- the reader --------------------------------------------------------------------------
    async def started(self) -> int | None:
        """Wall time (µs) of the first picture, or None when the range holds none."""
        return await self._started

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                self.result = item.result
                if item.error is not None:
                    raise item.error
                return
            yield item

    def cancel(self) -> None:
        """Stop the remux (the reader is gone); frees the thread at its next write."""
        self._cancelled.set()
        while not self._queue.empty():
            self._queue.get_nowait()
