"""The server's implementation of ``HostServices``: what ``PluginContext`` calls land on.

Cameras are kept in memory (``list_cameras`` is called from plug-in worker threads and
must not touch the database); the copy is refreshed when the camera registry changes or
a ``camera.*`` state event goes by. Everything else forwards to the server's services.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from vms_sdk import Bookmark, Camera, Event, Notification

from vms_core.bookmarks import BookmarkRequest
from vms_core.cameras import CameraChange, sdk_camera
from vms_core.cameras.snapshot import SnapshotError
from vms_core.db.models import PluginState as PluginStateRow
from vms_core.timeutil import from_us, to_us

if TYPE_CHECKING:
    from vms_core.plugins.manager import PluginManager
    from vms_core.server import VmsServer

log = logging.getLogger("vms.plugins")

PtzHook = Callable[[str, str], Awaitable[None]]


class ServerHostServices:
    """``HostServices`` on top of a running :class:`~vms_core.server.VmsServer`."""

    def __init__(self, server: VmsServer) -> None:
        self._server = server
        self._cameras: list[Camera] = []
        self.manager: PluginManager | None = None  # set once the manager exists
        server.cameras.subscribe(self._on_camera_change)
        server.events.subscribe("plugin-cameras", self._on_event)

    async def refresh_cameras(self) -> None:
        """Reload the in-memory camera list from the catalog."""
        rows = await self._server.cameras.visible()
        self._cameras = [sdk_camera(c) for c in sorted(rows, key=lambda c: c.id)]

    async def _on_camera_change(self, change: CameraChange) -> None:
        await self._refresh_camera(change.camera_id)

    async def _on_event(self, event: Event) -> None:
        if event.type.startswith("camera."):  # a state change: streaming, lost, ...
            for camera_id in event.camera_ids:
                if camera_id.isdigit():
                    await self._refresh_camera(int(camera_id))

    async def _refresh_camera(self, camera_id: int) -> None:
        """Reload one camera, not all: a state change of one camera reloaded every camera
        with its streams (issue #16: 64 cameras, a reload per event, plug-ins or not)."""
        row = await self._server.cameras.get(camera_id)
        cameras = [c for c in self._cameras if c.id != str(camera_id)]
        if row is not None:
            cameras.append(sdk_camera(row))
        self._cameras = sorted(cameras, key=lambda c: int(c.id))

    # -- HostServices ------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._server.settings.data_dir

    @property
    def public_base_url(self) -> str:
        return self._server.settings.server.public_url or self._server.url

    def list_cameras(self) -> Sequence[Camera]:
        return self._cameras

    async def publish_event(self, event: Event) -> Event:
        return await self._server.events.publish(event)

    async def create_bookmark(
        self,
        camera_ids: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
        lock: bool,
        created_by: str,
    ) -> Bookmark:
        ids = []
        for camera_id in camera_ids:
            if not str(camera_id).isdigit():
                raise ValueError(f"no camera {camera_id!r}")
            ids.append(int(camera_id))
        rows = await self._server.bookmarks.create(
            BookmarkRequest(
                camera_ids=ids,
                start_us=to_us(start),
                end_us=to_us(end),
                reason=reason,
                lock=lock,
                created_by=created_by,
                automatic=True,  # a plug-in's lock may expire; a person's never does
            )
        )
        # One catalog row per camera; the SDK's bookmark covers them all.
        return Bookmark(
            id=",".join(str(r.id) for r in rows),
            camera_ids=tuple(str(r.camera_id) for r in rows),
            start=from_us(rows[0].start_us),
            end=from_us(rows[0].end_us),
            reason=reason,
            locked=lock,
        )

    async def snapshot(self, camera_id: str) -> bytes | None:
        # The camera's own snapshot where it has one, else a keyframe of its live feed.
        if not str(camera_id).isdigit():
            return None
        try:
            return await self._server.camera_manager.snapshots.jpeg(int(camera_id))
        except SnapshotError as err:
            log.info("no snapshot of camera %s: %s", camera_id, err.message)
            return None

    async def send_notification(self, notification: Notification, sender: str) -> None:
        if self.manager is None:
            raise RuntimeError("plug-ins are not running")
        results = await self.manager.deliver(notification)
        if not results:
            log.warning(
                "notification from %s: no plug-in handles channel %r",
                sender,
                notification.channel,
            )

    async def ptz_goto_preset(self, camera_id: str, preset: str) -> None:
        mover: PtzHook | None = getattr(self._server, "ptz_goto_preset", None)
        if mover is None:
            raise ValueError(f"camera {camera_id} has no PTZ")
        await mover(camera_id, preset)

    async def kv_load(self, plugin: str) -> Mapping[str, Any]:
        async with self._server.db.session() as session:
            rows = await session.scalars(
                select(PluginStateRow).where(PluginStateRow.plugin == plugin)
            )
            return {row.key: row.value for row in rows}

    async def kv_set(self, plugin: str, key: str, value: Any) -> None:
        async with self._server.db.session() as session:
            row = await session.get(PluginStateRow, (plugin, key))
            if row is None:
                session.add(PluginStateRow(plugin=plugin, key=key, value=value))
            else:
                row.value = value

    async def kv_delete(self, plugin: str, key: str) -> None:
        async with self._server.db.session() as session:
            await session.execute(
                delete(PluginStateRow).where(
                    PluginStateRow.plugin == plugin, PluginStateRow.key == key
                )
            )
