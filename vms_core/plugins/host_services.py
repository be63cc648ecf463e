"""The server's implementation of ``HostServices``: what plug-ins' requests land on.

Cameras are kept in memory (refreshed when the camera registry changes or a ``camera.*``
state event goes by). Everything else forwards to the narrow server parts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vms_sdk import Bookmark, Camera, Event, Notification

from vms_core.bookmarks import BookmarkRequest
from vms_core.cameras import CameraChange, sdk_camera
from vms_core.cameras.snapshot import SnapshotError
from vms_core.plugins.parts import PluginHostParts
from vms_core.signals import Signal
from vms_core.timeutil import from_us, to_us

if TYPE_CHECKING:
    from vms_core.plugins.manager import PluginManager

log = logging.getLogger("vms.plugins")


class ServerHostServices:
    """``HostServices`` on top of the server's parts."""

    def __init__(self, parts: PluginHostParts) -> None:
        self._parts = parts
        self._cameras: list[Camera] = []
        self.manager: PluginManager | None = None  # set once the manager exists
        # The camera list changed (the plug-ins hear of it: vms_cameras_changed).
        self.cameras_changed: Signal[Sequence[Camera]] = Signal("plug-in camera list changed")
        parts.cameras.changed.connect(self._on_camera_change, "plug-ins' camera list")
        parts.events.subscribe("plugin-cameras", self._on_event)

    async def refresh_cameras(self) -> None:
        """Reload the in-memory camera list from the catalog, and tell the plug-ins."""
        rows = await self._parts.cameras.visible()
        cameras = [sdk_camera(c) for c in sorted(rows, key=lambda c: c.id)]
        if cameras == self._cameras:
            return
        self._cameras = cameras
        self.cameras_changed.emit(cameras)

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
        row = await self._parts.cameras.get(camera_id)
        cameras = [c for c in self._cameras if c.id != str(camera_id)]
        if row is not None:
            cameras.append(sdk_camera(row))
        cameras.sort(key=lambda c: int(c.id))
        if cameras == self._cameras:
            return
        self._cameras = cameras
        self.cameras_changed.emit(cameras)

    # -- HostServices ------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._parts.settings().data_dir

    @property
    def public_base_url(self) -> str:
        return self._parts.public_url()

    def list_cameras(self) -> Sequence[Camera]:
        return self._cameras

    async def publish_event(self, event: Event) -> Event:
        return await self._parts.events.publish(event)

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
        ids = []
        for camera_id in camera_ids:
            if not str(camera_id).isdigit():
                raise ValueError(f"no camera {camera_id!r}")
            ids.append(int(camera_id))
        rows = await self._parts.bookmarks.create(
            BookmarkRequest(
                camera_ids=ids,
                start_us=to_us(start),
                end_us=to_us(end),
                reason=reason,
                lock=lock,
                event_uid=event_id,
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
            event_id=event_id,
        )

    async def snapshot(self, camera_id: str) -> bytes | None:
        # The camera's own snapshot where it has one, else a keyframe of its live feed.
        if not str(camera_id).isdigit():
            return None
        try:
            return await self._parts.snapshots.jpeg(int(camera_id))
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
        await self._parts.ptz_goto_preset(camera_id, preset)

    async def kv_load(self, plugin: str) -> Mapping[str, Any]:
        return await self._parts.plugin_state.load(plugin)

    async def kv_set(self, plugin: str, key: str, value: Any) -> None:
        await self._parts.plugin_state.set(plugin, key, value)

    async def kv_delete(self, plugin: str, key: str) -> None:
        await self._parts.plugin_state.delete(plugin, key)
