"""A vms server with simulated cameras, and a WHEP client made of aiortc, on loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from tests.conftest import RunningServer
from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.config import VideoProfileConfig
from vms_core.simulator.simulator import Simulator
from vms_core.webrtc.ice import set_loopback_policy

# The test viewers are aiortc in this process, on a loopback-only network: they gather
# loopback candidates too. Said here, not left to the server: the server sets the same
# process-wide policy only when its first viewer arrives (the WebRTC stack loads lazily),
# after a test viewer made its offer with no candidate ICE could pair.
set_loopback_policy("only")

H265_MAIN = VideoProfileConfig(width=256, height=144, fps=8, codec="H265")
H265_SUB = VideoProfileConfig(width=128, height=72, fps=4, codec="H265")


@pytest.fixture
async def cameras() -> AsyncIterator[Simulator]:
    """sim-cam-1: H.264 with G.711 audio; sim-cam-2: H.265 main and sub;
    sim-cam-3: H.265 main, H.264 sub."""
    config = sim_config(
        cameras=[
            small_camera(1, audio="PCMU"),
            small_camera(2, main=H265_MAIN, sub=H265_SUB),
            small_camera(3, main=H265_MAIN),
        ],
        discovery=False,
    )
    sim = Simulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def cameras_toml(sim: Simulator, webrtc_keys: str = "") -> str:
    text = f'[webrtc]\nice_loopback = "only"\n{webrtc_keys}\n'
    for info in sim.cameras:
        text += (
            f'[[cameras]]\nname = "{info.name}"\nrtsp_url = "{info.rtsp_main_url}"\n'
            f'sub_rtsp_url = "{info.rtsp_sub_url}"\nusername = "{info.username}"\n'
            f'password = "{info.password}"\nrecord = false\n'
        )
    return text


@pytest.fixture
async def vms(
    make_server: Callable[..., Any], cameras: Simulator, monkeypatch: pytest.MonkeyPatch
) -> RunningServer:
    # No installed plug-ins: their frame sampling would open decoders on the same feeds.
    monkeypatch.setenv("VMS_PLUGINS", "")
    server: RunningServer = await make_server(cameras_toml(cameras))
    return server


@pytest.fixture
def start_vms(
    make_server: Callable[..., Any], cameras: Simulator, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """Like ``vms``, with extra ``[webrtc]`` and ``[server]`` keys (TOML lines)."""
    monkeypatch.setenv("VMS_PLUGINS", "")

    async def start(webrtc: str = "", server: str = "") -> RunningServer:
        running: RunningServer = await make_server(
            cameras_toml(cameras, webrtc), server_keys=server
        )
        return running

    return start


async def camera_id(vms: RunningServer, name: str) -> int:
    for camera in await vms.server.cameras.visible():
        if camera.name == name:
            return int(camera.id)
    raise AssertionError(f"no camera {name}")


@dataclass
class WhepViewer:
    """One aiortc viewer: offers recvonly video (and audio), keeps what arrives."""

    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    location: str = ""

    async def connect(
        self,
        http: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
        audio: bool = True,
    ) -> int:
        self.pc.addTransceiver("video", direction="recvonly")
        if audio:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks[track.kind] = track

        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        async with http.post(
            url, data=offer, headers={**headers, "Content-Type": "application/sdp"}
        ) as response:
            self.status = response.status
            self.headers = dict(response.headers)
            self.body = await response.text()
        if self.status == 201:
            self.location = self.headers["Location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(self.body, "answer"))
        return self.status

    async def frames(self, count: int, timeout: float = 10.0) -> list[Any]:
        track = self.tracks["video"]
        return [await asyncio.wait_for(track.recv(), timeout) for _ in range(count)]

    async def close(self) -> None:
        await self.pc.close()
