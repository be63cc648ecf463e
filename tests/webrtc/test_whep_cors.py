"""Cross-origin requests over HTTP: WHEP with CORS for the origins in [server] cors_origins,
403 for every other cross-origin request, same-origin and non-browser clients untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningServer, bearer
from tests.webrtc.conftest import camera_id
from tests.webrtc.offers import OFFER
from vms_core.config import parse_config
from vms_core.config.loader import ConfigError

PLAYER = "http://player.example:8000"  # the allowed origin
OTHER = "http://elsewhere.example"
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
async def vms(start_vms: Callable[..., Any]) -> RunningServer:
    server: RunningServer = await start_vms(
        server=f'cors_origins = ["{PLAYER}/", "https://second.example"]'
    )
    return server


def preflight(origin: str, method: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_a_player_on_an_allowed_origin_gets_cors_on_whep(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    async with http.options(url, headers=preflight(PLAYER, "POST")) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == PLAYER
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        allowed = r.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "Origin" in r.headers["Vary"]
        # Credentials (the session cookie) are never allowed cross-origin.
        assert "Access-Control-Allow-Credentials" not in r.headers
    token = bearer(await vms.admin_token())
    headers = {**SDP, **token, "Origin": PLAYER}
    async with http.post(url, data=OFFER, headers=headers) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Access-Control-Allow-Origin"] == PLAYER
        exposed = r.headers["Access-Control-Expose-Headers"]
        assert {"Location", "Link", "ETag"} <= {h.strip() for h in exposed.split(",")}
        location = r.headers["Location"]
    async with http.options(vms.url + location, headers=preflight(PLAYER, "DELETE")) as r:
        assert r.status == 204 and "DELETE" in r.headers["Access-Control-Allow-Methods"]
    async with http.delete(vms.url + location, headers={**token, "Origin": PLAYER}) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == PLAYER
    # An error is readable by the player too.
    async with http.post(url, data="v=0\r\n", headers=headers) as r:
        assert r.status == 400 and r.headers["Access-Control-Allow-Origin"] == PLAYER


async def test_other_cross_origin_requests_are_refused(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    token = bearer(await vms.admin_token())
    async with http.options(url, headers=preflight(OTHER, "POST")) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers
    # A "simple" request (text/plain needs no preflight) reaches the server: refused there.
    plain = {"Content-Type": "text/plain", **token, "Origin": OTHER}
    async with http.post(url, data=OFFER, headers=plain) as r:
        assert r.status == 403
        assert OTHER in (await r.json())["error"]["message"]
    assert vms.server.live.feeds() == [] and vms.server.webrtc.sessions == {}
    # An allowed origin may use live view only, nothing else of the API.
    async with http.get(f"{vms.url}/api/cameras", headers={**token, "Origin": PLAYER}) as r:
        assert r.status == 403
        assert "WHEP" in (await r.json())["error"]["message"]
    async with http.get(f"{vms.url}/api/cameras", headers={**token, "Origin": "null"}) as r:
        assert r.status == 403


@pytest.fixture
async def browser_like() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies from a numeric host, as a browser does."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_the_session_cookie_is_refused_cross_origin(
    vms: RunningServer, browser_like: aiohttp.ClientSession
) -> None:
    """Another port on the same host is the same "site": the browser sends our
    SameSite=Strict cookie along with a simple cross-origin POST."""
    http = browser_like
    cam = await camera_id(vms, "sim-cam-1")
    url = f"{vms.url}/api/cameras/{cam}/whep"
    login = {"username": "admin", "password": vms.admin_password}
    async with http.post(f"{vms.url}/api/auth/login", json=login) as r:
        assert r.status == 200
    cookie_only = {"Content-Type": "text/plain", "Origin": PLAYER}
    async with http.post(url, data=OFFER, headers=cookie_only) as r:
        assert r.status == 403
        assert "bearer token" in (await r.json())["error"]["message"]
    assert vms.server.webrtc.sessions == {}
    # The web client itself (same origin) uses the cookie as always.
    same = {**SDP, "Origin": vms.url}
    async with http.post(url, data=OFFER, headers=same) as r:
        assert r.status == 201, await r.text()
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_same_origin_is_recognised_behind_a_proxy(
    start_vms: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    vms: RunningServer = await start_vms(server='public_url = "https://vms.city.example"')
    token = bearer(await vms.admin_token())
    cameras = f"{vms.server.local_url}/api/cameras"
    # The browser's own verdict, whatever Host the proxy sent.
    fetch_site = {
        **token,
        "Origin": "https://vms.city.example:8443",
        "Sec-Fetch-Site": "same-origin",
    }
    async with http.get(cameras, headers=fetch_site) as r:
        assert r.status == 200
    # Older browsers: the configured public URL is our origin too.
    async with http.get(cameras, headers={**token, "Origin": "https://vms.city.example"}) as r:
        assert r.status == 200
    async with http.get(cameras, headers={**token, "Origin": "https://evil.example"}) as r:
        assert r.status == 403
    # Non-browser clients send no Origin.
    async with http.get(cameras, headers=token) as r:
        assert r.status == 200


@pytest.mark.parametrize("origin", ["*", "null", "https://player.example/live", "player.example"])
def test_cors_origins_must_be_origins(origin: str) -> None:
    text = f'[server]\ncors_origins = ["{origin}"]\n'
    with pytest.raises(ConfigError, match=r"server\.cors_origins"):
        parse_config(text, source="vms.toml")
