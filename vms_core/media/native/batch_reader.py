"""One thread per process that reads every batched (recording) connection on one timer.

At 64 cameras a thread per camera waking ten times a second cost more CPU than the reading
(0.133 vs 0.094 CPU-s per camera-minute at 0.1 vs 0.5 s per camera thread), and the
per-thread allocation patterns cost memory. Work per tick is a few milliseconds per camera;
the writer's fsyncs run on it too.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Drained(Protocol):
    """A connection the reader serves."""

    def tick(self, now: float) -> None:
        """Read all that arrived and check timeouts; raise to end the connection."""


class _Served:
    __slots__ = ("connection", "done", "error")

    def __init__(self, connection: Drained) -> None:
        self.connection = connection
        self.done = threading.Event()
        self.error: BaseException | None = None


class BatchReader:
    """Serves connections on one timer every ``interval`` seconds (see the module)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._served: list[_Served] = []
        self._thread: threading.Thread | None = None

    def serve(self, connection: Drained) -> None:
        """Read ``connection`` until it ends; blocks the calling (camera) thread meanwhile
        and raises the error that ended the connection."""
        served = _Served(connection)
        with self._lock:
            self._served.append(served)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="ingest-batch-reader", daemon=True
                )
                self._thread.start()
        while not served.done.wait(1.0):
            thread = self._thread
            if thread is None or not thread.is_alive():  # never expected; never silent
                with self._lock:
                    if served in self._served:
                        self._served.remove(served)
                raise ConnectionError("the batch reader stopped; reconnecting")
        if served.error is not None:
            raise served.error

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while True:
            next_tick += self.interval
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = time.monotonic()  # behind: do not try to catch up
            with self._lock:
                everything = tuple(self._served)
            now = time.monotonic()
            for served in everything:
                try:
                    served.connection.tick(now)
                except BaseException as exc:  # handed to the camera's own thread
                    with self._lock:
                        self._served.remove(served)
                    served.error = exc
                    served.done.set()


_BATCH_READERS: dict[float, BatchReader] = {}
_BATCH_READERS_LOCK = threading.Lock()


def batch_reader(interval: float) -> BatchReader:
    """The process's reader for ``interval`` (one per interval)."""
    with _BATCH_READERS_LOCK:
        reader = _BATCH_READERS.get(interval)
        if reader is None:
            reader = _BATCH_READERS[interval] = BatchReader(interval)
        return reader
