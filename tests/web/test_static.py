"""How the server hands out the web client: headers a browser and a proxy rely on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from vms_core.web import CONTENT_SECURITY_POLICY


async def test_app_shell_and_modules_are_served_with_csp_and_revalidation(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server()
    async with http.get(running.url + "/") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe" not in CONTENT_SECURITY_POLICY
        assert r.headers["Cache-Control"] == "no-cache"
        assert '<script type="module" src="/static/js/main.js">' in await r.text()
    async with http.get(running.url + "/static/js/main.js") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        etag = r.headers["ETag"]
        assert "import" in await r.text()
    async with http.get(running.url + "/static/js/main.js", headers={"If-None-Match": etag}) as r:
        assert r.status == 304, "an unchanged module must be revalidated, not downloaded again"
    async with http.get(running.url + "/static/app.css") as r:
        assert r.headers["Content-Type"].startswith("text/css")
    async with http.get(running.url + "/static/../server.py") as r:
        assert r.status == 404
    async with http.get(running.url + "/static/js/nothing.js") as r:
        assert r.status == 404


async def test_api_paths_never_get_the_app(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server()
    async with http.get(running.url + "/api/no-such-thing") as r:
        assert r.status == 404
        body = await r.json()
        assert body["error"]["code"] == "not_found"
