"""What the server runs for camera management besides the registry itself: ONVIF health
and stream discovery, PTZ, snapshots and discovery scans."""

from __future__ import annotations

from vms_core.cameras.health import CameraHealth
from vms_core.cameras.ptz import PtzControl
from vms_core.cameras.service import CameraService
from vms_core.cameras.snapshot import Snapshots
from vms_core.events import EventBus
from vms_core.live import LiveSources
from vms_core.onvif.scans import DiscoveryScans


class CameraManager:
    def __init__(
        self,
        cameras: CameraService,
        events: EventBus,
        live: LiveSources,
        *,
        onvif_timeout: float = 10.0,
        listen_for_hello: bool = True,
    ) -> None:
        self.health = CameraHealth(cameras, events, timeout=onvif_timeout)
        self.ptz = PtzControl(cameras, timeout=onvif_timeout)
        self.snapshots = Snapshots(cameras, live, timeout=onvif_timeout)
        self.scans = DiscoveryScans(listen=listen_for_hello)

    async def start(self) -> None:
        await self.health.start()
        await self.scans.start()

    async def stop(self) -> None:
        await self.scans.stop()
        await self.health.stop()
