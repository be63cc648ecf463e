"""A WHEP offer is checked before anything is opened for it: a bad one is refused with a
message that names the problem, and costs no connection to the camera."""

from __future__ import annotations

import aiohttp

from tests.conftest import RunningServer, bearer
from tests.webrtc.conftest import camera_id
from tests.webrtc.offers import AUDIO_ONLY, OFFER, VIDEO, crlf, replaced, without

SDP = {"Content-Type": "application/sdp"}

# (what is wrong, body, status, words the message must contain)
BAD_OFFERS: list[tuple[str, bytes, int, str]] = [
    ("empty body", b"", 400, "empty"),
    ("not SDP at all", b"hello, camera", 400, "v=0"),
    (
        "invalid UTF-8",
        OFFER.replace("s=-", "s=\udcff", 1).encode("utf-8", "surrogateescape"),
        400,
        "UTF-8",
    ),
    ("no video section", AUDIO_ONLY.encode(), 400, "video"),
    ("VP8 only", without(OFFER, r"a=(rtpmap|fmtp|rtcp-fb):10[23]").encode(), 400, "H.264"),
    (
        "H.264 without packetization-mode 1",
        OFFER.replace("packetization-mode=1", "packetization-mode=0").encode(),
        400,
        "packetization-mode",
    ),
    ("no ICE credentials", without(OFFER, r"a=ice-(ufrag|pwd)").encode(), 400, "ICE"),
    ("no DTLS fingerprint", without(OFFER, r"a=fingerprint").encode(), 400, "fingerprint"),
    ("no RTCP mux", without(OFFER, r"a=rtcp-mux").encode(), 400, "rtcp-mux"),
    (
        "video the viewer would send",
        replaced(OFFER, r"a=recvonly", "a=sendonly").encode(),
        400,
        "recvonly",
    ),
    (
        "too many media sections",
        (
            OFFER + "".join(crlf(VIDEO.replace("a=mid:0", f"a=mid:v{i}")) for i in range(40))
        ).encode(),
        400,
        "media sections",
    ),
]


async def test_a_bad_offer_is_refused_before_the_camera_is_opened(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    headers = {**SDP, **bearer(await vms.admin_token())}
    problems = []
    for what, body, status, words in BAD_OFFERS:
        async with http.post(url, data=body, headers=headers) as r:
            text = await r.text()
        if r.status != status or words.lower() not in text.lower():
            problems.append(f"{what}: {r.status} {text[:200]}")
        # Refused on the offer alone: the camera saw no connection for it.
        if vms.server.live.feeds():
            problems.append(f"{what}: the camera's feed was opened")
            await vms.server.live.close_camera(cam)
    assert not problems, "\n".join(problems)
    assert vms.server.webrtc.sessions == {}


async def test_offer_encoding_and_size_are_checked(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    token = bearer(await vms.admin_token())
    latin = {"Content-Type": "application/sdp; charset=iso-8859-1", **token}
    async with http.post(url, data=OFFER.encode(), headers=latin) as r:
        assert r.status == 415
        assert "UTF-8" in (await r.json())["error"]["message"]

    async def chunks() -> object:  # no Content-Length: the size is found while reading
        for _ in range(100):
            yield b"a=x-padding:" + b"0" * 1000 + b"\r\n"

    async with http.post(url, data=chunks(), headers={**SDP, **token}) as r:
        assert r.status == 413
        assert "offer" in (await r.json())["error"]["message"]
    assert vms.server.live.feeds() == []


async def test_the_sample_offer_is_answered(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    """The offer the bad ones are made from is a good one (it never connects: no peer)."""
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    token = bearer(await vms.admin_token())
    async with http.post(url, data=OFFER, headers={**SDP, **token}) as r:
        assert r.status == 201, await r.text()
        answer = await r.text()
        location = r.headers["Location"]
    assert "H264/90000" in answer and "packetization-mode=1" in answer
    async with http.delete(vms.url + location, headers=token) as r:
        assert r.status == 204


async def test_a_viewer_without_the_cameras_audio_codec_gets_video_only(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    """sim-cam-1 sends G.711 (PCMU); an offer with Opus only still gets its video."""
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    token = bearer(await vms.admin_token())
    opus_only = without(OFFER, r"a=rtpmap:(0|8) ").replace(" 111 0 8", " 111")
    async with http.post(url, data=opus_only, headers={**SDP, **token}) as r:
        assert r.status == 201, await r.text()
        answer = await r.text()
    video, audio = answer.split("m=audio")
    assert "a=sendonly" in video and "H264/90000" in video
    assert "a=inactive" in audio and "PCMU" not in audio
