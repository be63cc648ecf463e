"""The RTSP side of the simulator: one RTSP server for all cameras, and each camera's
main and sub streams fed by the media package's loop players (video + audio)."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import Executor
from pathlib import Path

from vms_core.rtsp import Credentials, RtspServer
from vms_core.simulator.config import CameraConfig
from vms_core.simulator.context import PROFILE_TOKENS, rtsp_path
from vms_core.simulator.media import LoopPlayer, LoopStore, StreamDropper, track_infos
from vms_core.simulator.media_specs import loop_spec

log = logging.getLogger(__name__)


def rtsp_credentials(camera: CameraConfig) -> Credentials:
    # A camera that refuses every password refuses it on RTSP too.
    password = secrets.token_urlsafe(16) if camera.reject_password else camera.password
    return Credentials(camera.username, password, realm=camera.name)


class CameraStreams:
    """The running media of one camera: a player per profile, and droppers if asked."""

    def __init__(self) -> None:
        self.players: list[LoopPlayer] = []
        self.droppers: list[StreamDropper] = []

    async def stop(self) -> None:
        for dropper in self.droppers:
            await dropper.stop()
        for player in self.players:
            await player.stop()
        self.droppers.clear()
        self.players.clear()


class RtspHost:
    """Owns the single RTSP server and publishes each camera's streams on it."""

    def __init__(
        self,
        host: str,
        port: int = 0,
        cache_dir: Path | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.server = RtspServer(host, port)
        # Encoding runs in worker threads (LoopStore); the loop only publishes.
        self.store = LoopStore(cache_dir, executor)

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def add_camera(self, camera: CameraConfig) -> CameraStreams:
        """Encode (or load) the camera's loops and start publishing them."""
        streams = CameraStreams()
        for profile in PROFILE_TOKENS:
            await self.add_profile(camera, profile, streams)
        return streams

    async def add_profile(self, camera: CameraConfig, profile: str, streams: CameraStreams) -> None:
        """Encode (or load) one of the camera's loops and start publishing it."""
        loop = await self.store.get(loop_spec(camera, profile))
        stream = self.server.add_stream(
            rtsp_path(camera.name, profile), track_infos(loop), rtsp_credentials(camera)
        )
        player = LoopPlayer(loop, stream.publish)
        player.start()
        streams.players.append(player)
        if camera.drop_every_s is not None:
            dropper = StreamDropper(stream, camera.drop_every_s, camera.down_s)
            dropper.start()
            streams.droppers.append(dropper)
