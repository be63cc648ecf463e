"""Hostile or broken ONVIF replies: each is refused with a logged reason, bounded in time,
and a server adding such a camera keeps answering."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import bearer
from tests.eventually import eventually
from tests.onvif.conftest import QUIET
from tests.onvif.replay import FIXTURES, HANG, Chunked, ReplayDevice
from vms_core.onvif.client import (
    MAX_REPLY_BYTES,
    OnvifBadReply,
    OnvifDevice,
    OnvifError,
    OnvifUnauthorized,
    OnvifUnreachable,
)

GOOD = (FIXTURES / "GetDeviceInformation.xml").read_bytes()
ENVELOPE = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE e:Envelope [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b"]>"
    + ENVELOPE
    + b"&i;</e:Body></e:Envelope>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE e:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + ENVELOPE
    + b"&x;</e:Body></e:Envelope>"
)
WRONG_ENVELOPE = GOOD.replace(
    b"http://www.w3.org/2003/05/soap-envelope", b"http://example.com/not-soap"
)
WRONG_BODY_NAMESPACE = GOOD.replace(
    b"http://www.onvif.org/ver10/device/wsdl", b"http://example.com/not-onvif"
)
TEN_MB = ENVELOPE + b"<x>" + b"A" * (10 * 1024 * 1024) + b"</x></e:Body></e:Envelope>"

CASES: dict[str, tuple[bytes, type[OnvifError], str]] = {
    "truncated XML": (GOOD[: len(GOOD) // 2], OnvifBadReply, "not well-formed"),
    "entity expansion": (BILLION_LAUGHS, OnvifBadReply, "forbidden XML construct"),
    "external entity": (EXTERNAL_ENTITY, OnvifBadReply, "forbidden XML construct"),
    "wrong envelope namespace": (WRONG_ENVELOPE, OnvifBadReply, "not a SOAP envelope"),
    "wrong body namespace": (WRONG_BODY_NAMESPACE, OnvifBadReply, "not in an ONVIF"),
    "10 MB body": (TEN_MB, OnvifBadReply, f"more than {MAX_REPLY_BYTES} bytes"),
    "10 MB body, chunked": (Chunked(TEN_MB), OnvifBadReply, f"more than {MAX_REPLY_BYTES} bytes"),
    "empty body": (b"", OnvifBadReply, "empty reply"),
}


@pytest.fixture
async def replay() -> AsyncIterator[ReplayDevice]:
    device = ReplayDevice()
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hostile_reply_is_refused_with_a_logged_reason(
    replay: ReplayDevice, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, error, reason = CASES[case]
    replay.overrides["GetDeviceInformation"] = body
    device = OnvifDevice(f"{replay.url}/onvif/device_service", "admin", "x", timeout=5)
    try:
        await device.connect()
        caplog.clear()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING), pytest.raises(OnvifError) as caught:
            await device.device_information()
        assert time.monotonic() - started < 5
    finally:
        await device.close()
    assert type(caught.value) is error
    assert reason in caught.value.reason
    assert any(caught.value.reason in r.getMessage() for r in caplog.records)


async def test_a_device_that_never_answers_times_out(
    replay: ReplayDevice, caplog: pytest.LogCaptureFixture
) -> None:
    replay.overrides["GetSystemDateAndTime"] = HANG
    device = OnvifDevice(f"{replay.url}/onvif/device_service", "admin", "x", timeout=0.5)
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(OnvifUnreachable) as caught:
            await device.connect()
    finally:
        await device.close()
    assert time.monotonic() - started < 3
    assert "no answer within 0.5 s" in caught.value.reason
    assert any("no answer" in r.getMessage() for r in caplog.records)


async def test_nobody_listening_is_unreachable() -> None:
    with socket_port() as port:
        pass  # closed again: nothing listens there now
    device = OnvifDevice(f"http://127.0.0.1:{port}/onvif/device_service", "a", "b", timeout=2)
    try:
        with pytest.raises(OnvifUnreachable, match="cannot connect"):
            await device.connect()
    finally:
        await device.close()


async def test_http_401_is_unauthorized() -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Digest realm="x"'})

    app = web.Application()
    app.router.add_post("/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    device = OnvifDevice(f"http://127.0.0.1:{port}/onvif/device_service", "a", "b", timeout=2)
    try:
        with pytest.raises(OnvifUnauthorized):
            await device.connect()
    finally:
        await device.close()
        await runner.cleanup()


async def test_server_survives_hostile_cameras_and_reports_why(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    hanging = ReplayDevice({"GetSystemDateAndTime": HANG})
    huge = ReplayDevice({"GetProfiles": TEN_MB})
    urls = [await hanging.start(), await huge.start()]
    try:
        running = await make_server(QUIET)
        running.server.camera_manager.health.timeout = 1.0
        token = await running.admin_token()
        states = {}
        for name, url in zip(("hanging", "huge"), urls, strict=True):
            started = time.monotonic()
            async with http.post(
                f"{running.url}/api/cameras",
                json={"name": name, "onvif_url": url, "username": "a", "password": "b"},
                headers=bearer(token),
            ) as response:
                assert response.status == 201
                camera = await response.json()
            assert time.monotonic() - started < 10
            states[name] = (camera["state"], camera["state_reason"])
        assert states["hanging"][0] == "unreachable"
        assert "no answer within 1 s" in states["hanging"][1]
        assert states["huge"][0] == "error"
        assert "GetProfiles" in states["huge"][1] and "bytes" in states["huge"][1]
        async with http.get(f"{running.url}/api/cameras", headers=bearer(token)) as response:
            assert response.status == 200
            assert len(await response.json()) == 2
    finally:
        await hanging.stop()
        await huge.stop()


class socket_port:
    """A free TCP port on loopback (free again once the block ends)."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


