"""Our client against real cameras' recorded SOAP replies, served by a local replay server:
the good ones parse, the malformed ones are refused with a logged reason."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.onvif.replay import FIXTURES, ReplayDevice
from vms_core.onvif.client import OnvifBadReply, OnvifDevice, check_reply

# The fixtures' README: about 14 replies do not parse with a namespace-aware parser
# (undeclared SOAP-ENV prefix, a false utf-16 declaration, curly quotes, template text).
MALFORMED = {
    "Error.xml",
    "GetCapabilitiesEncoder.xml",
    "GetSnapshotUri.xml",
    "GetVideoSourcesEncoder.xml",
    "PullMessages.xml",
    "device.GetDNS.xml",
    "device.GetNetworkDefaultGateway.xml",
    "device.SetDNS.xml",
    "device.SetNetworkDefaultGateway.xml",
    "device.SetNetworkInterfaces.xml",
    "imaging.GetServiceCapabilities.xml",
    "media.GetAudioEncoderConfigurationOptions.xml",
    "media.GetVideoEncoderConfigurationOptions.xml",
    "media.SetAudioEncoderConfiguration.xml",
}
REPLIES = sorted(
    p.name for p in FIXTURES.iterdir() if p.name.endswith(".xml") and p.name != "Probe.xml"
)


@pytest.fixture
async def replay() -> AsyncIterator[ReplayDevice]:
    device = ReplayDevice()
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


def test_the_guard_accepts_every_well_formed_reply_and_refuses_each_malformed_one() -> None:
    assert set(REPLIES) >= MALFORMED
    refused = {}
    for name in REPLIES:
        try:
            check_reply((FIXTURES / name).read_bytes())
        except OnvifBadReply as err:
            refused[name] = err.reason
    assert set(refused) == MALFORMED
    assert all("not well-formed" in reason or "forbidden" in reason for reason in refused.values())


async def test_client_reads_the_recorded_camera(
    replay: ReplayDevice, caplog: pytest.LogCaptureFixture
) -> None:
    device = OnvifDevice(f"{replay.url}/onvif/device_service", "admin", "secret", timeout=5)
    try:
        with caplog.at_level(logging.WARNING, logger="vms_core.onvif.client"):
            description = await device.describe()
            status = await device.ptz_status("main")
            presets = await device.ptz_presets("main")
    finally:
        await device.close()
    assert (description.manufacturer, description.model) == (
        "Mockup Manufacturer",
        "Mockup Model",
    )
    assert {"device", "media", "ptz", "events"} <= set(description.services)
    [profile] = description.profiles
    assert (profile.token, profile.encoding, profile.width, profile.height, profile.fps) == (
        "main",
        "H264",
        1920,
        1080,
        5.0,
    )
    assert profile.has_ptz and description.has_ptz
    assert profile.stream_uri == "rtsp://127.0.0.1:8554/h264main"  # address rewritten
    # The recorded GetSnapshotUri reply is malformed: no snapshot URI, and a logged reason.
    assert profile.snapshot_uri == ""
    assert any(
        "GetSnapshotUri" in r.getMessage() and "not well-formed" in r.getMessage()
        for r in caplog.records
    )
    # The recording's clock is from 2014: far off, compensated, and warned about.
    assert description.clock_offset_s is not None and description.clock_offset_s < -3e8
    assert any("clock is" in r.getMessage() for r in caplog.records)
    assert status.moving is False and status.pan is not None
    assert presets and all(p.token for p in presets)


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_each_malformed_reply_is_refused_with_a_logged_reason(
    replay: ReplayDevice, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    replay.overrides["GetDeviceInformation"] = (FIXTURES / name).read_bytes()
    device = OnvifDevice(f"{replay.url}/onvif/device_service", "admin", "secret", timeout=5)
    try:
        await device.connect()
        caplog.clear()  # the recording's clock warning
        with (
            caplog.at_level(logging.WARNING, logger="vms_core.onvif.client"),
            pytest.raises(OnvifBadReply) as caught,
        ):
            await device.device_information()
    finally:
        await device.close()
    assert caught.value.reason.startswith("GetDeviceInformation: reply is not well-formed XML")
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"ONVIF {replay.url}/onvif/device_service: {caught.value.reason}"
    ]
