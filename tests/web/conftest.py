"""A vms server with simulated cameras, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, async_playwright

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

    async def start(
        cameras: int = 2, record: bool = False, loop_seconds: int = 2, extra: str = ""
    ) -> WebSetup:
        """``loop_seconds=60`` makes the burned-in clock show true seconds of the minute.
        ``extra``: more vms.toml (a ``[plugins.<name>]`` table there replaces the quiet one)."""
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
        quiet = "".join(
            f"\n[plugins.{name}]\nenabled = false\n"
            for name in ("analytics", "lpr", "gunshot")
            if f"[plugins.{name}]" not in extra
        )
        running = await make_server(camera_config(sim) + quiet + extra, record=record)
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


@dataclass
class BrowserProblems:
    """Console errors, uncaught page errors and 4xx/5xx answers seen by every page a test
    opens (``new_page``). Any of them fails the test, unless the test declared it
    deliberate: ``browser_problems.allow(401, r"/api/auth/login$")``."""

    seen: list[str] = field(default_factory=list)
    allowed: list[tuple[int, re.Pattern[str]]] = field(
        # The client asks "who am I?" on every load; 401 is the answer before sign-in.
        default_factory=lambda: [(401, re.compile(r"/api/auth/me$"))]
    )

    def allow(self, status: int, url_pattern: str) -> None:
        self.allowed.append((status, re.compile(url_pattern)))

    def response(self, response: Response) -> None:
        if response.status < 400:
            return
        line = f"http {response.status} {response.request.method} {response.url}"
        print(line)
        if not any(s == response.status and p.search(response.url) for s, p in self.allowed):
            self.seen.append(line)

    def console(self, message: ConsoleMessage) -> None:
        print(f"console {message.type}: {message.text}")
        # A failed request is also logged by Chromium; the response check judges it.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.seen.append(f"console error: {message.text}")

    def page_error(self, error: object) -> None:
        print(f"page error: {error}")
        self.seen.append(f"page error: {error}")


_problems: BrowserProblems | None = None


@pytest.fixture(autouse=True)
def browser_problems() -> Iterator[BrowserProblems]:
    """Fails the test (at teardown) on a problem a page reported that it did not allow."""
    global _problems
    _problems = BrowserProblems()
    found = _problems
    yield found
    _problems = None
    if found.seen:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(found.seen))


async def new_page(browser: Browser, width: int = 1920, height: int = 1080) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    problems = _problems or BrowserProblems()
    page.on("pageerror", problems.page_error)
    page.on("console", problems.console)
    page.on("response", problems.response)
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
