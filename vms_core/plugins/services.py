"""What the host must provide so plug-ins can act: the server side of ``PluginContext``.

The plug-in manager depends on this protocol only; the server implements it on top of
its camera registry, event bus, bookmark store, snapshot service and database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from vms_sdk import Bookmark, Camera, Event, Notification


class HostServices(Protocol):
    """Server services a plug-in's context calls reach (through its runner's RPC)."""

    @property
    def data_dir(self) -> Path:
        """The server's data folder; plug-ins get ``plugins/<name>/`` inside it."""
        ...

    @property
    def public_base_url(self) -> str:
        """Absolute base URL of the server as users reach it, e.g. ``https://vms.example/``."""
        ...

    def list_cameras(self) -> Sequence[Camera]:
        """Current cameras, from memory: called from worker threads, must not block."""
        ...

    async def publish_event(self, event: Event) -> Event:
        """Store and fan out ``event`` (``source`` already set to the plug-in's name)."""
        ...

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
        """Create a bookmark; ``created_by`` is ``"plugin:<name>"`` for the audit trail;
        ``event_id`` links it to the event it is about."""
        ...

    async def snapshot(self, camera_id: str) -> bytes | None:
        """A current JPEG of ``camera_id`` or ``None``."""
        ...

    async def send_notification(self, notification: Notification, sender: str) -> None:
        """Route ``notification`` to channel plug-ins (``PluginManager.deliver``)."""
        ...

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        """Move ``camera_id`` to preset ``preset``; raise ``ValueError`` for unknown ones."""
        ...

    async def kv_load(self, plugin: str) -> Mapping[str, Any]:
        """All persisted key-value pairs of ``plugin`` (JSON values)."""
        ...

    async def kv_set(self, plugin: str, key: str, value: Any) -> None:
        """Persist one JSON value."""
        ...

    async def kv_delete(self, plugin: str, key: str) -> None:
        """Forget one key (no error if absent)."""
        ...
