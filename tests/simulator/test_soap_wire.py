"""SOAP on the wire: the exact faults and token formats real cameras and clients use."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import aiohttp
import defusedxml.ElementTree as DET

from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator
from vms_core.simulator.wsse import password_digest

ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"


def security(user: str, password: str, created: str | None, digest: bool = True) -> str:
    nonce = os.urandom(16)
    if digest:
        assert created is not None
        value, kind = password_digest(nonce, created, password), "PasswordDigest"
    else:
        value, kind = password, "PasswordText"
    created_xml = f"<wsu:Created>{created}</wsu:Created>" if created else ""
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{PROFILE}#{kind}">{value}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>{created_xml}"
        "</wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{ENV}"><s:Header>{header}</s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


async def post(url: str, payload: bytes) -> tuple[int, DET.Element]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url, data=payload, headers={"Content-Type": "application/soap+xml; charset=utf-8"}
        ) as response,
    ):
        return response.status, DET.fromstring(await response.read())


def fault_parts(root: DET.Element) -> tuple[str, list[str], str]:
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None
    code = fault.findtext(f"{{{ENV}}}Code/{{{ENV}}}Value") or ""
    subcodes = [v.text or "" for v in fault.iter(f"{{{ENV}}}Value")][1:]
    reason = fault.findtext(f"{{{ENV}}}Reason/{{{ENV}}}Text") or ""
    return code, subcodes, reason


DEVICE_INFO = f'<GetDeviceInformation xmlns="{TDS}"/>'


def iso(moment: datetime, style: str) -> str:
    if style == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "fraction":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.isoformat(timespec="seconds")  # "+00:00"


async def test_bad_password_gets_the_fault_real_cameras_send(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    created = iso(datetime.now(UTC), "Z")
    header = security(info.username, "not-the-password", created)
    status, root = await post(info.onvif_url, envelope(DEVICE_INFO, header))
    assert status == 400
    code, subcodes, reason = fault_parts(root)
    assert code == "SOAP-ENV:Sender"
    assert subcodes == ["ter:NotAuthorized"]
    assert reason == "Sender not authorized"
    status, root = await post(info.onvif_url, envelope(DEVICE_INFO))  # no token at all
    assert status == 400 and fault_parts(root)[1] == ["ter:NotAuthorized"]


async def test_created_in_every_usual_format_and_password_text_are_accepted(
    simulator: Simulator,
) -> None:
    info = simulator.cameras[0]
    now = datetime.now(UTC)
    for style in ("Z", "fraction", "offset"):
        header = security(info.username, info.password, iso(now, style))
        status, root = await post(info.onvif_url, envelope(DEVICE_INFO, header))
        assert status == 200, style
        assert root.findtext(f".//{{{TDS}}}Model") == info.model
    header = security(info.username, info.password, None, digest=False)
    status, _ = await post(info.onvif_url, envelope(DEVICE_INFO, header))
    assert status == 200
    stale = iso(now - timedelta(hours=2), "Z")
    status, root = await post(
        info.onvif_url, envelope(DEVICE_INFO, security(info.username, info.password, stale))
    )
    assert status == 400 and fault_parts(root)[1] == ["ter:NotAuthorized"]


async def test_entity_expansion_is_refused(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    ) + envelope(f'<GetSystemDateAndTime xmlns="{TDS}">&b;</GetSystemDateAndTime>')
    status, root = await post(info.onvif_url, bomb)
    assert status == 400
    assert fault_parts(root)[1] == ["ter:WellFormed"]


async def test_unknown_operation_is_action_not_supported(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    header = security(info.username, info.password, iso(datetime.now(UTC), "Z"))
    status, root = await post(info.onvif_url, envelope(f'<GetOSDs xmlns="{TRT}"/>', header))
    assert status == 500
    code, subcodes, _ = fault_parts(root)
    assert (code, subcodes) == ("SOAP-ENV:Receiver", ["ter:ActionNotSupported"])


async def test_camera_configured_to_reject_passwords_refuses_the_right_one() -> None:
    sim = Simulator(
        sim_config(cameras=[small_camera(1, reject_password=True)], discovery=False, media=False)
    )
    await sim.start()
    try:
        info = sim.cameras[0]
        header = security(info.username, info.password, iso(datetime.now(UTC), "Z"))
        status, root = await post(info.onvif_url, envelope(DEVICE_INFO, header))
        assert status == 400 and fault_parts(root)[1] == ["ter:NotAuthorized"]
        # Still tells the time, as a real camera with a changed password does.
        status, _ = await post(info.onvif_url, envelope(f'<GetSystemDateAndTime xmlns="{TDS}"/>'))
        assert status == 200
    finally:
        await sim.stop()


async def test_reply_namespaces_match_real_cameras(simulator: Simulator) -> None:
    info = simulator.cameras[0]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            info.onvif_url, data=envelope(f'<GetSystemDateAndTime xmlns="{TDS}"/>')
        ) as response,
    ):
        raw = await response.text()
        assert response.content_type == "application/soap+xml"
    for prefix, uri in (
        ("SOAP-ENV", ENV),
        ("tt", "http://www.onvif.org/ver10/schema"),
        ("tds", TDS),
        ("trt", TRT),
        ("tptz", "http://www.onvif.org/ver20/ptz/wsdl"),
        ("ter", "http://www.onvif.org/ver10/error"),
    ):
        assert f'xmlns:{prefix}="{uri}"' in raw
    assert "<tds:GetSystemDateAndTimeResponse>" in raw
