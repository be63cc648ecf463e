"""One simulated camera: its ONVIF server, PTZ head and the facts a client needs about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vms_core.simulator.config import CameraConfig
from vms_core.simulator.context import DEVICE_PATH, rtsp_path, snapshot_path
from vms_core.simulator.device_service import location_scope, scopes
from vms_core.simulator.discovery import DiscoveryEndpoint
from vms_core.simulator.onvif_server import OnvifCameraServer, bracket_host
from vms_core.simulator.ptz import PtzState


@dataclass(frozen=True, slots=True)
class SimulatedCameraInfo:
    """Everything a test or an operator needs to connect to one simulated camera."""

    name: str
    onvif_url: str
    username: str
    password: str
    rtsp_main_url: str
    rtsp_sub_url: str
    snapshot_url: str
    endpoint_reference: str
    manufacturer: str
    model: str
    ptz: bool
    lat: float | None
    lon: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SimulatedCamera:
    def __init__(
        self,
        config: CameraConfig,
        host: str,
        port: int,
        advertise_host: str | None,
        rtsp_port: int = 0,
    ) -> None:
        self.config = config
        self.rtsp_port = rtsp_port
        self.ptz = PtzState() if config.ptz else None
        self.server = OnvifCameraServer(
            config,
            host=host,
            port=port,
            rtsp_port=lambda: self.rtsp_port,
            ptz=self.ptz,
            advertise_host=advertise_host,
        )
        self._public_host = bracket_host(advertise_host or host)

    @property
    def name(self) -> str:
        return self.config.name

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def rtsp_url(self, profile: str) -> str:
        return f"rtsp://{self._public_host}:{self.rtsp_port}{rtsp_path(self.name, profile)}"

    @property
    def info(self) -> SimulatedCameraInfo:
        http = f"http://{self._public_host}:{self.server.port}"
        return SimulatedCameraInfo(
            name=self.name,
            onvif_url=http + DEVICE_PATH,
            username=self.config.username,
            password=self.config.password,
            rtsp_main_url=self.rtsp_url("main"),
            rtsp_sub_url=self.rtsp_url("sub"),
            snapshot_url=http + snapshot_path("main"),
            endpoint_reference=self.config.endpoint_reference,
            manufacturer=self.config.manufacturer,
            model=self.config.model,
            ptz=self.config.ptz,
            lat=self.config.lat,
            lon=self.config.lon,
        )

    def discovery_endpoint(self) -> DiscoveryEndpoint:
        location = location_scope(self.config.location, self.config.lat, self.config.lon)
        return DiscoveryEndpoint(
            endpoint_reference=self.config.endpoint_reference,
            xaddrs=[self.info.onvif_url],
            scopes=scopes(self.name, self.config.model, location),
        )
