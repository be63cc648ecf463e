"""Shared pieces for the plug-in manager tests: in-memory host services, plug-in files."""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from vms_sdk import Bookmark, Camera, Event, Notification
from vms_sdk.permissions import CAPABILITIES

from vms_core.plugins import PluginManager

EVERYTHING = sorted(CAPABILITIES)


def granted(*names: str, **settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``[plugins]`` tables granting ``names`` every capability (with optional settings)."""
    return {n: {"grant": EVERYTHING, **settings.get(n, {})} for n in {*names, *settings}}


class MemoryServices:
    """HostServices kept in memory: what the server's services record, observable."""

    public_base_url = "http://127.0.0.1:8080/"

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="vms-test-data-"))
        self.cameras = [Camera("c1", "Main St", lat=40.0, lon=-75.0)]
        self.events: list[Event] = []
        self.bookmarks: list[Bookmark] = []
        self.notifications: list[tuple[Notification, str]] = []
        self.kv: dict[str, dict[str, Any]] = {}

    def list_cameras(self) -> Sequence[Camera]:
        return self.cameras

    async def publish_event(self, event: Event) -> Event:
        self.events.append(event)
        return event

    async def create_bookmark(
        self,
        camera_ids: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool,
        created_by: str,
        event_id: str | None = None,
    ) -> Bookmark:
        mark = Bookmark(
            str(len(self.bookmarks)), tuple(camera_ids), start, end, reason, lock, event_id
        )
        self.bookmarks.append(mark)
        return mark

    async def snapshot(self, camera_id: str) -> bytes | None:
        return None

    async def send_notification(self, notification: Notification, sender: str) -> None:
        self.notifications.append((notification, sender))

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        return None

    async def kv_load(self, plugin: str) -> Mapping[str, Any]:
        return dict(self.kv.get(plugin, {}))

    async def kv_set(self, plugin: str, key: str, value: Any) -> None:
        self.kv.setdefault(plugin, {})[key] = value

    async def kv_delete(self, plugin: str, key: str) -> None:
        self.kv.get(plugin, {}).pop(key, None)


@pytest.fixture
def services() -> MemoryServices:
    return MemoryServices()


def readable_dir(path: Path) -> Path:
    """``path`` and its parents made traversable, so a plug-in runner (another user)
    can import from it by path."""
    for folder in [path, *path.parents]:
        if folder == Path("/tmp") or folder == Path("/"):
            break
        folder.chmod(
            folder.stat().st_mode | 0o755 if folder == path else folder.stat().st_mode | 0o711
        )
    return path


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``<name>.py`` with the given source into a fresh plug-in folder."""
    folder = tmp_path / "plugins"
    folder.mkdir()

    def write(name: str, source: str) -> Path:
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return folder

    return write


class LoopLagMeter:
    """Measures how late a 10 ms ticker wakes up: the event loop's responsiveness."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst_s = max(self.worst_s, time.perf_counter() - before - 0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
async def loop_lag() -> AsyncIterator[LoopLagMeter]:
    meter = LoopLagMeter()
    meter.start()
    yield meter
    await meter.stop()


_managers: list[PluginManager] = []


async def started(manager: PluginManager) -> PluginManager:
    """Load and start ``manager``; it is stopped after the test (ending its runners)."""
    _managers.append(manager)
    await manager.load()
    await manager.start()
    return manager


@pytest.fixture(autouse=True)
async def _stop_managers() -> AsyncIterator[None]:
    yield
    while _managers:
        await _managers.pop().stop()
