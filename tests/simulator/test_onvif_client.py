"""The simulated cameras as an independent ONVIF client (onvif-zeep-async) sees them."""

from __future__ import annotations

import asyncio
import io
import time
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import pytest
import zeep.exceptions
from onvif.exceptions import ONVIFAuthError, ONVIFError
from onvif.util import is_auth_error
from PIL import Image

from tests.simulator.conftest import onvif_client
from vms_core.simulator.media import expected_clock, read_clock_stripe
from vms_core.simulator.simulator import Simulator

STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


async def test_each_camera_lists_main_and_sub_profiles_with_stream_uris(
    simulator: Simulator,
) -> None:
    for info in simulator.cameras:
        camera = onvif_client(info)
        try:
            await camera.update_xaddrs()
            media = await camera.create_media_service()
            profiles = await media.GetProfiles()
            sizes = {
                p.token: (
                    p.VideoEncoderConfiguration.Encoding,
                    p.VideoEncoderConfiguration.Resolution.Width,
                    p.VideoEncoderConfiguration.Resolution.Height,
                    p.VideoEncoderConfiguration.RateControl.FrameRateLimit,
                )
                for p in profiles
            }
            assert sizes == {"main": ("H264", 320, 180, 10), "sub": ("H264", 160, 90, 5)}
            assert (profiles[0].PTZConfiguration is not None) == info.ptz
            for token, expected in (("main", info.rtsp_main_url), ("sub", info.rtsp_sub_url)):
                uri = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": token})
                assert uri.Uri == expected
                assert uri.Uri.endswith(f"/{info.name}/{token}")
            single = await media.GetProfile({"ProfileToken": "sub"})
            assert single.VideoEncoderConfiguration.Resolution.Width == 160
        finally:
            await camera.close()


async def test_device_information_and_scopes_name_the_camera(simulator: Simulator) -> None:
    info = simulator.cameras[1]
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        details = await device.GetDeviceInformation()
        assert (details.Manufacturer, details.Model) == (info.manufacturer, info.model)
        scopes = [s.ScopeItem for s in await device.GetScopes()]
        assert f"onvif://www.onvif.org/name/{info.name}" in scopes
        assert (await device.GetHostname()).Name == info.name
        interfaces = await device.GetNetworkInterfaces()
        assert interfaces[0].IPv4.Config.Manual[0].Address == "127.0.0.1"
    finally:
        await camera.close()


async def test_snapshot_is_a_real_jpeg_of_the_profile_size_behind_digest_auth(
    simulator: Simulator,
) -> None:
    info = simulator.cameras[0]
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        await camera.create_media_service()
        for token, size in (("main", (320, 180)), ("sub", (160, 90))):
            jpeg = await camera.get_snapshot(token)  # Digest auth
            assert jpeg is not None
            picture = Image.open(io.BytesIO(jpeg))
            assert picture.format == "JPEG"
            assert picture.size == size
        uri = await camera.get_snapshot_uri("main")
    finally:
        await camera.close()
    async with aiohttp.ClientSession() as http:
        async with http.get(uri) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Digest ")
        basic = {"Authorization": aiohttp.encode_basic_auth(info.username, info.password)}
        async with http.get(uri, headers=basic) as response:
            assert response.status == 200
            assert (await response.read())[:2] == b"\xff\xd8"
        wrong = {"Authorization": aiohttp.encode_basic_auth(info.username, "nope")}
        async with http.get(uri, headers=wrong) as response:
            assert response.status == 401


async def test_wrong_password_is_refused_as_not_authorized(simulator: Simulator) -> None:
    camera = onvif_client(simulator.cameras[0], password="wrong")
    try:
        # The clock is public: adjust_time works without credentials.
        with pytest.raises((ONVIFAuthError, ONVIFError, zeep.exceptions.Fault)) as caught:
            await camera.update_xaddrs()
        error = caught.value
        assert isinstance(error, ONVIFAuthError) or (
            isinstance(error, zeep.exceptions.Fault) and is_auth_error(error)
        ), repr(error)
    finally:
        await camera.close()


