"""Helpers of the console tests (alarms, events search, administration): signing in as
any user and calling the API as the admin."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import Page

from tests.web.conftest import WebSetup


async def login_as(page: Page, url: str, username: str, password: str, path: str = "/") -> None:
    await page.goto(url + path)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_selector(".topbar", timeout=90_000)


async def call(setup: WebSetup, method: str, path: str, body: Any = None) -> Any:
    """The API as the admin (a bearer token); returns the JSON answer."""
    token = await setup.server.admin_token()
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.request(method, setup.url + path, json=body) as r,
    ):
        assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
        return await r.json() if r.content_type == "application/json" else None
