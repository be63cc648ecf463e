"""Typed in-process signals: how one part of the server tells the others that something
happened (a segment opened or closed, a camera added, changed or removed, a stream's state
changed), without knowing who listens.

A listener connects with a name. Emitting calls every listener in the order they
connected; one that raises is logged with its name and the value, and the others still
run: a failing listener can never stop the emitter or its neighbours. Cancellation is not
a failure and goes through. Facts for the world (stored, shown to users and plug-ins) take
the EventBus instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def _name_of(listener: Callable[..., object]) -> str:
    return getattr(listener, "__qualname__", None) or repr(listener)


class Signal(Generic[T]):
    """Synchronous listeners, called on the emitter's thread (an ingest thread may emit):
    each must be quick. Connecting and emitting may happen on different threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: tuple[tuple[str, Callable[[T], object]], ...] = ()
        self._lock = threading.Lock()

    def connect(self, listener: Callable[[T], object], name: str | None = None) -> None:
        with self._lock:
            self._listeners = (*self._listeners, (name or _name_of(listener), listener))

    def disconnect(self, listener: Callable[[T], object]) -> None:
        with self._lock:
            self._listeners = tuple(item for item in self._listeners if item[1] != listener)

    @property
    def listeners(self) -> list[str]:
        """The connected listeners' names, in calling order."""
        return [name for name, _ in self._listeners]

    def emit(self, value: T) -> None:
        for name, listener in self._listeners:
            try:
                listener(value)
            except Exception:
                log.exception("%s listener %s failed on %r", self.name, name, value)


class AsyncSignal(Generic[T]):
    """Coroutine listeners, awaited one after the other on the event loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: tuple[tuple[str, Callable[[T], Awaitable[object]]], ...] = ()

    def connect(self, listener: Callable[[T], Awaitable[object]], name: str | None = None) -> None:
        self._listeners = (*self._listeners, (name or _name_of(listener), listener))

    def disconnect(self, listener: Callable[[T], Awaitable[object]]) -> None:
        self._listeners = tuple(item for item in self._listeners if item[1] != listener)

    @property
    def listeners(self) -> list[str]:
        return [name for name, _ in self._listeners]

    async def emit(self, value: T) -> None:
        for name, listener in self._listeners:
            try:
                await listener(value)
            except Exception:
                log.exception("%s listener %s failed on %r", self.name, name, value)
