"""Emulating a camera that drops off the network now and then."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class DroppableStream(Protocol):
    """What the dropper needs of an RTSP stream (``vms_core.rtsp.RtspStream`` has it)."""

    available: bool

    def disconnect_all(self) -> None: ...


class StreamDropper:
    """Every ``every_s`` seconds: disconnect all clients of ``stream`` and refuse new ones
    (``available = False``) for ``down_s`` seconds, then let them back."""

    def __init__(self, stream: DroppableStream, every_s: float, down_s: float) -> None:
        if not 0 < down_s < every_s:
            raise ValueError("need 0 < down_s < every_s")
        self.stream = stream
        self.every_s = every_s
        self.down_s = down_s
        self.drops = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="simulator-stream-dropper")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # wait() neither raises the task's CancelledError nor swallows our own.
            await asyncio.wait([task])
            if not task.cancelled():
                task.result()  # a task that failed says so, as awaiting it did
        self.stream.available = True

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.every_s - self.down_s)
                self.drops += 1
                log.info("simulated drop: stream down for %.1fs", self.down_s)
                self.stream.available = False
                self.stream.disconnect_all()
                await asyncio.sleep(self.down_s)
                self.stream.available = True
        finally:
            self.stream.available = True
