"""Headless Chromium plays a camera over WHEP: decoded frames rise within 1 s of connecting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Route, async_playwright

from tests.conftest import RunningServer
from tests.webrtc.conftest import camera_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--allow-loopback-in-peer-connection",
    # Host candidates as plain addresses, not mDNS names nothing here can resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

# A minimal WHEP player: H.264 forced before the offer (else Chromium picks VP8).
PAGE = """<!doctype html><html><body><video muted autoplay playsinline></video><script>
window.play = async (camera, token) => {
  const t0 = performance.now();
  const video = document.querySelector("video");
  const pc = new RTCPeerConnection({iceServers: []});
  const tr = pc.addTransceiver("video", {direction: "recvonly"});
  tr.setCodecPreferences(RTCRtpReceiver.getCapabilities("video").codecs
    .filter(c => c.mimeType === "video/H264"));
  pc.ontrack = e => { video.srcObject = new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(`/api/cameras/${camera}/whep`, {method: "POST",
    headers: {"Content-Type": "application/sdp", "Authorization": "Bearer " + token},
    body: pc.localDescription.sdp});
  if (r.status !== 201) return {status: r.status, text: await r.text()};
  const answered = (performance.now() - t0) / 1000;
  await pc.setRemoteDescription({type: "answer", sdp: await r.text()});
  const frames = () => video.getVideoPlaybackQuality().totalVideoFrames;
  while (frames() === 0 && performance.now() - t0 < 15000)
    await new Promise(ok => setTimeout(ok, 10));
  const first = (performance.now() - t0) / 1000, atFirst = frames();
  await new Promise(ok => setTimeout(ok, 1000));
  return {status: 201, answered, first, atFirst, later: frames(),
          width: video.videoWidth, height: video.videoHeight};
};
</script></body></html>"""


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def test_chromium_shows_live_frames_within_a_second(
    vms: RunningServer, chromium: Browser
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    token = await vms.admin_token()
    page = await chromium.new_page()

    async def serve_page(route: Route) -> None:
        await route.fulfill(body=PAGE, content_type="text/html")

    # Served on the server's own origin, so the page's fetch is same-origin.
    await page.route(f"{vms.url}/whep-test.html", serve_page)
    results = {}
    # Cold: nobody watches yet, the server first connects to the camera (RTSP + probe).
    # Warm: the camera's feed is open, the viewer starts on the relay's cached keyframe.
    for case in ("cold", "warm"):
        await page.goto(f"{vms.url}/whep-test.html")
        results[case] = result = await page.evaluate("([c, t]) => window.play(c, t)", [cam, token])
        assert result["status"] == 201, result
        print(
            f"Chromium {case}: answer {result['answered']:.3f} s, "
            f"first decoded frame {result['first']:.3f} s after connecting"
        )
        assert result["later"] > result["atFirst"] >= 1, result  # the picture moves
        assert (result["width"], result["height"]) == (320, 180)
    # The promise to the operator: a camera someone already watches (as the wall and the
    # recorder keep it) shows its picture within a second. The cold start (RTSP connect
    # and probe) is printed above and measured in bench/webrtc.py; on a loaded CI machine
    # it has taken 4 s, so it is not timed here.
    assert results["warm"]["first"] < 1.0, results
