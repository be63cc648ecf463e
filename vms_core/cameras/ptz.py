"""PTZ on catalog cameras: continuous move, stop, presets, status, over ONVIF.

The profile used is the main stream's ONVIF profile token (PTZ configurations hang off a
profile). Errors are ``PtzError`` with a message for the API; ``goto_preset`` (the
plug-in host's and the rule engine's entry point) raises ValueError instead.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from vms_core.cameras.health import open_device
from vms_core.cameras.service import CameraService
from vms_core.db.models import Camera
from vms_core.onvif.client import OnvifDevice, OnvifError


class PtzError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PtzControl:
    def __init__(self, cameras: CameraService, timeout: float = 10.0) -> None:
        self.cameras = cameras
        self.timeout = timeout

    async def _resolve(self, camera: int | str) -> Camera:
        """A camera by id (int or digits) or by name."""
        if isinstance(camera, int) or camera.isdigit():
            found = await self.cameras.get(int(camera))
        else:
            found = next((c for c in await self.cameras.visible() if c.name == camera), None)
        if found is None:
            raise PtzError(404, f"no camera {camera!r}")
        return found

    @staticmethod
    def _check(camera: Camera) -> None:
        if not camera.has_ptz or not camera.onvif_url:
            raise PtzError(409, f"camera {camera.name} has no PTZ")

    async def _device(self, camera: Camera) -> tuple[OnvifDevice, str]:
        """A connected device and the profile token PTZ commands name."""
        self._check(camera)
        try:
            device = await open_device(self.cameras, camera, self.timeout)
        except OnvifError as err:
            raise PtzError(502, f"camera {camera.name}: {err.reason}") from None
        main = next((s for s in camera.streams if s.role == "main" and s.profile_token), None)
        if main is not None:
            return device, main.profile_token
        # Streams set by URL in the settings carry no token: ask the camera.
        try:
            profiles = await device.profiles(with_uris=False)
        except OnvifError as err:
            await device.close()
            raise PtzError(502, f"camera {camera.name}: {err.reason}") from None
        token = next((p.token for p in profiles if p.has_ptz), None)
        if token is None:
            await device.close()
            raise PtzError(409, f"camera {camera.name}: no profile with PTZ")
        return device, token

    async def move(
        self,
        camera_id: int,
        pan: float,
        tilt: float,
        zoom: float,
        timeout_s: float | None,
    ) -> None:
        camera = await self._resolve(camera_id)
        device, token = await self._device(camera)
        try:
            await device.ptz_move(token, pan, tilt, zoom, timeout_s)
        except OnvifError as err:
            raise PtzError(502, f"camera {camera.name}: {err.reason}") from None
        finally:
            await device.close()

    async def stop(self, camera_id: int) -> None:
        camera = await self._resolve(camera_id)
        device, token = await self._device(camera)
        try:
            await device.ptz_stop(token)
        except OnvifError as err:
            raise PtzError(502, f"camera {camera.name}: {err.reason}") from None
        finally:
            await device.close()

    async def status(self, camera_id: int) -> dict[str, Any]:
        camera = await self._resolve(camera_id)
        device, token = await self._device(camera)
        try:
            status = await device.ptz_status(token)
            presets = await device.ptz_presets(token)
        except OnvifError as err:
            raise PtzError(502, f"camera {camera.name}: {err.reason}") from None
        finally:
            await device.close()
        return {**asdict(status), "presets": [asdict(p) for p in presets]}

    async def goto(self, camera: int | str, preset: str) -> None:
        """Go to a preset named by token or by name."""
        found = await self._resolve(camera)
        device, token = await self._device(found)
        try:
            presets = await device.ptz_presets(token)
            match = next((p for p in presets if preset in (p.token, p.name)), None)
            if match is None:
                known = ", ".join(f"{p.token} ({p.name})" for p in presets) or "none"
                raise PtzError(404, f"camera {found.name} has no preset {preset!r}; it has {known}")
            await device.ptz_goto(token, match.token)
        except OnvifError as err:
            raise PtzError(502, f"camera {found.name}: {err.reason}") from None
        finally:
            await device.close()

    async def goto_preset(self, camera_id: str, preset: str) -> None:
        """The plug-in host's entry point: ValueError for an unknown camera or preset, or a
        camera without PTZ; other failures as PtzError."""
        try:
            await self.goto(camera_id, preset)
        except PtzError as err:
            if err.status in (404, 409):
                raise ValueError(err.message) from None
            raise
