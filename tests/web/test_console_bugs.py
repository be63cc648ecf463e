"""Three bugs of the operator's console (issue #19): operators offered "Unlock (admin)", a
"Live" badge beside "PLAYBACK", and camera labels cut off at the plan's edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, expect

from tests.eventually import eventually
from tests.web.conftest import QUIET_PLUGINS, WebSetup, login, new_page, screenshot
from vms_core.bookmarks import BookmarkRequest

S = 1_000_000


async def test_operators_see_locked_evidence_without_an_unlock_they_cannot_use(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup: WebSetup = await start_web(cameras=1, live=False, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]
    at = setup.recorded_until_us - 120 * S
    await setup.server.server.bookmarks.create(
        BookmarkRequest([camera.id], at, at + 30 * S, "case 7: locked by an admin", lock=True)
    )
    await setup.server.token("olive", "operator", [camera.id])
    page = await new_page(browser)
    await login(page, setup, f"/#/camera/{camera.id}?t={at // 1000}", user="olive")
    row = page.locator(".bookmarks li", has_text="case 7")
    await expect(row).to_have_count(1)
    # Unlocking needs an admin: an operator is told it is locked, and offered nothing the
    # server would refuse (a 403 here fails the test through page_problems).
    await expect(row.locator(".locked-badge")).to_have_text("Locked")
    await expect(row.locator("button", has_text="Unlock")).to_have_count(0)
    await expect(row.locator('[title*="Unlock (admin)"]')).to_have_count(0)


async def test_playback_is_not_labelled_live(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    """The camera is streaming while the operator plays back its recording: the page says
    the camera is online and that this is playback, never "Live" beside "PLAYBACK"."""
    setup: WebSetup = await start_web(cameras=1, record=True, recorded_minutes=5)
    assert setup.recorded_until_us is not None
    camera = (await setup.server.server.cameras.visible())[0]

    async def streaming() -> bool:
        found = await setup.server.server.cameras.get(camera.id)
        return found is not None and found.state == "streaming"

    await eventually(streaming, 30, 0.2, what="the camera streaming to the recorder")
    page = await new_page(browser)
    at = setup.recorded_until_us - 60 * S
    await login(page, setup, f"/#/camera/{camera.id}?t={at // 1000}")
    await page.wait_for_selector('.camera-page .video-box[data-state="playing"]')
    head = page.locator(".camera-page .page-head")
    await expect(head.locator(".mode")).to_have_text("Playback")
    await expect(head.locator(".health")).to_have_text("Online")
    shown = await head.evaluate(
        "(el) => [...el.querySelectorAll('span, div')].filter((n) => n.offsetParent"
        " && !n.children.length).map((n) => n.textContent.trim())"
    )
    assert "Live" not in shown, shown
    await expect(page.locator(".camera-page .badge-live:visible")).to_have_count(0)


async def test_plan_keeps_every_camera_label_inside(
    make_server: Callable[..., Any], browser: Browser
) -> None:
    """Long names on the cameras at the plan's edges stay whole on the plan."""
    # Spread east-west: the plan is as wide as it can be, the last camera at its right edge.
    places = [(41.7658, -72.6900), (41.7660, -72.6600), (41.7652, -72.6750), (41.7664, -72.6680)]
    names = [
        "main-street-and-fifth-northbound",
        "riverside-park-east-entrance-ptz",
        "bushnell-park-carousel-west",
        "union-station-platform-north",
    ]
    config = "".join(
        f'\n[[cameras]]\nname = "{name}"\nrtsp_url = "rtsp://127.0.0.1:9/{i}"\nrecord = false\n'
        f"lat = {lat}\nlon = {lon}\nheading = 90.0\n"
        for i, (name, (lat, lon)) in enumerate(zip(names, places, strict=True))
    )
    running = await make_server(config + QUIET_PLUGINS)
    setup = WebSetup(running, None, running.url)
    page = await new_page(browser, 1366, 768)
    await login(page, setup, "/#/plan")
    await expect(page.locator(".plan-camera")).to_have_count(4)
    outside = await page.evaluate(
        """() => {
          const svg = document.querySelector('.plan-svg');
          const [x0, y0, w, h] = svg.getAttribute('viewBox').split(' ').map(Number);
          return [...svg.querySelectorAll('.plan-camera text')].map((t) => {
            const b = t.getBBox();
            return [t.textContent, b.x, b.y, b.x + b.width, b.y + b.height, x0 + w, y0 + h];
          }).filter(([, l, t, r, b, W, H]) => l < 0 || t < 0 || r > W || b > H);
        }"""
    )
    await screenshot(page, "plan-labels.png")
    assert outside == [], f"labels cut at the plan's edge: {outside}"
