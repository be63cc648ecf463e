"""Cameras' own ONVIF events (motion, tamper) turned into VMS events.

One task per camera that offers the events service holds a PullPoint subscription and
publishes ``motion.start``/``motion.end`` and ``tamper.start``/``tamper.end`` (source
``onvif``) when the camera's state changes.

A camera should hold each PullMessages call until it has news or ``pull_wait_s`` has passed;
many answer at once instead. Polls therefore start at least ``min_pull_interval_s`` apart
(a device answering at once was polled 100 times a second). A lost subscription, or a
camera that fails its polls, is retried with growing backoff, reset only by a good poll.
Cancelling a camera's task (camera removed, changed or disabled) ends it promptly: the
unsubscribe on the way out is bounded in time.
"""

from __future__ import annotations

import asyncio
import logging

from vms_sdk import Event, Severity

from vms_core.cameras.health import open_device
from vms_core.cameras.service import CameraChange, CameraService
from vms_core.db.models import Camera
from vms_core.events import EventBus
from vms_core.onvif.client import OnvifError
from vms_core.onvif.events import OnvifNotification, PullPointReader

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
# At most one PullMessages a second per camera, however fast the camera answers; news that
# comes meanwhile waits on the camera and arrives with the next poll, with its own time.
MIN_PULL_INTERVAL_S = 1.0


class OnvifEventPump:
    def __init__(
        self,
        cameras: CameraService,
        events: EventBus,
        *,
        call_timeout: float = 10.0,
        pull_wait_s: int = 5,
        min_pull_interval_s: float = MIN_PULL_INTERVAL_S,
    ) -> None:
        self.cameras = cameras
        self.events = events
        self.call_timeout = call_timeout
        self.pull_wait_s = pull_wait_s
        self.min_pull_interval_s = min_pull_interval_s
        self._tasks: dict[int, asyncio.Task[None]] = {}
        cameras.changed.connect(self._on_change, "ONVIF events")

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
        """Stop reading the camera's events; returns once its task has ended."""
        task = self._tasks.pop(camera_id, None)
        if task is None:
            return
        task.cancel()
        # wait() neither raises the task's CancelledError nor swallows our own cancellation.
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("camera %s: ONVIF events task failed", camera_id, exc_info=task.exception())

    async def stop(self) -> None:
        for camera_id in list(self._tasks):
            await self.cancel(camera_id)

    async def _run(self, camera_id: int) -> None:
        backoff = _Backoff()
        active: dict[str, bool] = {}
        while True:
            camera = await self.cameras.get(camera_id)
            if camera is None or not camera.enabled or not camera.onvif_url:
                return
            try:
                await self._read(camera, active, backoff)
            except OnvifError as err:
                log.info(
                    "camera %s: ONVIF events lost (%s); re-subscribing in %g s",
                    camera_id,
                    err.reason,
                    backoff.delay,
                )
            await asyncio.sleep(backoff.delay)
            backoff.grow()

    async def _read(self, camera: Camera, active: dict[str, bool], backoff: _Backoff) -> None:
        """Subscribe and poll until the camera fails (raises OnvifError) or we are cancelled."""
        loop = asyncio.get_running_loop()
        device = await open_device(self.cameras, camera, self.call_timeout)
        reader = PullPointReader(device)
        try:
            await reader.start()
            while True:
                started = loop.time()
                notifications = await reader.pull(self.pull_wait_s)
                backoff.reset()
                for notification in notifications:
                    await self._publish(camera.id, notification, active)
                elapsed = loop.time() - started
                if elapsed < self.min_pull_interval_s:
                    await asyncio.sleep(self.min_pull_interval_s - elapsed)
        finally:
            await reader.close()
            await device.close()

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


class _Backoff:
    """Seconds to wait before the next subscription attempt: doubles up to a ceiling."""

    def __init__(self) -> None:
        self.delay = FIRST_BACKOFF_S

    def grow(self) -> None:
        self.delay = min(self.delay * 2, MAX_BACKOFF_S)

    def reset(self) -> None:
        self.delay = FIRST_BACKOFF_S
