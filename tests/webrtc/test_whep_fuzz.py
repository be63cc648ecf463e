"""Hypothesis against WHEP offers: garbage and a real offer mutated line by line.

Two properties. Offline, fast, many inputs: the offer check refuses only with a 4xx, and
what it lets through aiortc accepts too (so a refusal always comes before the camera is
opened, with our message). Against the running server, fewer inputs: never a 5xx or an
ERROR log, and no camera feed opened for an offer that is refused. Fixed seed, a deadline
per input, seconds in total.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer, bearer
from tests.eventually import eventually
from tests.webrtc.conftest import camera_id
from tests.webrtc.offers import OFFER
from vms_core.webrtc import WhepError, decode_offer
from vms_core.webrtc.offer import check_offer

LINES = OFFER.split("\r\n")[:-1]
ODD_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "65536",
    "9" * 30,
    "recvonly",
    "sendonly",
    "inactive",
    "actpass",
    "holdconn",
    "H264/90000",
    "H264/abc",
    "rtx/90000",
    "packetization-mode=1;profile-level-id=zz",
    "apt=999",
    "sha-1 00:11",
    "1 1 udp 1 host.invalid 9 typ host",
    "1 1 udp 1 127.0.0.1 9 typ relay raddr x rport y",
    "BUNDLE 7",
    "* nack",
]


@st.composite
def mutated_offers(draw: st.DrawFn) -> bytes:
    """The sample offer after one to four edits of its lines or bytes."""
    lines = list(LINES)
    garbage = st.one_of(st.text(max_size=40), st.sampled_from(ODD_VALUES))
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["drop", "repeat", "replace", "insert", "value", "swap"]))
        at = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines.append(draw(garbage))
        elif edit == "drop":
            del lines[at]
        elif edit == "repeat":
            lines[at:at] = [lines[at]] * draw(st.integers(1, 20))
        elif edit == "replace":
            lines[at] = draw(garbage)
        elif edit == "insert":
            lines.insert(at, draw(st.sampled_from(["a=", "m=", "c=", "v="])) + draw(garbage))
        elif edit == "value":
            head, sep, _ = lines[at].partition(draw(st.sampled_from([":", "=", " "])))
            lines[at] = head + (sep or "=") + draw(garbage)
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    body = ("\r\n".join(lines) + "\r\n").encode()
    if draw(st.booleans()) and draw(st.booleans()):  # now and then, bytes that are not UTF-8
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(min_size=1, max_size=4)) + body[cut:]
    return body


OFFERS = st.one_of(
    mutated_offers(),
    mutated_offers(),
    mutated_offers(),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.text(max_size=200).map(lambda t: ("v=0\r\n" + t).encode()),
)


def refusal(body: bytes) -> int | None:
    """The status the offer check refuses ``body`` with, or None if it passes."""
    try:
        check_offer(decode_offer(body, None))
    except WhepError as exc:
        return exc.status
    return None


@seed(15)
@settings(max_examples=400, deadline=timedelta(seconds=2), database=None)
@given(body=OFFERS)
async def test_the_offer_check_refuses_with_4xx_and_passes_only_what_aiortc_takes(
    body: bytes,
) -> None:
    status = refusal(body)
    if status is not None:
        assert 400 <= status < 500
        return
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        # Raises if our check let through something aiortc refuses.
        await pc.setRemoteDescription(RTCSessionDescription(body.decode(), "offer"))
    finally:
        await pc.close()


@seed(15)
@settings(
    max_examples=40,
    deadline=timedelta(seconds=15),  # an accepted offer opens the camera: about 1 s
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=OFFERS)
async def test_the_server_answers_any_offer_without_5xx_or_opening_the_camera_for_nothing(
    vms: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    caplog.set_level(logging.WARNING)
    live = vms.server.live
    live.linger_seconds = 0  # a feed closes as soon as its last user leaves
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    headers = {"Content-Type": "application/sdp", **bearer(await vms.admin_token())}
    await eventually(lambda: not live.feeds(), timeout=10, what="the last feed closed")
    async with http.post(url, data=body, headers=headers) as r:
        text = await r.text()
        assert r.status < 500, text
        if r.status == 201:
            async with http.delete(vms.url + r.headers["Location"], headers=headers) as d:
                assert d.status == 204
        else:
            assert r.status in (400, 413, 415), text
            assert (await r.json())["error"]["message"]
            assert live.feeds() == [], f"a refused offer opened the camera: {text}"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