async def test_hostile_cases_do_not_block_each_other(replay: ReplayDevice) -> None:
    # One camera hanging must not delay another: calls run concurrently, each bounded.
    hanging = ReplayDevice({"GetDeviceInformation": HANG})
    await hanging.start()
    slow = OnvifDevice(f"{hanging.url}/onvif/device_service", "a", "b", timeout=1.5)
    fast = OnvifDevice(f"{replay.url}/onvif/device_service", "a", "b", timeout=1.5)
    try:
        await slow.connect()
        await fast.connect()
        slow_task = asyncio.create_task(slow.device_information())
        started = time.monotonic()
        info = await fast.device_information()
        assert time.monotonic() - started < 1.0
        assert info["manufacturer"] == "Mockup Manufacturer"
        with pytest.raises(OnvifUnreachable):
            await slow_task
    finally:
        await slow.close()
        await fast.close()
        await hanging.stop()


async def test_an_unreachable_camera_is_checked_again_and_comes_online(
    make_server: Any, http: aiohttp.ClientSession
) -> None:
    device = ReplayDevice({"GetSystemDateAndTime": HANG})
    url = await device.start()

    def quick(server: Any) -> None:
        server.camera_manager.health.timeout = 0.5
        server.camera_manager.health.recheck_seconds = 0.3

    try:
        running = await make_server(QUIET, before_start=quick)
        token = await running.admin_token()
        async with http.post(
            f"{running.url}/api/cameras",
            json={"name": "flaky", "onvif_url": url, "username": "a", "password": "b"},
            headers=bearer(token),
        ) as response:
            camera = await response.json()
        assert camera["state"] == "unreachable"
        device.overrides.clear()  # the camera answers again

        async def online() -> Any:
            async with http.get(
                f"{running.url}/api/cameras/{camera['id']}", headers=bearer(token)
            ) as response:
                found = await response.json()
            return found if found["state"] == "online" else None

        camera = await eventually(online, 10, 0.2, what="the camera back online")
        assert camera["state_reason"].startswith("Mockup Manufacturer Mockup Model")
        await running.server.events.drain()
        events = await running.server.events.query(camera_id=camera["id"])
        assert [e.type for e in reversed(events)] == ["camera.unreachable", "camera.online"]
    finally:
        await device.stop()
