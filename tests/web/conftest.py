"""A vms server with simulated cameras, and headless Debian Chromium driven by Playwright.

Every page a test opens is watched: a console error, an uncaught exception or a 4xx/5xx
answer fails the test (``page_problems``), unless the test says it provokes it:
``@pytest.mark.allow_page_problems("pattern", reason="...")`` (a regular expression
searched in lines like ``http 403 PATCH /api/bookmarks/3``, ``console error: ...``,
``page error: ...``), or ``page_problems.allow(...)`` for a pattern known at run time.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    WebError,
    async_playwright,
)

from tests.conftest import REPO, RunningServer
from tests.loops import sim_config
from tests.simulator.conftest import small_camera
from tests.web.recordings import lend_recordings
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
QUIET_PLUGIN_NAMES = ("analytics", "lpr", "gunshot")
QUIET_PLUGINS = "".join(f"\n[plugins.{name}]\nenabled = false\n" for name in QUIET_PLUGIN_NAMES)


@dataclass
class WebSetup:
    server: RunningServer
    simulator: Simulator | None
    url: str
    # When the recordings lent to the cameras end (µs), if any were.
    recorded_until_us: int | None = None

    @property
    def password(self) -> str:
        return self.server.admin_password


# -- what the browser complains about ----------------------------------------------------


@dataclass(frozen=True)
class AllowedProblem:
    pattern: str  # regular expression searched in the problem's line
    reason: str


# Problems every test meets. Each says why; keep this list short.
ALLOWED_PAGE_PROBLEMS = [
    AllowedProblem(
        r"^http 401 GET /api/auth/me$",
        "the app's first question is whether a session exists: before sign-in it has none",
    ),
]
# Chromium's own line for every 4xx/5xx answer: the answer itself is checked, with its URL.
_STATUS_LINE = "Failed to load resource: the server responded with a status of"


@dataclass
class PageProblems:
    allowed: list[AllowedProblem]
    unexpected: list[str] = field(default_factory=list)

    def allow(self, pattern: str, reason: str) -> None:
        self.allowed.append(AllowedProblem(pattern, reason))

    def note(self, line: str) -> None:
        print(line)
        if not any(re.search(a.pattern, line) for a in self.allowed):
            self.unexpected.append(line)


_WATCHING: list[PageProblems] = []


@pytest.fixture(autouse=True)
def page_problems(request: pytest.FixtureRequest) -> Iterator[PageProblems]:
    """Collects what every page of the test complains about; fails the test on anything
    not allowed. Set up before the browser, so it is checked after the browser closed."""
    allowed = list(ALLOWED_PAGE_PROBLEMS)
    for mark in request.node.iter_markers("allow_page_problems"):
        allowed.append(AllowedProblem(mark.args[0], mark.kwargs.get("reason", "")))
    problems = PageProblems(allowed)
    _WATCHING.append(problems)
    try:
        yield problems
    finally:
        _WATCHING.remove(problems)
    if problems.unexpected:
        pytest.fail("the browser met problems:\n" + "\n".join(problems.unexpected))


def _note(line: str) -> None:
    if _WATCHING:
        _WATCHING[-1].note(line)


def _on_response(response: Response) -> None:
    if response.status >= 400:
        url = urlsplit(response.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        _note(f"http {response.status} {response.request.method} {path}")


def _on_console(message: ConsoleMessage) -> None:
    if message.type == "error" and not message.text.startswith(_STATUS_LINE):
        _note(f"console error: {message.text}")
    elif message.type == "warning":
        print(f"console warning: {message.text}")


def _on_web_error(error: WebError) -> None:
    _note(f"page error: {error.error}")


def watch(context: BrowserContext) -> None:
    """Report every page of ``context`` (pop-up windows too) to the test's PageProblems."""
    context.on("response", _on_response)
    context.on("console", _on_console)
    context.on("weberror", _on_web_error)


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


def offline_cameras(count: int) -> str:
    """Cameras nobody answers for (record = false): their recordings are lent."""
    blocks = []
    for index in range(count):
        lat, lon, heading = PLACES[index % len(PLACES)]
        lat += 0.002 * (index // len(PLACES))
        blocks.append(
            f"""
[[cameras]]
name = "cam-{index + 1:02d}"
rtsp_url = "rtsp://127.0.0.1:9/cam-{index + 1}"
record = false
lat = {lat}
lon = {lon}
heading = {heading}
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
        cameras: int = 2,
        record: bool = False,
        loop_seconds: int = 2,
        *,
        live: bool = True,
        recorded_minutes: float = 0,
        recorded_from: list[str] | None = None,
        audio: str = "AAC",
        extra: str = "",
    ) -> WebSetup:
        """``loop_seconds=60`` makes the burned-in clock show true seconds of the minute.
        ``live=False``: cameras without a simulator (for playback only; nothing answers
        their RTSP address). ``recorded_minutes``: each camera is lent that much of the
        run's recorded site (tests/web/recordings.py), ending a minute or more ago, from
        ``recorded_from`` in turn (site camera names; default the steady ones).
        ``audio``: the simulated cameras' audio ("PCMU" plays live in a browser).
        ``extra``: more vms.toml (a ``[plugins.<name>]`` table there replaces the quiet one)."""
        sim: Simulator | None = None
        if live:
            scene = {"loop_seconds": loop_seconds}
            sim = Simulator(
                sim_config(
                    cameras=[
                        small_camera(i + 1, ptz=i == 0, scene=scene, audio=audio)
                        for i in range(cameras)
                    ],
                    discovery=False,
                    discovery_multicast=False,
                )
            )
            await sim.start()
            simulators.append(sim)
            config = camera_config(sim)
        else:
            config = offline_cameras(cameras)
        quiet = "".join(
            f"\n[plugins.{name}]\nenabled = false\n"
            for name in QUIET_PLUGIN_NAMES
            if f"[plugins.{name}]" not in extra
        )
        running = await make_server(config + quiet + extra, record=record)
        until = None
        if recorded_minutes:
            until = await lend_recordings(running.server, recorded_minutes, recorded_from)
        return WebSetup(running, sim, running.url, until)

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


async def new_page(browser: Browser, width: int = 1920, height: int = 1080, **options: Any) -> Page:
    """A page in a context of its own (``options`` go to ``new_context``), watched."""
    context = await browser.new_context(viewport={"width": width, "height": height}, **options)
    watch(context)
    return await context.new_page()


async def login(
    page: Page, setup: WebSetup, path: str = "/", user: str = "admin", password: str = ""
) -> None:
    """Sign in as ``user`` (made by ``setup.server.token(user, ...)``: its password is
    ``password-<user>``), or the admin."""
    started = time.monotonic()
    await page.goto(setup.url + path)
    await page.fill("input[name=username]", user)
    await page.fill(
        "input[name=password]",
        password or (setup.password if user == "admin" else f"password-{user}"),
    )
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
