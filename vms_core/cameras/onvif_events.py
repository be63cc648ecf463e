"""Cameras' own ONVIF events (motion, tamper) turned into VMS events.

One task per camera that offers the events service holds a PullPoint subscription and
publishes ``motion.start``/``motion.end`` and ``tamper.start``/``tamper.end`` (source
``onvif``) when the camera's state changes. A lost subscription is re-made with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vms_sdk import Event, Severity

from vms_core.cameras.health import open_device
from vms_core.cameras.service import CameraChange, CameraService
from vms_core.events import EventBus
from vms_core.onvif.client import OnvifError
from vms_core.onvif.events import OnvifNotification, PullPointReader

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0


class OnvifEventPump:
    def __init__(
        self,
        cameras: CameraService,
        events: EventBus,
        *,
        call_timeout: float = 10.0,
        pull_wait_s: int = 5,
    ) -> None:
        self.cameras = cameras
        self.events = events
        self.call_timeout = call_timeout
        self.pull_wait_s = pull_wait_s
        self._tasks: dict[int, asyncio.Task[None]] = {}
        cameras.subscribe(self._on_change)

    def running(self) -> list[int]:
        return sorted(i for i, t in self._tasks.items() if not t.done())

    def ensure(self, camera_id: int) -> None:
        """Start reading the camera's events unless that already runs."""
        task = self._tasks.get(camera_id)
        if task is None or task.done():
            self._tasks[camera_id] = asyncio.create_task(
                self._run(camera_id), name=f"onvif-events-{camera_id}"
            )

    async def _on_change(self, change: CameraChange) -> None:
        # A new address or login, disabled or removed: stop; health restarts it if fit.
        if change.kind == "removed":
            await self.cancel(change.camera_id)
            return
        camera = await self.cameras.get(change.camera_id)
        if camera is None or not camera.enabled or not camera.onvif_url:
            await self.cancel(change.camera_id)

    async def cancel(self, camera_id: int) -> None:
        task = self._tasks.pop(camera_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stop(self) -> None:
        for camera_id in list(self._tasks):
            await self.cancel(camera_id)

    async def _run(self, camera_id: int) -> None:
        backoff = 1.0
        active: dict[str, bool] = {}
        while True:
            camera = await self.cameras.get(camera_id)
            if camera is None or not camera.enabled or not camera.onvif_url:
                return
            try:
                device = await open_device(self.cameras, camera, self.call_timeout)
            except OnvifError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            reader = PullPointReader(device)
            try:
                await reader.start()
                backoff = 1.0
                while True:
                    for notification in await reader.pull(self.pull_wait_s):
                        await self._publish(camera_id, notification, active)
            except OnvifError as err:
                log.info("camera %s: ONVIF events lost (%s); re-subscribing", camera_id, err)
            finally:
                await reader.close()
                await device.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _publish(
        self, camera_id: int, notification: OnvifNotification, active: dict[str, bool]
    ) -> None:
        was = active.get(notification.kind, False)
        active[notification.kind] = notification.active
        if notification.active == was:
            return  # no change (or an initial "nothing happening")
        phase = "start" if notification.active else "end"
        severity = Severity.MEDIUM if notification.kind == "tamper" else Severity.INFO
        await self.events.publish(
            Event(
                type=f"{notification.kind}.{phase}",
                camera_ids=(str(camera_id),),
                severity=severity,
                source="onvif",
                data={"topic": notification.topic, "camera_time": notification.utc_time},
            )
        )
