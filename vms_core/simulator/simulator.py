"""The simulator: N cameras, one RTSP server for all of them, one WS-Discovery target."""

from __future__ import annotations

import asyncio
import logging

from vms_core.simulator.camera import SimulatedCamera, SimulatedCameraInfo
from vms_core.simulator.config import SimulatorConfig, default_cameras
from vms_core.simulator.discovery import DiscoveryTarget
from vms_core.simulator.streams import CameraStreams, RtspHost

log = logging.getLogger(__name__)


class Simulator:
    """``await start()``, read ``.cameras``, ``await stop()``."""

    def __init__(self, config: SimulatorConfig) -> None:
        if not config.cameras:
            config = config.model_copy(update={"cameras": default_cameras(1)})
        self.config = config
        self._cameras = [
            SimulatedCamera(
                camera,
                host=config.host,
                port=self._onvif_port(index),
                advertise_host=config.advertise_host,
            )
            for index, camera in enumerate(config.cameras)
        ]
        self.rtsp = RtspHost(config.host, config.rtsp_port, config.cache_dir)
        self._streams: list[CameraStreams] = []
        self.discovery: DiscoveryTarget | None = None
        self._started = False

    def _onvif_port(self, index: int) -> int:
        explicit = self.config.cameras[index].onvif_port
        if explicit is not None:
            return explicit
        return self.config.base_port + index if self.config.base_port else 0

    @property
    def cameras(self) -> list[SimulatedCameraInfo]:
        return [camera.info for camera in self._cameras]

    def camera(self, name: str) -> SimulatedCamera:
        for camera in self._cameras:
            if camera.name == name:
                return camera
        raise KeyError(name)

    async def start(self) -> None:
        try:
            await self.rtsp.start()
            for camera in self._cameras:
                camera.rtsp_port = self.rtsp.port
                await camera.start()
            if self.config.media:
                # Encode all cameras' loops at once: the store runs them in worker threads.
                results = await asyncio.gather(
                    *(self.rtsp.add_camera(c.config) for c in self._cameras),
                    return_exceptions=True,
                )
                self._streams = [r for r in results if isinstance(r, CameraStreams)]
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
            if self.config.discovery:
                self.discovery = DiscoveryTarget(
                    self.config.host,
                    [camera.discovery_endpoint() for camera in self._cameras],
                    port=self.config.discovery_port,
                    multicast=self.config.discovery_multicast,
                )
                await self.discovery.start()
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        if self.discovery is not None:
            await self.discovery.stop()
            self.discovery = None
        for streams in self._streams:
            await streams.stop()
        self._streams.clear()
        for camera in self._cameras:
            await camera.stop()
        await self.rtsp.stop()
        self._started = False
