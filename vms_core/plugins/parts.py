"""The server services the plug-in host uses, each behind a narrow interface.

The host never sees the server object: the server hands it these parts, and the host
touches nothing else (cameras, events, bookmarks, snapshots, PTZ, the plug-ins' own
key-value state, the audit log, live feeds for frames, the settings, closed segments, and
who calls a plug-in's route).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from vms_sdk import Event, Principal

from vms_core.bookmarks import BookmarkRequest
from vms_core.cameras import CameraChange
from vms_core.config import Settings
from vms_core.plugins.frames import FeedSource
from vms_core.plugins.kv import PluginStateStore
from vms_core.recording_catalog import LiveSegment
from vms_core.signals import AsyncSignal, Signal


class CameraDirectory(Protocol):
    async def visible(self) -> Sequence[Any]: ...

    async def get(self, camera_id: int) -> Any | None: ...

    @property
    def changed(self) -> AsyncSignal[CameraChange]: ...


class EventStream(Protocol):
    async def publish(self, event: Event) -> Event: ...

    def subscribe(self, name: str, listener: Callable[[Event], Awaitable[None]]) -> None: ...


class BookmarkStore(Protocol):
    async def create(self, req: BookmarkRequest, remote: str = "") -> list[Any]: ...


class SnapshotSource(Protocol):
    async def jpeg(self, camera_id: int) -> bytes: ...


class AuditTrail(Protocol):
    async def record(
        self,
        action: str,
        *,
        username: str = "",
        target: str = "",
        success: bool = True,
        remote: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class PluginHostParts:
    """What a server gives its plug-in host."""

    settings: Callable[[], Settings]
    public_url: Callable[[], str]
    cameras: CameraDirectory
    events: EventStream
    bookmarks: BookmarkStore
    snapshots: SnapshotSource
    ptz_goto_preset: Callable[[str, str], Awaitable[None]]
    plugin_state: PluginStateStore
    audit: AuditTrail
    live: FeedSource
    # Segments once closed and indexed; None when the server does not record.
    segments_closed: Signal[LiveSegment] | None
    # The logged-in caller of a plug-in's route, as the SDK describes it.
    caller_of: Callable[[web.Request], Principal | None]
