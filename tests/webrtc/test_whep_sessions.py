"""Live view sessions under careless and hostile use: viewers that hang up, DELETEs that
race the peer connection, too many views for one account or the server, deleted users."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from tests.conftest import RunningServer, bearer
from tests.eventually import eventually
from tests.webrtc.conftest import WhepViewer, camera_id
from tests.webrtc.offers import OFFER
from vms_core.db.models import AuditEntry

SDP = {"Content-Type": "application/sdp"}


def whep_url(vms: RunningServer, camera: int) -> str:
    return f"{vms.url}/api/cameras/{camera}/whep"


async def live_end_reasons(vms: RunningServer) -> list[str]:
    async with vms.server.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "live.end").order_by(AuditEntry.id)
        )
        return [str(r.detail.get("reason")) for r in rows]


async def raw_post(vms: RunningServer, path: str, token: str, body: bytes, length: int) -> Any:
    """Send a POST by hand (``length`` may promise more than ``body``); return the streams."""
    url = urlsplit(vms.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {length}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_viewer_hanging_up_mid_offer_is_not_a_server_error(
    vms: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cam = await camera_id(vms, "sim-cam-1")
    path = f"/api/cameras/{cam}/whep"
    body = OFFER.encode()
    _reader, writer = await raw_post(vms, path, await vms.admin_token(), body[:100], len(body))
    writer.close()  # gone before the whole offer arrived

    def handled() -> bool:
        return any(path in r.getMessage() for r in caplog.records)

    await eventually(handled, timeout=10, what="the server noticed the viewer left")
    assert errors(caplog) == []
    assert vms.server.live.feeds() == [] and vms.server.webrtc.sessions == {}


async def test_a_viewer_gone_before_the_answer_holds_no_session(
    vms: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cam = await camera_id(vms, "sim-cam-1")
    body = OFFER.encode()
    _reader, writer = await raw_post(
        vms, f"/api/cameras/{cam}/whep", await vms.admin_token(), body, len(body)
    )
    # The offer is being answered once the camera's feed opens for it; hang up then, as
    # a wall tile closed while connecting does.
    await eventually(lambda: vms.server.live.feeds(), timeout=10, interval=0.01)
    writer.close()
    # Nobody will ever DELETE it: it must not wait for its 30 s connect deadline.
    ended = await eventually(
        lambda: live_end_reasons(vms), timeout=10, what="the abandoned session ended"
    )
    assert ended == ["viewer left before the answer"]
    assert vms.server.webrtc.sessions == {} and vms.server.webrtc.quota.held() == 0
    assert errors(caplog) == []


async def test_delete_after_the_peer_connection_ended_the_session_answers_204(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    token = await vms.token("olga", "viewer", [cam])
    viewer = WhepViewer()
    assert await viewer.connect(http, whep_url(vms, cam), bearer(token), audio=False) == 201
    await viewer.frames(2)
    # A browser closing a tile closes its peer connection as it sends the DELETE.
    await viewer.close()
    await eventually(lambda: not vms.server.webrtc.sessions, timeout=10)
    async with http.delete(vms.url + viewer.location, headers=bearer(token)) as r:
        assert r.status == 204
    other = await vms.token("piotr", "viewer", [cam])
    async with http.delete(vms.url + viewer.location, headers=bearer(other)) as r:
        assert r.status == 404  # not theirs, ended or not
    unknown = f"/api/cameras/{cam}/whep/no-such-session"
    async with http.delete(vms.url + unknown, headers=bearer(token)) as r:
        assert r.status == 404
    # The entry is written once the peer connection has closed, just after the session
    # leaves the live table.
    reasons = await eventually(lambda: live_end_reasons(vms), timeout=10, what="the end audited")
    assert reasons == ["peer connection closed"]


async def test_live_views_are_limited_per_user_and_in_all(
    start_vms: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    vms: RunningServer = await start_vms(webrtc="max_sessions_per_user = 2\nmax_sessions = 3")
    cam = await camera_id(vms, "sim-cam-1")
    olga = bearer(await vms.token("olga", "viewer", [cam]))
    piotr = bearer(await vms.token("piotr", "viewer", [cam]))
    url = whep_url(vms, cam)

    async def offer(who: dict[str, str]) -> aiohttp.ClientResponse:
        async with http.post(url, data=OFFER, headers={**SDP, **who}) as r:
            await r.read()
            return r

    first = await offer(olga)
    assert first.status == 201
    assert (await offer(olga)).status == 201
    # These sessions never connect (the offer's candidate leads nowhere), so one frees at
    # its connect deadline: Retry-After says when.
    async with http.post(url, data=OFFER, headers={**SDP, **olga}) as r:
        assert r.status == 429
        message = (await r.json())["error"]["message"]
        assert "olga" in message and "max_sessions_per_user" in message
        assert 1 <= int(r.headers["Retry-After"]) <= 30
    assert (await offer(piotr)).status == 201
    async with http.post(url, data=OFFER, headers={**SDP, **piotr}) as r:
        assert r.status == 503
        assert "max_sessions" in (await r.json())["error"]["message"]
        assert 1 <= int(r.headers["Retry-After"]) <= 30
    # Ending one of olga's views makes room for anyone.
    async with http.delete(vms.url + first.headers["Location"], headers=olga) as r:
        assert r.status == 204
    assert (await offer(piotr)).status == 201
    assert len(vms.server.webrtc.sessions) == 3


async def test_a_deleted_or_disabled_user_loses_their_live_views(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam1 = await camera_id(vms, "sim-cam-1")
    cam3 = await camera_id(vms, "sim-cam-3")
    admin = bearer(await vms.admin_token())
    users = {}
    for name in ("olga", "piotr", "quinn", "rosa", "sam"):
        token = await vms.token(name, "viewer", [cam1, cam3])
        users[name] = token
    async with http.get(f"{vms.url}/api/users", headers=admin) as r:
        ids = {u["username"]: u["id"] for u in await r.json()}

    watching: dict[str, dict[int, str]] = {name: {} for name in users}

    async def watch(name: str, camera: int) -> None:
        headers = {**SDP, **bearer(users[name])}
        async with http.post(whep_url(vms, camera), data=OFFER, headers=headers) as r:
            assert r.status == 201, await r.text()
            watching[name][camera] = r.headers["Location"].rsplit("/", 1)[1]

    def cameras_watched(name: str) -> set[int]:
        live = vms.server.webrtc.sessions
        return {camera for camera, session in watching[name].items() if session in live}

    for name in users:
        await watch(name, cam1)
    await watch("quinn", cam3)
    async with http.delete(f"{vms.url}/api/users/{ids['olga']}", headers=admin) as r:
        assert r.status == 200
    assert cameras_watched("olga") == set()
    patch = {"disabled": True}
    async with http.patch(f"{vms.url}/api/users/{ids['piotr']}", json=patch, headers=admin) as r:
        assert r.status == 200
    assert cameras_watched("piotr") == set()
    # Losing one camera ends the views of that camera only.
    patch2 = {"cameras": [cam3]}
    async with http.patch(f"{vms.url}/api/users/{ids['quinn']}", json=patch2, headers=admin) as r:
        assert r.status == 200
    assert cameras_watched("quinn") == {cam3}
    patch3 = {"password": "a-new-password"}
    async with http.patch(f"{vms.url}/api/users/{ids['rosa']}", json=patch3, headers=admin) as r:
        assert r.status == 200
    assert cameras_watched("rosa") == set()
    reset = {"password": "another-password"}
    async with http.put(
        f"{vms.url}/api/users/{ids['sam']}/password", json=reset, headers=admin
    ) as r:
        assert r.status == 200
    assert cameras_watched("sam") == set()
    reasons = await live_end_reasons(vms)
    assert reasons.count("user deleted") == 1
    assert reasons.count("user disabled") == 1
    assert reasons.count("camera no longer granted to the user") == 1
    assert reasons.count("password changed") == 2


async def test_a_user_deleted_while_their_view_connects_gets_no_session(
    vms: RunningServer, http: aiohttp.ClientSession
) -> None:
    cam = await camera_id(vms, "sim-cam-1")
    token = await vms.token("olga", "viewer", [cam])
    admin = bearer(await vms.admin_token())
    async with http.get(f"{vms.url}/api/users", headers=admin) as r:
        olga = next(u["id"] for u in await r.json() if u["username"] == "olga")
    headers = {**SDP, **bearer(token)}
    offer = asyncio.create_task(http.post(whep_url(vms, cam), data=OFFER, headers=headers))
    # The camera's feed opens for the offer (a second or so): delete olga meanwhile.
    await eventually(lambda: vms.server.live.feeds(), timeout=10, interval=0.01)
    async with http.delete(f"{vms.url}/api/users/{olga}", headers=admin) as r:
        assert r.status == 200
    async with await offer as r:
        assert r.status == 403, await r.text()
    assert vms.server.webrtc.sessions == {}
    assert await live_end_reasons(vms) == ["access revoked while connecting"]
