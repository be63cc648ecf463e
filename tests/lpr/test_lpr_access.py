"""Who may see and change what in the LPR plug-in, on a real server: a viewer limited to one
camera reads only that camera's plates, hotlist changes need an operator, and no body a
client sends (however deeply nested) marks the plug-in unhealthy."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningServer, bearer

SECRET = "0123456789abcdef-secret"
CONFIG = f"""
[[cameras]]
name = "north"
rtsp_url = "rtsp://127.0.0.1:1/north"
enabled = false
[[cameras]]
name = "south"
rtsp_url = "rtsp://127.0.0.1:1/south"
enabled = false

[plugins.lpr]
webhook_secret = "{SECRET}"
cameras = []
"""
NESTED = b"[" * 5000 + b"]" * 5000


@pytest.fixture
async def lpr_server(make_server: Any, monkeypatch: pytest.MonkeyPatch) -> RunningServer:
    monkeypatch.setenv("VMS_PLUGINS", "lpr")
    server: RunningServer = await make_server(CONFIG)
    return server


async def push(http: aiohttp.ClientSession, srv: RunningServer, **read: Any) -> dict[str, Any]:
    raw = json.dumps(read).encode()
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    async with http.post(
        srv.url + "/api/plugins/lpr/webhook",
        data=raw,
        headers={"X-Signature": f"sha256={signature}", "Content-Type": "application/json"},
    ) as r:
        assert r.status == 201, await r.text()
        created: dict[str, Any] = await r.json()
        return created


async def health(http: aiohttp.ClientSession, srv: RunningServer, admin: str) -> dict[str, Any]:
    async with http.get(srv.url + "/api/plugins", headers=bearer(admin)) as r:
        (lpr,) = [p for p in await r.json() if p["name"] == "lpr"]
        return dict(lpr)


async def test_a_viewer_reads_only_their_cameras_and_cannot_change_hotlists(
    lpr_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    srv = lpr_server
    cams = {c.name: c.id for c in await srv.server.cameras.visible()}
    north, south = str(cams["north"]), str(cams["south"])
    seen_north = await push(http, srv, plate="ABC1234", camera=north)
    seen_south = await push(http, srv, plate="XYZ9876", camera=south)
    viewer = await srv.token("nina", "viewer", [cams["north"]])
    operator = await srv.token("omar", "operator", [cams["north"]])
    admin = await srv.admin_token()
    base = srv.url + "/api/plugins/lpr"

    async with http.get(base + "/reads", headers=bearer(viewer)) as r:
        assert r.status == 200
        assert [read["camera"] for read in (await r.json())["reads"]] == [north]
    async with http.get(base + "/reads", params={"camera": south}, headers=bearer(viewer)) as r:
        assert (await r.json())["reads"] == []
    for path in (f"/reads/{seen_south['id']}", f"/reads/{seen_south['id']}/crop"):
        async with http.get(base + path, headers=bearer(viewer)) as r:
            assert r.status == 404, path
    async with http.get(f"{base}/reads/{seen_north['id']}", headers=bearer(viewer)) as r:
        assert r.status == 200
    async with http.get(base + "/reads", headers=bearer(admin)) as r:
        assert {read["camera"] for read in (await r.json())["reads"]} == {north, south}
    async with http.get(base + "/status", headers=bearer(viewer)) as r:
        assert set((await r.json())["cameras"]) <= {north}

    entry = {"plate": "KBC1239", "reason": "stolen"}
    async with http.post(base + "/hotlists/stolen", json=entry, headers=bearer(viewer)) as r:
        assert r.status == 403
        assert "operator" in (await r.json())["error"]["message"]
    async with http.post(base + "/hotlists/stolen", json=entry, headers=bearer(operator)) as r:
        assert r.status == 201
    async with http.delete(base + "/hotlists/stolen/KBC1239", headers=bearer(viewer)) as r:
        assert r.status == 403
    async with http.get(base + "/hotlists", headers=bearer(viewer)) as r:
        assert [e["plate"] for e in (await r.json())["entries"]] == ["KBC1239"]
    async with http.delete(base + "/hotlists/stolen/KBC1239", headers=bearer(operator)) as r:
        assert r.status == 204


async def test_deeply_nested_bodies_are_refused_and_the_plugin_stays_healthy(
    lpr_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    srv = lpr_server
    operator = await srv.token("olga", "operator")
    admin = await srv.admin_token()
    signature = hmac.new(SECRET.encode(), NESTED, hashlib.sha256).hexdigest()
    signed = {"X-Signature": f"sha256={signature}"}
    # Twice the failure threshold, as JSON and as an untyped body the handler parses itself.
    for content_type in ("application/json", "application/octet-stream") * 5:
        async with http.post(
            srv.url + "/api/plugins/lpr/hotlists/stolen",
            data=NESTED,
            headers={**bearer(operator), "Content-Type": content_type},
        ) as r:
            assert r.status == 400, await r.text()
            assert "nested" in (await r.json())["error"]["message"]
        async with http.post(
            srv.url + "/api/plugins/lpr/webhook",
            data=NESTED,
            headers={**signed, "Content-Type": content_type},
        ) as r:
            assert r.status == 400, await r.text()
    state = await health(http, srv, admin)
    assert state["state"] == "running" and state["health"]["healthy"], state
    assert state["health"]["errors"] == 0
    async with http.post(
        srv.url + "/api/plugins/lpr/hotlists/stolen",
        json={"plate": "KBC1239"},
        headers=bearer(operator),
    ) as r:
        assert r.status == 201
