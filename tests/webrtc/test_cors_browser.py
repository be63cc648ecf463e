"""A third-party WHEP player on another origin, in headless Chromium: it plays our live view
when its origin is in [server] cors_origins, and the browser is refused when it is not."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, async_playwright

from tests.conftest import RunningServer
from tests.webrtc.conftest import camera_id

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    # Host candidates as plain addresses, not mDNS names nothing here can resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

# A minimal third-party WHEP player: everything it needs from us crosses origins (the
# offer with a bearer token, the Location header, the DELETE).
PLAYER = """<!doctype html><html><body><video muted autoplay playsinline></video><script>
window.play = async (server, camera, token) => {
  const video = document.querySelector("video");
  const pc = new RTCPeerConnection({iceServers: []});
  const tr = pc.addTransceiver("video", {direction: "recvonly"});
  tr.setCodecPreferences(RTCRtpReceiver.getCapabilities("video").codecs
    .filter(c => c.mimeType === "video/H264"));
  pc.ontrack = e => { video.srcObject = new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  const auth = {"Authorization": "Bearer " + token};
  let r;
  try {
    r = await fetch(`${server}/api/cameras/${camera}/whep`, {method: "POST",
      headers: {"Content-Type": "application/sdp", ...auth}, body: pc.localDescription.sdp});
  } catch (err) {
    pc.close();
    return {refused: String(err)};
  }
  if (r.status !== 201) { pc.close(); return {status: r.status, text: await r.text()}; }
  const location = r.headers.get("Location");
  await pc.setRemoteDescription({type: "answer", sdp: await r.text()});
  const frames = () => video.getVideoPlaybackQuality().totalVideoFrames;
  const t0 = performance.now();
  while (frames() < 3 && performance.now() - t0 < 20000)
    await new Promise(ok => setTimeout(ok, 20));
  const shown = frames();
  const ended = await fetch(new URL(location, server), {method: "DELETE", headers: auth});
  pc.close();
  return {status: r.status, location, frames: shown, deleted: ended.status};
};
</script></body></html>"""


async def serve_player() -> tuple[web.AppRunner, str]:
    """The player page from its own HTTP server on loopback: another origin than ours."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PLAYER, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def players() -> AsyncIterator[list[str]]:
    """Two player origins: the first is allowed, the second is not."""
    runners = [await serve_player() for _ in range(2)]
    try:
        yield [origin for _, origin in runners]
    finally:
        for runner, _ in runners:
            await runner.cleanup()


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for this test
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            await context.close()


async def test_a_player_on_another_origin_plays_when_allowed_and_is_refused_when_not(
    start_vms: Callable[..., Any], players: list[str], chromium: BrowserContext
) -> None:
    allowed, other = players
    vms: RunningServer = await start_vms(server=f'cors_origins = ["{allowed}"]')
    cam = await camera_id(vms, "sim-cam-1")
    token = await vms.admin_token()
    page = await chromium.new_page()
    play = "([s, c, t]) => window.play(s, c, t)"

    await page.goto(allowed)
    result = await page.evaluate(play, [vms.url, cam, token])
    assert result.get("status") == 201, result
    assert result["location"].startswith(f"/api/cameras/{cam}/whep/"), result  # exposed
    assert result["frames"] >= 3, result
    assert result["deleted"] == 204, result
    assert vms.server.webrtc.sessions == {}

    await page.goto(other)
    result = await page.evaluate(play, [vms.url, cam, token])
    # The preflight is refused (403), so the browser never sends the offer.
    assert "refused" in result, result
    assert vms.server.webrtc.sessions == {}
