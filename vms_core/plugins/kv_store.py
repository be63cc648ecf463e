"""A plug-in's key-value state on the host: served from memory, written through to the catalog."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from vms_core.plugins.services import HostServices

T = TypeVar("T")
_DELETED = object()
log = logging.getLogger(__name__)


class HostKeyValueStore:
    """Plug-in state served from memory and written through to the database.

    Writes are coalesced per key and saved by one background task on the loop, so
    ``set`` is cheap and safe from worker threads and never blocks.
    """

    def __init__(
        self,
        plugin: str,
        services: HostServices,
        loop: asyncio.AbstractEventLoop,
        initial: Mapping[str, Any],
    ) -> None:
        self._plugin = plugin
        self._services = services
        self._loop = loop
        self._data: dict[str, Any] = dict(initial)
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._writer_idle = asyncio.Event()
        self._writer_idle.set()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        copy = json.loads(json.dumps(value))  # TypeError now, not at write time
        with self._lock:
            self._data[key] = copy
            self._pending[key] = copy
        self._schedule_write()

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)
            self._pending[key] = _DELETED
        self._schedule_write()

    def items(self) -> Iterator[tuple[str, Any]]:
        with self._lock:
            return iter(sorted(self._data.items()))

    async def flush(self) -> None:
        """Wait until every write so far is saved."""
        while True:
            await self._writer_idle.wait()
            with self._lock:
                if not self._pending:
                    return
            self._start_writer()

    def _schedule_write(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._start_writer()
        else:
            self._loop.call_soon_threadsafe(self._start_writer)

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer_idle.clear()
            self._writer = self._loop.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    key, value = next(iter(self._pending.items()))
                    del self._pending[key]
                try:
                    if value is _DELETED:
                        await self._services.kv_delete(self._plugin, key)
                    else:
                        await self._services.kv_set(self._plugin, key, value)
                except Exception:
                    log.exception("plug-in %s: saving key %r failed", self._plugin, key)
        finally:
            self._writer_idle.set()
