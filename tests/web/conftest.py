"""A vms server with simulated cameras, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Response, async_playwright

from tests.conftest import REPO, RunningServer
from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from vms_core.simulator.simulator import Simulator

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--allow-loopback-in-peer-connection",
    # Host candidates as plain addresses, not mDNS names nothing here can resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
# Around a park in Hartford, CT: enough spread for the plan to show positions.
PLACES = [(41.7658, -72.6734, 180.0), (41.7642, -72.6728, 0.0), (41.7665, -72.6761, 90.0)]


# The analysing plug-ins decode every camera; these tests are about the browser, and the
# machine has two cores.
QUIET_PLUGINS = "".join(
    f"\n[plugins.{name}]\nenabled = false\n" for name in ("analytics", "lpr", "gunshot")
)


@dataclass
class WebSetup:
    server: RunningServer
    simulator: Simulator
    url: str

    @property
    def password(self) -> str:
        return self.server.admin_password


def camera_config(sim: Simulator) -> str:
    blocks = []
    for index, info in enumerate(sim.cameras):
        lat, lon, heading = PLACES[index % len(PLACES)]
        lat += 0.002 * (index // len(PLACES))
        blocks.append(
            f"""
[[cameras]]
name = "{info.name}"
onvif_url = "{info.onvif_url}"
rtsp_url = "{info.rtsp_main_url}"
sub_rtsp_url = "{info.rtsp_sub_url}"
username = "{info.username}"
password = "{info.password}"
lat = {lat}
lon = {lon}
heading = {heading}
fov = 80
"""
        )
    return "".join(blocks)


@pytest.fixture
async def simulators() -> AsyncIterator[list[Simulator]]:
    """Simulators stopped after the servers (set up before make_server, so torn down after
    it): a server whose cameras vanish under it would spend its stop reconnecting."""
    sims: list[Simulator] = []
    yield sims
    for sim in sims:
        await sim.stop()


@pytest.fixture
def start_web(simulators: list[Simulator], make_server: Callable[..., Any]) -> Callable[..., Any]:
    """Start `cameras` simulated cameras and a server that knows them."""

    async def start(cameras: int = 2, record: bool = False, loop_seconds: int = 2) -> WebSetup:
        """``loop_seconds=60`` makes the burned-in clock show true seconds of the minute."""
        scene = {"loop_seconds": loop_seconds}
        sim = Simulator(
            sim_config(
                cameras=[small_camera(i + 1, ptz=i == 0, scene=scene) for i in range(cameras)],
                discovery=False,
                discovery_multicast=False,
            )
        )
        await sim.start()
        simulators.append(sim)
        running = await make_server(camera_config(sim) + QUIET_PLUGINS, record=record)
        return WebSetup(running, sim, running.url)

    return start


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def _log_failure(response: Response) -> None:
    if response.status >= 400:
        print(f"http {response.status} {response.request.method} {response.url}")


async def new_page(browser: Browser, width: int = 1920, height: int = 1080) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.on("pageerror", lambda exc: print(f"page error: {exc}"))
    page.on("console", lambda msg: print(f"console {msg.type}: {msg.text}"))
    page.on("response", _log_failure)
    return page


async def login(page: Page, setup: WebSetup, path: str = "/") -> None:
    started = time.monotonic()
    await page.goto(setup.url + path)
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", setup.password)
    await page.click("button[type=submit]")
    await page.wait_for_selector(".topbar", timeout=90_000)
    print(f"logged in after {time.monotonic() - started:.1f}s")


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    await page.screenshot(path=str(path))
    return path


def has_endpoint(setup: WebSetup, method: str, path: str) -> bool:
    return setup.server.server.api.lookup(method, path) is not None


async def recorded_seconds(setup: WebSetup, token: str, camera_id: int) -> float:
    """Seconds the camera has recorded, from the recordings API."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.get(f"{setup.url}/api/cameras/{camera_id}/recordings") as r,
    ):
        body = await r.json()
        return float(body.get("recorded_seconds", 0))
