"""A live view asked for while the server stops answers 503, never a 500 with an ERROR.

A browser left on a page with live tiles (the incident page, the wall) keeps negotiating
while the server stops: a WHEP request already past the "stopping?" check reached the
stopped live sources, which raised, and the middleware logged 'unhandled error in POST
/api/cameras/N/whep'. The browser suite met it at teardown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from tests.conftest import bearer
from tests.webrtc.offers import OFFER


async def test_a_view_asked_for_once_live_sources_stopped_is_a_503(
    make_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    running = await make_server('[[cameras]]\nname = "c"\nrtsp_url = "rtsp://127.0.0.1:1/c"\n')
    camera = (await running.server.cameras.visible())[0].id
    token = await running.admin_token()
    # The order a stop takes them in: the live sources go while HTTP still answers.
    await running.server.live.stop()
    async with http.post(
        f"{running.url}/api/cameras/{camera}/whep",
        data=OFFER,
        headers={**bearer(token), "Content-Type": "application/sdp"},
    ) as r:
        assert r.status == 503, await r.text()
        assert (await r.json())["error"]["message"] == "the server is stopping"
    assert running.server.webrtc.quota.held() == 0  # the slot it took is given back
