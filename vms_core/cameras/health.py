"""Camera health on the ONVIF side, and filling the catalog from what cameras report.

When an ONVIF camera is added or its address or login changes, ``CameraHealth`` connects,
reads its profiles and stream URIs into the catalog (``CameraService.apply_onvif``; the
recorder hears the change and starts) and records the camera's state:

- ``online``: the camera answers and accepts the login;
- ``unauthorized``: it refused the username or password;
- ``unreachable``: no connection or no answer in time;
- ``error``: it answered, but not usefully (the reason says how).

The recorder reports ``connecting``/``streaming``/``lost`` itself; a successful ONVIF
check never overwrites those with ``online``. Every change is also a ``camera.<state>``
event. Cameras that are unreachable or in error are checked again periodically; an
unauthorized camera is not (retrying a wrong password can lock the account on the camera).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from vms_sdk import Event, Severity

from vms_core.cameras.service import CameraChange, CameraService
from vms_core.db.models import Camera
from vms_core.events import EventBus
from vms_core.onvif.client import DeviceDescription, OnvifDevice, OnvifError
from vms_core.untrusted import bounded_text

log = logging.getLogger(__name__)

# States this module owns; anything else came from the recorder and is more specific.
ONVIF_STATES = frozenset({"unknown", "idle", "online", "unauthorized", "unreachable", "error"})
RETRY_STATES = frozenset({"unknown", "unreachable", "error"})
UNAUTHORIZED_HINT = (
    "correct them with `vms cameras login {id} --username USER` or PATCH /api/cameras/{id}"
)


async def open_device(cameras: CameraService, camera: Camera, call_timeout: float) -> OnvifDevice:
    """A connected ONVIF client for a catalog camera. Raises OnvifError."""
    if not camera.onvif_url:
        raise OnvifError("the camera has no ONVIF address")
    password = await cameras.password(camera.id)
    device = OnvifDevice(camera.onvif_url, camera.username, password, timeout=call_timeout)
    try:
        await device.connect()
    except BaseException:
        await device.close()
        raise
    return device


class CameraHealth:
    def __init__(
        self,
        cameras: CameraService,
        events: EventBus,
        *,
        timeout: float = 10.0,
        recheck_seconds: float = 60.0,
        on_online: Callable[[int, DeviceDescription], None] | None = None,
    ) -> None:
        self.cameras = cameras
        self.events = events
        self.timeout = timeout
        self.recheck_seconds = recheck_seconds
        self.on_online = on_online
        self._locks: dict[int, asyncio.Lock] = {}
        # What each camera was last checked with: a change of address or login re-checks.
        self._checked: dict[int, tuple[str, str, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        cameras.changed.connect(self._on_change, "ONVIF health")

    async def start(self) -> None:
        for camera in await self.cameras.visible():
            if camera.enabled and camera.onvif_url:
                self._spawn(self._check_if_new(camera.id))
        self._loop_task = asyncio.create_task(self._recheck_loop(), name="camera-health")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            # wait() neither raises the tasks' CancelledError nor swallows our own.
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("camera health task failed", exc_info=task.exception())
        self._tasks.clear()
        self._loop_task = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_change(self, change: CameraChange) -> None:
        if change.kind == "removed":
            self._checked.pop(change.camera_id, None)
            self._locks.pop(change.camera_id, None)
            return
        self._spawn(self._check_if_new(change.camera_id))

    async def _fingerprint(self, camera: Camera) -> tuple[str, str, str]:
        return (camera.onvif_url or "", camera.username, camera.password_encrypted)

    async def _check_if_new(self, camera_id: int) -> None:
        camera = await self.cameras.get(camera_id)
        if camera is None or not camera.enabled or not camera.onvif_url:
            return
        if self._checked.get(camera_id) == await self._fingerprint(camera):
            return
        await self.check(camera_id)

    async def check(self, camera_id: int) -> DeviceDescription | None:
        """Connect to the camera now, fill in its streams, record its state. Returns what
        the camera reported, or None when it could not be read (the state says why)."""
        lock = self._locks.setdefault(camera_id, asyncio.Lock())
        async with lock:
            camera = await self.cameras.get(camera_id)
            if camera is None or not camera.onvif_url:
                return None
            self._checked[camera_id] = await self._fingerprint(camera)
            try:
                device = await open_device(self.cameras, camera, self.timeout)
            except OnvifError as err:
                await self._failed(camera, err)
                return None
            try:
                description = await device.describe()
            except OnvifError as err:
                await self._failed(camera, err)
                return None
            finally:
                await device.close()
            try:
                await self.cameras.apply_onvif(camera_id, description)
            except KeyError:
                return None  # removed meanwhile
            reason = f"{description.manufacturer} {description.model}".strip()
            if description.clock_offset_s is not None and abs(description.clock_offset_s) > 5:
                reason += f"; camera clock {description.clock_offset_s:+.0f} s off"
            # Only over a state of this check's own: what recording reported meanwhile (a
            # lost signal) is newer news than "it answers ONVIF", so it stays.
            await self.set_state(camera_id, "online", reason, only_from=ONVIF_STATES)
            if self.on_online is not None:
                self.on_online(camera_id, description)
            return description

    async def _failed(self, camera: Camera, err: OnvifError) -> None:
        reason = err.reason
        if err.state == "unauthorized":
            reason = f"{reason}; {UNAUTHORIZED_HINT.format(id=camera.id)}"
        await self.set_state(camera.id, err.state, reason)

    async def set_state(
        self, camera_id: int, state: str, reason: str, *, only_from: frozenset[str] | None = None
    ) -> None:
        reason = bounded_text(reason)  # it quotes the camera; the event carries it too
        changed = await self.cameras.update_state(camera_id, state, reason, only_from=only_from)
        if changed != "state":
            return  # unchanged, or a new reason only (a clock drifting further off): no event
        severity = Severity.INFO if state == "online" else Severity.LOW
        await self.events.publish(
            Event(
                type=f"camera.{state}",
                camera_ids=(str(camera_id),),
                severity=severity,
                source="onvif",
                data={"reason": reason},
            )
        )

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_seconds)
            try:
                for camera in await self.cameras.visible():
                    if camera.enabled and camera.onvif_url and camera.state in RETRY_STATES:
                        await self.check(camera.id)
            except Exception:
                log.exception("camera health check failed")
