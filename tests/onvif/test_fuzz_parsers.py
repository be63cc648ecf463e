"""Fuzzing every parser that reads ONVIF or WS-Discovery bytes from the network.

Ours around onvif-zeep-async (the reply guard, zeep's reading of a PullMessages reply as
OnvifDevice.call sees it, the event topic parsers), the WS-Discovery client, and the
simulator's SOAP server and WS-Discovery responder, which read bytes from the network too.
Each property is what a caller relies on: a refusal is the one documented exception (or
None), never anything else, and never a hang (Hypothesis' deadline bounds each input).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import aiohttp
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from onvif import ONVIFCamera

from tests.onvif.conftest import sim_camera
from tests.onvif.replay import FIXTURES
from tests.onvif.xml_strategies import FUZZ, XML_TEXT, elements, xml_inputs
from vms_core.onvif.client import OnvifBadReply, OnvifDevice, OnvifError, check_reply
from vms_core.onvif.discovery import WsdMessage, parse_message, probe_message
from vms_core.onvif.events import OnvifNotification, parse_notification
from vms_core.simulator.context import DEVICE_PATH, EVENTS_PATH, MEDIA_PATH, PTZ_PATH
from vms_core.simulator.discovery import (
    DiscoveryEndpoint,
    DiscoveryTarget,
    _Sequence,
    hello_message,
    parse_probe,
    probe_matches,
    probe_matches_message,
)
from vms_core.simulator.http_auth import HttpAuthenticator
from vms_core.simulator.onvif_server import OnvifCameraServer
from vms_core.simulator.ptz import PtzState
from vms_core.simulator.soap import NS

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ENVELOPE_OPEN = (
    f'<e:Envelope xmlns:e="{SOAP12}" '
    + " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
    + ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    + ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
)


def envelope(body: str, header: str = "") -> bytes:
    head = f"<e:Header>{header}</e:Header>" if header else ""
    return f"{ENVELOPE_OPEN}{head}<e:Body>{body}</e:Body></e:Envelope>".encode()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # Hypothesis runs examples synchronously: one loop serves every example of the module.
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


# -- the reply guard -----------------------------------------------------------------------

REPLY_SEEDS = [
    (FIXTURES / name).read_bytes()
    for name in ("GetDeviceInformation.xml", "GetSystemDateAndTime.xml", "GetStreamUri.xml")
]
REPLY_TAGS = [
    "tds:GetDeviceInformationResponse",
    "tds:Manufacturer",
    "e:Fault",
    "e:Code",
    "e:Value",
    "e:Reason",
    "e:Text",
    "x",
]


@FUZZ
@given(xml_inputs(REPLY_SEEDS, elements(REPLY_TAGS, ["Name", "xml:lang"]).map(envelope)))
def test_reply_guard_accepts_or_refuses_with_a_reason(data: bytes) -> None:
    try:
        check_reply(data)
    except OnvifBadReply as err:
        assert err.reason and len(err.reason) <= 500 and err.reason.isprintable()


# -- PullMessages replies, as OnvifDevice.call and the topic parsers see them --------------


@dataclass
class _Reply:
    """What zeep's binding reads of an HTTP response."""

    content: bytes
    status_code: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/soap+xml"}
    )
    encoding: str = "utf-8"


@pytest.fixture(scope="module")
def pullpoint(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[Any, OnvifDevice]]:
    # Offline: the service's WSDL and zeep client, with nothing listening at its address.
    # The OnvifDevice is only there for its call(), which maps failures to OnvifError.
    async def make() -> tuple[ONVIFCamera, Any, OnvifDevice]:
        camera = ONVIFCamera("127.0.0.1", 9, "user", "password", no_cache=True)
        camera.xaddrs = {
            "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription": "http://127.0.0.1:9/s",
        }
        device = OnvifDevice("http://127.0.0.1:9/onvif/device_service", "u", "p")
        return camera, await camera.create_pullpoint_service(), device

    camera, service, device = loop.run_until_complete(make())
    try:
        yield service, device
    finally:
        loop.run_until_complete(device.close())
        loop.run_until_complete(camera.close())


