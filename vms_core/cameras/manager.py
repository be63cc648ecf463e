"""What the server runs for camera management besides the registry itself: ONVIF health
and stream discovery, PTZ, snapshots and discovery scans."""

from __future__ import annotations

from vms_core.cameras.health import CameraHealth
from vms_core.cameras.onvif_events import OnvifEventPump
from vms_core.cameras.ptz import PtzControl
from vms_core.cameras.service import CameraService
from vms_core.cameras.snapshot import Snapshots
from vms_core.config.settings import OnvifSettings
from vms_core.events import EventBus
from vms_core.live import LiveSources
from vms_core.onvif.client import DeviceDescription
from vms_core.onvif.scans import DiscoveryScans


class CameraManager:
    def __init__(
        self,
        cameras: CameraService,
        events: EventBus,
        live: LiveSources,
        settings: OnvifSettings | None = None,
    ) -> None:
        settings = settings or OnvifSettings()
        timeout = settings.timeout_seconds
        self.event_pump = OnvifEventPump(cameras, events, call_timeout=timeout)
        self.onvif_events = settings.events
        self.health = CameraHealth(
            cameras,
            events,
            timeout=timeout,
            recheck_seconds=settings.recheck_seconds,
            on_online=self._camera_online,
        )
        self.ptz = PtzControl(cameras, timeout=timeout)
        self.snapshots = Snapshots(cameras, live, timeout=timeout)
        self.scans = DiscoveryScans(listen=settings.listen_for_hello)

    async def start(self) -> None:
        await self.health.start()
        await self.scans.start()

    def _camera_online(self, camera_id: int, device: DeviceDescription) -> None:
        if self.onvif_events and device.has_events:
            self.event_pump.ensure(camera_id)

    async def stop(self) -> None:
        await self.scans.stop()
        await self.health.stop()
        await self.event_pump.stop()
