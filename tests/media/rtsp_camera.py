"""A simulated camera on the project's RTSP server, run on its own event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.loops import shared_loop_cache
from vms_core.rtsp.auth import Credentials
from vms_core.rtsp.server import RtspServer
from vms_core.simulator.media.cache import load_or_encode
from vms_core.simulator.media.encoder import EncodedLoop, LoopSpec
from vms_core.simulator.media.player import LoopPlayer
from vms_core.simulator.media.profiles import AudioProfile, VideoProfile
from vms_core.simulator.media.scene import SceneConfig
from vms_core.simulator.media.tracks import audio_track_info, video_track_info

T = TypeVar("T")


def small_loop(audio: str | None = "AAC", video: str = "H264") -> EncodedLoop:
    """4 s, 320x180, 10 fps, keyframe every second."""
    profile = None
    if audio == "AAC":
        profile = AudioProfile("AAC", 16000)
    elif audio == "PCMU":
        profile = AudioProfile("PCMU", 8000)
    picture = VideoProfile(320, 180, 10, 200_000, codec=video)  # type: ignore[arg-type]
    spec = LoopSpec(SceneConfig(loop_seconds=4), picture, profile)
    return load_or_encode(spec, shared_loop_cache())


class CountingRtspServer(RtspServer):
    """The project's RTSP server, counting the connections it accepted."""

    connections = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await super()._accept(reader, writer)


class RtspCameras:
    """An RTSP server with one or more looping camera streams."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = CountingRtspServer("127.0.0.1", 0)
        self.run(self.server.start())
        self.players: list[LoopPlayer] = []

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def add(self, path: str, encoded: EncodedLoop, credentials: Credentials | None = None) -> str:
        tracks = [video_track_info(encoded)]
        audio = audio_track_info(encoded)
        if audio is not None:
            tracks.append(audio)

        async def start() -> None:
            stream = self.server.add_stream(path, tracks, credentials)
            player = LoopPlayer(encoded, stream.publish)
            player.start()
            self.players.append(player)

        self.run(start())
        return self.server.url(path)

    def set_down(self, path: str, down: bool) -> None:
        """Camera gone (clients cut, new ones refused) or back."""

        async def apply() -> None:
            stream = self.server.streams[path]
            stream.available = not down
            if down:
                stream.disconnect_all()

        self.run(apply())

    def close(self) -> None:
        async def stop() -> None:
            for player in self.players:
                await player.stop()
            await self.server.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