PULL_TAGS = [
    "tev:PullMessagesResponse",
    "tev:CurrentTime",
    "tev:TerminationTime",
    "wsnt:NotificationMessage",
    "wsnt:Topic",
    "wsnt:Message",
    "tt:Message",
    "tt:Source",
    "tt:Data",
    "tt:SimpleItem",
    "tt:ElementItem",
]
PULL_ATTRIBUTES = ["Name", "Value", "UtcTime", "PropertyOperation", "Dialect"]
ITEM_NAMES = ["IsMotion", "State", "IsTamper", "x"]
FLAGS = ["true", "false", "1", "0", " TRUE "]
TOPICS = [
    "tns1:RuleEngine/CellMotionDetector/Motion",
    "tns1:VideoSource/MotionAlarm",
    "tns1:VideoSource/GlobalSceneChange/ImagingService",
    "tns1:RuleEngine/TamperDetector/Tamper",
    "tns1:Device/Trigger/DigitalInput",
]


@st.composite
def pull_replies(draw: st.DrawFn) -> bytes:
    """Mostly shaped like a real reply (so zeep builds objects), with any values."""
    messages = []
    for _ in range(draw(st.integers(0, 3))):
        items = "".join(
            f"<tt:SimpleItem Name={quoteattr(draw(st.sampled_from(ITEM_NAMES)))}"
            f" Value={quoteattr(draw(st.one_of(st.sampled_from(FLAGS), XML_TEXT)))}/>"
            for _ in range(draw(st.integers(0, 3)))
        )
        operation = draw(st.sampled_from(["Initialized", "Changed", "Deleted", "", "x"]))
        when = draw(st.sampled_from(["2026-01-01T00:00:00Z", "", "yesterday", "9999-99-99"]))
        topic = escape(draw(st.one_of(st.sampled_from(TOPICS), st.sampled_from(TOPICS), XML_TEXT)))
        extra = draw(elements(PULL_TAGS, PULL_ATTRIBUTES, max_leaves=4))
        messages.append(
            f'<wsnt:NotificationMessage><wsnt:Topic Dialect="x">{topic}</wsnt:Topic>'
            f'<wsnt:Message><tt:Message UtcTime="{when}" PropertyOperation="{operation}">'
            f"<tt:Data>{items}</tt:Data>{draw(st.sampled_from(['', extra]))}</tt:Message>"
            "</wsnt:Message></wsnt:NotificationMessage>"
        )
    times = "<tev:CurrentTime>2026-01-01T00:00:00Z</tev:CurrentTime>" * draw(st.integers(0, 1))
    return envelope(
        f"<tev:PullMessagesResponse>{times}{''.join(messages)}</tev:PullMessagesResponse>"
    )


PULL_SEED = envelope(
    "<tev:PullMessagesResponse><tev:CurrentTime>2026-01-01T00:00:00Z</tev:CurrentTime>"
    "<tev:TerminationTime>2026-01-01T00:01:00Z</tev:TerminationTime>"
    '<wsnt:NotificationMessage><wsnt:Topic Dialect="x">tns1:RuleEngine/CellMotionDetector/Motion'
    '</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-01-01T00:00:00Z" '
    'PropertyOperation="Changed"><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/>'
    "</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    "</tev:PullMessagesResponse>"
)


@FUZZ
@given(
    st.one_of(
        pull_replies(),
        xml_inputs([PULL_SEED], elements(PULL_TAGS, PULL_ATTRIBUTES).map(envelope)),
    ),
    st.sampled_from([200, 200, 200, 400, 500]),
)
def test_pullmessages_replies_become_notifications_or_an_onvif_error(
    loop: asyncio.AbstractEventLoop,
    pullpoint: tuple[Any, OnvifDevice],
    data: bytes,
    status: int,
) -> None:
    service, device = pullpoint
    binding = service.document.bindings[service.binding_name]
    operation = binding.get("PullMessages")

    async def read() -> Any:
        check_reply(data)  # what the guarded transport does before zeep sees a reply
        return binding.process_reply(service.zeep_client, operation, _Reply(data, status))

    try:
        reply = loop.run_until_complete(device.call("PullMessages", read()))
    except OnvifError as err:
        assert len(err.reason) <= 500
        return
    for message in getattr(reply, "NotificationMessage", None) or []:
        found = parse_notification(message)
        assert found is None or isinstance(found, OnvifNotification)
        if found is not None:
            assert len(found.topic) <= 200 and found.topic.isprintable()
            assert len(found.utc_time) <= 64 and found.utc_time.isprintable()


