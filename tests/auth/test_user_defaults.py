"""A new account's cameras through the API: the configured default when none are named,
"all" as a grant that includes cameras added later, and a change back to a list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from tests.conftest import bearer

CAMERAS = "".join(
    f'[[cameras]]\nname = "{name}"\nrtsp_url = "rtsp://127.0.0.1:1/{name}"\nrecord = false\n'
    for name in ("lobby", "dock")
)


async def _login_cameras(
    http: aiohttp.ClientSession, url: str, username: str, password: str
) -> list[str]:
    # A browser of the new user's own (unsafe: the jar keeps cookies of an IP address).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as own:
        async with own.post(
            url + "/api/auth/login", json={"username": username, "password": password}
        ) as r:
            assert r.status == 200, await r.text()
        async with own.get(url + "/api/cameras") as r:
            return sorted(c["name"] for c in await r.json())


async def test_an_account_made_without_cameras_gets_the_configured_default(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server(CAMERAS + '[users]\ndefault_cameras = ["dock"]\n')
    admin = bearer(await running.admin_token())
    async with http.post(
        running.url + "/api/users",
        json={"username": "dana", "password": "long-enough", "role": "operator"},
        headers=admin,
    ) as r:
        assert r.status == 201
        dana = await r.json()
    assert await _login_cameras(http, running.url, "dana", "long-enough") == ["dock"]

    # "all" is a grant of its own: it covers a camera added afterwards.
    async with http.patch(
        f"{running.url}/api/users/{dana['id']}", json={"cameras": "all"}, headers=admin
    ) as r:
        assert (await r.json())["cameras"] == "all"
    async with http.post(
        running.url + "/api/cameras",
        json={"name": "roof", "rtsp_url": "rtsp://127.0.0.1:1/roof", "record": False},
        headers=admin,
    ) as r:
        assert r.status == 201, await r.text()
        roof = await r.json()
    assert await _login_cameras(http, running.url, "dana", "long-enough") == [
        "dock",
        "lobby",
        "roof",
    ]
    async with http.patch(
        f"{running.url}/api/users/{dana['id']}", json={"cameras": [roof["id"]]}, headers=admin
    ) as r:
        assert (await r.json())["cameras"] == [roof["id"]]
    assert await _login_cameras(http, running.url, "dana", "long-enough") == ["roof"]
