"""WHEP live view against simulated cameras: negotiation, frames, audio, sessions, access."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import av
from aiortc.mediastreams import MediaStreamError
from sqlalchemy import select

from tests.conftest import RunningServer, bearer
from tests.eventually import eventually
from tests.webrtc.conftest import WhepViewer, camera_id
from vms_core.db.models import AuditEntry


def whep_url(vms: RunningServer, camera: int, stream: str = "main") -> str:
    return f"{vms.url}/api/cameras/{camera}/whep?stream={stream}"


async def audit_actions(vms: RunningServer) -> list[tuple[str, str]]:
    async with vms.server.db.session() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.username) for r in rows if r.action.startswith("live.")]


async def test_viewer_gets_h264_video_and_g711_audio(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    viewer = WhepViewer()
    started = time.monotonic()
    status = await viewer.connect(http, whep_url(vms, cam), bearer(await vms.admin_token()))
    assert status == 201, viewer.body
    assert viewer.headers["Content-Type"].startswith("application/sdp")
    assert viewer.location.startswith(f"/api/cameras/{cam}/whep/")
    assert viewer.headers["X-Vms-Stream"] == "main"
    # H.264 in packetization mode 1 is the only video format answered; G.711 for audio.
    video = viewer.body.split("m=audio")[0]
    assert "H264/90000" in video and "VP8" not in video
    assert "packetization-mode=1" in video
    assert "PCMU/8000" in viewer.body.split("m=audio")[1]
    try:
        first = (await viewer.frames(1))[0]
        first_frame_s = time.monotonic() - started
        frames = await viewer.frames(15)
        print(f"first frame {first_frame_s:.3f} s after the offer")
        assert (first.width, first.height) == (320, 180)
        # 10 fps camera: 15 more frames arrive in ~1.5 s, live, not a stalled picture.
        assert frames[-1].pts > first.pts
        sound = [await asyncio.wait_for(viewer.tracks["audio"].recv(), 5) for _ in range(5)]
        assert all(isinstance(s, av.AudioFrame) and s.samples > 0 for s in sound)
    finally:
        await viewer.close()


async def test_delete_ends_the_session_and_is_audited(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    token = await vms.token("olga", "viewer", [cam])
    viewer = WhepViewer()
    assert await viewer.connect(http, whep_url(vms, cam), bearer(token), audio=False) == 201
    try:
        await viewer.frames(3)
        someone_else = await vms.token("piotr", "viewer", [cam])
        async with http.delete(vms.url + viewer.location, headers=bearer(someone_else)) as r:
            assert r.status == 404  # not their session
        async with http.delete(vms.url + viewer.location, headers=bearer(token)) as r:
            assert r.status == 204
        assert vms.server.webrtc.sessions == {}
        # The browser side sees its track end.
        track = viewer.tracks["video"]

        async def track_ended() -> bool:
            try:
                await asyncio.wait_for(track.recv(), 1)
            except (TimeoutError, MediaStreamError):
                return True
            return False

        await eventually(track_ended, timeout=10, interval=0, what="the viewer's track ended")
        # Ending it again is no error for its owner (the peer connection may have ended
        # it first); for anyone else it still does not exist.
        async with http.delete(vms.url + viewer.location, headers=bearer(token)) as r:
            assert r.status == 204
        async with http.delete(vms.url + viewer.location, headers=bearer(someone_else)) as r:
            assert r.status == 404
    finally:
        await viewer.close()
    assert await audit_actions(vms) == [("live.start", "olga"), ("live.end", "olga")]


async def test_a_browser_that_goes_away_ends_its_session(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    viewer = WhepViewer()
    assert await viewer.connect(http, whep_url(vms, cam), bearer(await vms.admin_token())) == 201
    await viewer.frames(2)
    assert len(vms.server.webrtc.sessions) == 1
    await viewer.close()  # DTLS close_notify, as a closing tab sends
    await eventually(lambda: not vms.server.webrtc.sessions, 10, 0.05, what="no session left")

    async def ended_audited() -> bool:
        # The entry is written after the peer connection has closed, so shortly after the
        # session leaves the live table.
        return ("live.end", "admin") in await audit_actions(vms)

    await eventually(ended_audited, 10, 0.05, what="the session's end audited")


async def test_access_needs_login_and_camera_permission(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam1 = await camera_id(vms, "sim-cam-1")
    cam2 = await camera_id(vms, "sim-cam-2")
    offer = "v=0\r\n"
    sdp = {"Content-Type": "application/sdp"}
    async with http.post(whep_url(vms, cam1), data=offer, headers=sdp) as r:
        assert r.status == 401
    only_cam2 = await vms.token("quinn", "viewer", [cam2])
    async with http.post(
        whep_url(vms, cam1), data=offer, headers={**sdp, **bearer(only_cam2)}
    ) as r:
        assert r.status == 404
    async with http.post(
        whep_url(vms, 9999), data=offer, headers={**sdp, **bearer(only_cam2)}
    ) as r:
        assert r.status == 404
    assert vms.server.webrtc.sessions == {}


async def test_h265_main_falls_back_to_the_h264_sub_stream(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-3")
    viewer = WhepViewer()
    try:
        assert await viewer.connect(http, whep_url(vms, cam), bearer(await vms.admin_token()))
        assert viewer.status == 201, viewer.body
        assert viewer.headers["X-Vms-Stream"] == "sub"
        assert "H.265" in viewer.headers["X-Vms-Note"]
        frames = await viewer.frames(3)
        assert (frames[0].width, frames[0].height) == (160, 90)
    finally:
        await viewer.close()


async def test_h265_only_camera_is_refused_with_a_message(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-2")
    viewer = WhepViewer()
    try:
        status = await viewer.connect(http, whep_url(vms, cam), bearer(await vms.admin_token()))
    finally:
        await viewer.close()
    assert status == 422
    assert "H.265" in viewer.body and "browsers cannot play" in viewer.body
    assert vms.server.webrtc.sessions == {}


async def test_viewers_of_one_camera_share_one_ingest_and_server_stop_closes_them(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    token = bearer(await vms.admin_token())
    viewers = [WhepViewer() for _ in range(3)]
    try:
        for viewer in viewers:
            assert await viewer.connect(http, whep_url(vms, cam), token, audio=False) == 201
        for viewer in viewers:
            await viewer.frames(3)
        feeds = [
            f for f in vms.server.live.feeds() if f.key.camera_id == cam and f.key.stream == "main"
        ]
        # One camera connection and one hub subscription (the relay) for all three.
        assert len(feeds) == 1 and feeds[0].hub.subscriber_count == 1
        assert len(vms.server.webrtc.sessions) == 3
        await vms.server.webrtc.stop()
        assert vms.server.webrtc.sessions == {}
        assert feeds[0].users == 0
    finally:
        for viewer in viewers:
            await viewer.close()
    ends = [a for a in await audit_actions(vms) if a[0] == "live.end"]
    assert len(ends) == 3
