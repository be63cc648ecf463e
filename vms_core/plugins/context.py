"""The host's implementation of ``vms_sdk.PluginContext`` on top of ``HostServices``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from vms_sdk import Bookmark, Camera, Event, NearbyCamera, Notification, cameras_near

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


class HostPluginContext:
    """``PluginContext`` for one plug-in; created by the manager at start-up."""

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        services: HostServices,
        loop: asyncio.AbstractEventLoop,
        kv: HostKeyValueStore,
    ) -> None:
        self._name = name
        self._config = dict(config)
        self._services = services
        self._loop = loop
        self._kv = kv
        self._logger = logging.getLogger(f"vms.plugins.{name}")

    @classmethod
    async def create(
        cls, name: str, config: Mapping[str, Any], services: HostServices
    ) -> HostPluginContext:
        """Build a context, loading the plug-in's persisted key-value state."""
        loop = asyncio.get_running_loop()
        kv = HostKeyValueStore(name, services, loop, await services.kv_load(name))
        return cls(name, config, services, loop, kv)

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> Mapping[str, Any]:
        return self._config

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    @property
    def kv(self) -> HostKeyValueStore:
        return self._kv

    @property
    def data_dir(self) -> Path:
        folder = self._services.data_dir / "plugins" / self._name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def public_url(self) -> str:
        return f"{self._services.public_base_url.rstrip('/')}/api/plugins/{self._name}/"

    def list_cameras(self) -> Sequence[Camera]:
        return list(self._services.list_cameras())

    def get_camera(self, camera_id: str) -> Camera | None:
        return next((c for c in self._services.list_cameras() if c.id == camera_id), None)

    def cameras_near(self, lat: float, lon: float, radius_m: float) -> list[NearbyCamera]:
        return cameras_near(self._services.list_cameras(), lat, lon, radius_m)

    async def publish_event(self, event: Event) -> Event:
        return await self._services.publish_event(replace(event, source=self._name))

    async def bookmark(
        self,
        camera_ids: Iterable[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool = False,
    ) -> Bookmark:
        return await self._services.create_bookmark(
            list(camera_ids), start, end, reason, lock, f"plugin:{self._name}"
        )

    async def snapshot(self, camera_id: str) -> bytes | None:
        return await self._services.snapshot(camera_id)

    async def notify(self, notification: Notification) -> None:
        await self._services.send_notification(notification, f"plugin:{self._name}")

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        await self._services.ptz_goto_preset(camera_id, preset)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)
