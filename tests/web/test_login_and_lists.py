"""Logging in, the camera list with health, and the events feed, in a real browser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser, Route, expect

from tests.web.conftest import login, new_page


@pytest.mark.allow_page_problems(
    r"^http 401 POST /api/auth/login$", reason="a wrong password is what the test tries"
)
async def test_bad_login_shows_an_error_and_stays_on_the_form(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=1)
    page = await new_page(browser, 1366, 768)
    await page.goto(setup.url + "/")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", "not-the-password")
    await page.click("button[type=submit]")
    await expect(page.locator(".login-error")).to_have_text("Wrong username or password.")
    assert await page.locator(".topbar").count() == 0


async def test_login_shows_cameras_with_health_and_live_events(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    setup = await start_web(cameras=2)
    server = setup.server.server
    cameras = await server.cameras.visible()
    await server.cameras.set_state(cameras[1].id, "lost", "no packets for 10 s")
    page = await new_page(browser)
    await login(page, setup)

    rows = page.locator(".camera-list li")
    await expect(rows).to_have_count(2)
    lost = page.locator(f'.camera-list li[data-camera="{cameras[1].id}"]')
    await expect(lost.locator(".health-text")).to_contain_text("Signal lost")
    await expect(lost.locator(".dot")).to_have_class("dot bad")
    assert await lost.locator("a").get_attribute("title") == "no packets for 10 s"

    # An event published now appears in the feed without a reload (SSE).
    await expect(page.locator(".feed-status")).to_have_text("● live")
    token = await setup.server.admin_token()
    event = {"type": "gunshot.detected", "camera_ids": [cameras[0].id], "severity": "critical"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            setup.url + "/api/events", json=event, headers={"Authorization": f"Bearer {token}"}
        ) as r,
    ):
        assert r.status == 201
    first = page.locator(".rail .event").first
    await expect(first).to_have_attribute("data-type", "gunshot.detected")
    await expect(first.locator(".ev-type")).to_have_text("Gunshot")
    await expect(first.locator(".ev-where")).to_contain_text(cameras[0].name)

    # The events page searches the catalog by type.
    await page.click(".nav >> text=Events")
    await page.fill(".event-search input[name=type]", "gunshot")
    await page.click(".event-search button[type=submit]")
    await expect(page.locator(".events-page .event")).to_have_count(1)
    await page.fill(".event-search input[name=type]", "no-such-type")
    await page.click(".event-search button[type=submit]")
    await expect(page.locator(".events-page .event")).to_have_count(0)

    # Signing out ends the session: a reload shows the login form again.
    await page.click("text=Sign out")
    await page.wait_for_selector("input[name=password]")
    await page.reload()
    await page.wait_for_selector("input[name=password]")


async def test_signing_out_stops_the_pages_before_the_session_ends(
    start_web: Callable[..., Any], browser: Browser
) -> None:
    """An operator who signs out and at once follows a link (or a test that navigates) must
    not see pages load on a session being ended: that was a 401 in the middle of sign-out."""
    setup = await start_web(cameras=1)
    page = await new_page(browser)
    await login(page, setup, "/#/events")
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_logout(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    await page.route("**/api/auth/logout", hold_logout)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlsplit(r.url).path))
    await page.click("text=Sign out")
    await asyncio.wait_for(held.wait(), 30)  # hang guard
    await page.evaluate("location.hash = '#/grid'")
    await page.evaluate("new Promise((done) => setTimeout(done, 300))")  # a page would load now
    release.set()
    await page.wait_for_selector("input[name=password]")
    assert [p for p in asked if p.startswith("/api/")] == ["/api/auth/logout"]
