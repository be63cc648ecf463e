"""PTZ from the camera page: holding an arrow turns the camera's head, letting go stops it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser

from tests.eventually import eventually
from tests.web.conftest import login, new_page


async def test_holding_an_arrow_pans_the_camera_and_release_stops_it(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=1)  # camera 1 of the simulator has PTZ
    server = setup.server.server
    first = (await server.cameras.visible())[0]

    async def with_ptz() -> Any:  # learnt over ONVIF by the health check
        found = await server.cameras.get(first.id)
        return found if found is not None and found.has_ptz else None

    camera = await eventually(with_ptz, 30, 0.3, what="the server learnt the camera has PTZ")
    head = setup.simulator.camera(camera.name).ptz
    assert head is not None

    page = await new_page(browser, 1366, 768)
    await login(page, setup, f"/#/camera/{camera.id}")
    right = page.locator(".ptz-btn", has_text="▶")
    await right.hover()
    await page.mouse.down()
    await page.wait_for_timeout(800)
    await page.mouse.up()
    await page.wait_for_timeout(500)  # the stop has reached the camera
    stopped_at = head.position().pan
    assert stopped_at > 0, "holding the right arrow must pan right"
    await page.wait_for_timeout(600)
    assert head.position().pan == stopped_at, "letting go must stop the head"