async def test_clock_skew_is_measured_and_compensated(simulator: Simulator) -> None:
    info = simulator.cameras[1]  # camera clock is one hour ahead
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        assert camera.dt_diff is not None
        assert abs(camera.dt_diff.total_seconds() - 3600) < 5
        media = await camera.create_media_service()
        assert len(await media.GetProfiles()) == 2
    finally:
        await camera.close()
    unadjusted = onvif_client(info)
    unadjusted.adjust_time = False
    try:
        with pytest.raises((ONVIFError, zeep.exceptions.Fault)):
            await unadjusted.update_xaddrs()
    finally:
        await unadjusted.close()


async def test_ptz_continuous_move_changes_position_until_stop(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        ptz = await camera.create_ptz_service()
        before = await ptz.GetStatus({"ProfileToken": "main"})
        assert before.MoveStatus.PanTilt == "IDLE"
        await ptz.ContinuousMove(
            {"ProfileToken": "main", "Velocity": {"PanTilt": {"x": 1.0, "y": -0.5}}}
        )
        await asyncio.sleep(0.3)
        moving = await ptz.GetStatus({"ProfileToken": "main"})
        assert moving.MoveStatus.PanTilt == "MOVING"
        assert moving.Position.PanTilt.x > before.Position.PanTilt.x + 0.05
        assert moving.Position.PanTilt.y < before.Position.PanTilt.y
        await ptz.Stop({"ProfileToken": "main"})
        stopped = await ptz.GetStatus({"ProfileToken": "main"})
        await asyncio.sleep(0.2)
        later = await ptz.GetStatus({"ProfileToken": "main"})
        assert later.MoveStatus.PanTilt == "IDLE"
        assert later.Position.PanTilt.x == pytest.approx(stopped.Position.PanTilt.x)
        # The media side sees the same position.
        head = simulator.camera(info.name).ptz
        assert head is not None
        assert head.position().pan == pytest.approx(later.Position.PanTilt.x, abs=1e-5)

        presets = await ptz.GetPresets({"ProfileToken": "main"})
        target = presets[1]
        await ptz.GotoPreset({"ProfileToken": "main", "PresetToken": target.token})
        at_preset = await ptz.GetStatus({"ProfileToken": "main"})
        assert at_preset.Position.PanTilt.x == pytest.approx(target.PTZPosition.PanTilt.x)
        assert at_preset.Position.Zoom.x == pytest.approx(target.PTZPosition.Zoom.x)
        nodes = await ptz.GetNodes()
        assert nodes[0].SupportedPTZSpaces.ContinuousPanTiltVelocitySpace[0].XRange.Max == 1
    finally:
        await camera.close()


async def test_camera_without_ptz_has_no_ptz_service(simulator: Simulator) -> None:
    camera = onvif_client(simulator.cameras[1])
    try:
        await camera.update_xaddrs()
        assert "http://www.onvif.org/ver20/ptz/wsdl" not in camera.xaddrs
    finally:
        await camera.close()


async def test_unauthenticated_clock_and_unknown_operation_fault(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    camera = onvif_client(info)
    try:
        device = await camera.create_devicemgmt_service()
        clock = await device.authless_GetSystemDateAndTime()
        assert clock.UTCDateTime.Date.Year >= 2024
        with pytest.raises(zeep.exceptions.Fault) as caught:
            await device.GetDNS()
        subcodes = [code.localname for code in caught.value.subcodes]
        assert subcodes == ["ActionNotSupported"]
    finally:
        await camera.close()
    assert urlsplit(info.onvif_url).path == "/onvif/device_service"


async def test_snapshot_shows_the_frame_the_stream_shows_now(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    camera = onvif_client(info)
    try:
        await camera.update_xaddrs()
        await camera.create_media_service()
        before = time.time()
        jpeg = await camera.get_snapshot("main")
        after = time.time()
    finally:
        await camera.close()
    assert jpeg is not None
    shown = read_clock_stripe(np.array(Image.open(io.BytesIO(jpeg)).convert("RGB")))
    fps, loop_seconds = 10, 2  # SMALL_MAIN, scene loop of the test cameras
    steps = int((after - before) * fps) + 2
    possible = {expected_clock(before + i / fps, fps, loop_seconds) for i in range(steps)}
    assert shown in possible