# -- WS-Discovery, the client side ---------------------------------------------------------

ENDPOINT = DiscoveryEndpoint(
    endpoint_reference="urn:uuid:6f1c2d3e-5a4b-4c8d-9e0f-a1b2c3d4e5f6",
    xaddrs=["http://127.0.0.1:8080/onvif/device_service"],
    scopes=["onvif://www.onvif.org/name/cam", "onvif://www.onvif.org/hardware/P3245"],
)
WSD_SEEDS = [
    probe_matches_message(ENDPOINT, "urn:uuid:1", _Sequence()),
    hello_message(ENDPOINT, _Sequence()),
    probe_message("urn:uuid:2"),
]
WSD_TAGS = [
    "d:ProbeMatches",
    "d:ProbeMatch",
    "d:Hello",
    "d:Bye",
    "d:Probe",
    "d:Types",
    "d:Scopes",
    "d:XAddrs",
    "wsa:EndpointReference",
    "wsa:Address",
    "wsa:RelatesTo",
    "wsa:MessageID",
]


def _wsd_documents() -> st.SearchStrategy[bytes]:
    return st.tuples(
        elements(WSD_TAGS, ["MatchBy"], max_leaves=4), elements(WSD_TAGS, ["MatchBy"])
    ).map(lambda t: envelope(t[1], header=t[0]))


FORGED_NAME = hello_message(
    DiscoveryEndpoint(
        endpoint_reference="urn:uuid:1",
        xaddrs=["http://192.0.2.1/onvif/device_service"],
        scopes=["onvif://www.onvif.org/name/cam%0A%1B%5B31mforged" + "%41" * 2000],
    ),
    _Sequence(),
)


@FUZZ
@given(xml_inputs(WSD_SEEDS, _wsd_documents()))
@example(FORGED_NAME)
def test_ws_discovery_messages_parse_or_are_refused_with_a_reason(data: bytes) -> None:
    try:
        message = parse_message(data, "192.0.2.1")
    except ValueError as err:
        assert str(err)
        return
    assert isinstance(message, WsdMessage)
    for device in message.devices:
        assert device.endpoint_reference
        for label in (device.name, device.hardware, device.location):
            assert len(label) <= 128 and label.isprintable()


# -- the simulator's WS-Discovery responder ------------------------------------------------


@pytest.fixture(scope="module")
def responder(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[DiscoveryTarget, tuple[str, int]]]:
    target = DiscoveryTarget("127.0.0.1", [ENDPOINT], port=0, multicast=False)
    loop.run_until_complete(target.start())
    # Answers go to a socket of ours on loopback.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        yield target, sink.getsockname()
    finally:
        sink.close()
        loop.run_until_complete(target.stop())


@FUZZ
@given(xml_inputs(WSD_SEEDS, _wsd_documents()))
def test_discovery_responder_answers_probes_and_ignores_the_rest(
    responder: tuple[DiscoveryTarget, tuple[str, int]], data: bytes
) -> None:
    target, sink = responder
    probe = parse_probe(data)
    if probe is not None:
        assert isinstance(probe_matches(probe, ENDPOINT), bool)
    target.handle_datagram(data, sink)  # must not raise, whatever it is


# -- the simulator's SOAP server -----------------------------------------------------------

PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
SECURITY = (
    "<wsse:Security><wsse:UsernameToken><wsse:Username>admin</wsse:Username>"
    f'<wsse:Password Type="{PASSWORD_TEXT}">pass-1</wsse:Password>'
    "</wsse:UsernameToken></wsse:Security>"
)
OPERATIONS = [
    "tds:GetSystemDateAndTime",
    "tds:GetDeviceInformation",
    "tds:GetCapabilities",
    "tds:GetServices",
    "tds:GetScopes",
    "trt:GetProfiles",
    "trt:GetProfile",
    "trt:GetStreamUri",
    "trt:GetSnapshotUri",
    "tptz:ContinuousMove",
    "tptz:AbsoluteMove",
    "tptz:Stop",
    "tptz:GetStatus",
    "tptz:GetPresets",
    "tptz:GotoPreset",
    "tev:CreatePullPointSubscription",
    "tev:PullMessages",
    "wsnt:Renew",
    "wsnt:Unsubscribe",
]
ARGUMENTS = [
    "trt:ProfileToken",
    "tptz:ProfileToken",
    "tptz:PresetToken",
    "tptz:Velocity",
    "tptz:Position",
    "tptz:Speed",
    "tt:PanTilt",
    "tt:Zoom",
    "tptz:Timeout",
    "tev:Timeout",
    "tev:MessageLimit",
    "tev:InitialTerminationTime",
    "wsnt:TerminationTime",
    "trt:StreamSetup",
]


@st.composite
def soap_requests(draw: st.DrawFn) -> bytes:
    operation = draw(st.sampled_from(OPERATIONS))
    arguments = draw(st.lists(elements(ARGUMENTS, ["x", "y", "space"], max_leaves=4), max_size=4))
    header = draw(st.sampled_from([SECURITY, "", SECURITY.replace("pass-1", "wrong")]))
    return envelope(f"<{operation}>{''.join(arguments)}</{operation}>", header=header)


@pytest.fixture(scope="module")
def soap_server(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[str, aiohttp.ClientSession]]:
    camera = sim_camera(1, ptz=True, pull_answers_at_once=True)
    server = OnvifCameraServer(camera, "127.0.0.1", 0, lambda: 8554, ptz=PtzState())
    loop.run_until_complete(server.start())

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = loop.run_until_complete(open_session())
    try:
        yield f"http://127.0.0.1:{server.port}", session
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(server.stop())


@FUZZ
@given(
    xml_inputs([envelope("<tds:GetDeviceInformation/>", SECURITY)], soap_requests()),
    st.sampled_from([DEVICE_PATH, MEDIA_PATH, PTZ_PATH, EVENTS_PATH, "/onvif/subscription/x"]),
)
def test_simulated_camera_answers_any_request_with_a_reply_or_a_soap_fault(
    loop: asyncio.AbstractEventLoop,
    soap_server: tuple[str, aiohttp.ClientSession],
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    path: str,
) -> None:
    base, session = soap_server

    async def post() -> tuple[int, bytes]:
        async with session.post(base + path, data=data) as response:
            return response.status, await response.read()

    caplog.clear()
    with caplog.at_level(logging.ERROR):
        status, body = loop.run_until_complete(asyncio.wait_for(post(), 10))
    assert status in (200, 400, 401, 500), status
    if status != 401:
        check_reply(body)  # a SOAP envelope: a reply or a fault, never a crash page
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda scheme, params: f"{scheme} {params}",
            st.sampled_from(["Digest", "Basic", "digest", "Bearer", ""]),
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            "username",
                            "realm",
                            "nonce",
                            "uri",
                            "response",
                            "qop",
                            "nc",
                            "cnonce",
                            "x",
                        ]
                    ),
                    st.text(max_size=30),
                ).map(lambda kv: f'{kv[0]}="{kv[1]}"'),
                max_size=8,
            ).map(", ".join),
        ),
    ),
    st.sampled_from(["GET", "POST", ""]),
)
def test_snapshot_http_auth_header_is_checked_without_raising(header: str, method: str) -> None:
    auth = HttpAuthenticator(realm="cam", username="admin", password="pass")
    # Made-up credentials are refused (the nonce is signed), never an exception.
    assert auth.check(method, header) is False
