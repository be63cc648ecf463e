"""Every route but health, the API description and login needs a login and the right role;
a user sees only the cameras granted to them."""

from __future__ import annotations

import re

import aiohttp

from tests.conftest import bearer

CAMERAS = """
[[cameras]]
name = "north"
rtsp_url = "rtsp://127.0.0.1:1/north"
password = "secret-north"
[[cameras]]
name = "south"
rtsp_url = "rtsp://user:pw@127.0.0.1:1/south"
"""
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login"),
    # CORS preflights carry no credentials (the CORS middleware checks their Origin).
    ("OPTIONS", "/api/cameras/{id}/whep"),
    ("OPTIONS", "/api/cameras/{id}/whep/{session}"),
}


def _concrete(path: str) -> str:
    return re.sub(r"{[^}]+}", "1", path)


async def test_health_is_public(make_server, http: aiohttp.ClientSession) -> None:
    srv = await make_server()
    async with http.get(srv.url + "/api/health") as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ok"


async def test_every_private_route_needs_authentication(make_server, http) -> None:
    srv = await make_server(CAMERAS)
    endpoints = list(srv.server.api.endpoints.values())
    assert len(endpoints) > 10
    for ep in endpoints:
        if (ep.method, ep.path) in PUBLIC:
            assert ep.role is None
            continue
        async with http.request(ep.method, srv.url + _concrete(ep.path)) as r:
            assert r.status == 401, (ep.method, ep.path, r.status)
            body = await r.json()
            assert body["error"]["code"] == "unauthorized"
        # A forged token is no better than none.
        async with http.request(
            ep.method, srv.url + _concrete(ep.path), headers=bearer("vms_forged")
        ) as r:
            assert r.status == 401, (ep.method, ep.path)


async def test_viewer_gets_403_on_admin_routes(make_server, http) -> None:
    srv = await make_server(CAMERAS)
    token = await srv.token("vera", "viewer")
    admin_routes = [e for e in srv.server.api.endpoints.values() if e.role == "admin"]
    assert admin_routes
    for ep in admin_routes:
        async with http.request(
            ep.method, srv.url + _concrete(ep.path), headers=bearer(token)
        ) as r:
            assert r.status == 403, (ep.method, ep.path, r.status)
            assert "admin" in (await r.json())["error"]["message"]


async def test_camera_permissions(make_server, http) -> None:
    srv = await make_server(CAMERAS)
    cams = {c.name: c.id for c in await srv.server.cameras.visible()}
    token = await srv.token("olga", "operator", [cams["north"]])
    async with http.get(srv.url + "/api/cameras", headers=bearer(token)) as r:
        assert r.status == 200
        assert [c["name"] for c in await r.json()] == ["north"]
    async with http.get(f"{srv.url}/api/cameras/{cams['south']}", headers=bearer(token)) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "not_found"
    async with http.get(f"{srv.url}/api/cameras/{cams['north']}", headers=bearer(token)) as r:
        assert r.status == 200
        camera = await r.json()
    # Credentials never leave the server, not even inside stream URLs.
    text = str(camera)
    assert "secret-north" not in text and camera["has_password"] is True
    admin = await srv.admin_token()
    async with http.get(srv.url + "/api/cameras", headers=bearer(admin)) as r:
        listed = await r.json()
        assert {c["name"] for c in listed} == {"north", "south"}
        assert "pw@" not in str(listed)


async def test_login_sets_a_session_cookie_and_is_audited(make_server) -> None:
    srv = await make_server()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(
            srv.url + "/api/auth/login", json={"username": "admin", "password": "wrong"}
        ) as r:
            assert r.status == 401
        async with http.get(srv.url + "/api/auth/me") as r:
            assert r.status == 401
        async with http.post(
            srv.url + "/api/auth/login", json={"username": "admin", "password": srv.admin_password}
        ) as r:
            assert r.status == 200
            cookie = r.cookies["vms_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with http.get(srv.url + "/api/auth/me") as r:
            assert (await r.json())["role"] == "admin"
        async with http.get(srv.url + "/api/audit?action=auth.login") as r:
            entries = await r.json()
        assert [(e["username"], e["success"]) for e in entries] == [
            ("admin", True),
            ("admin", False),
        ]
        async with http.post(srv.url + "/api/auth/logout") as r:
            assert r.status == 200
        async with http.get(srv.url + "/api/auth/me") as r:
            assert r.status == 401


async def test_tokens_are_hashed_at_rest_and_revocable(make_server, http) -> None:
    from sqlalchemy import select

    from vms_core.db.models import ApiToken

    srv = await make_server()
    admin = await srv.admin_token()
    async with http.post(
        srv.url + "/api/tokens", json={"name": "lpr-bridge"}, headers=bearer(admin)
    ) as r:
        assert r.status == 201
        created = await r.json()
    token = created["token"]
    async with srv.server.db.session() as session:
        stored = [row.token_hash for row in await session.scalars(select(ApiToken))]
    assert token not in stored and all(len(h) == 64 for h in stored)
    async with http.get(srv.url + "/api/auth/me", headers=bearer(token)) as r:
        assert r.status == 200
    async with http.delete(f"{srv.url}/api/tokens/{created['id']}", headers=bearer(admin)) as r:
        assert r.status == 200
    async with http.get(srv.url + "/api/auth/me", headers=bearer(token)) as r:
        assert r.status == 401


async def test_user_admin_round_trip(make_server, http) -> None:
    srv = await make_server(CAMERAS)
    admin = await srv.admin_token()
    async with http.post(
        srv.url + "/api/users",
        headers=bearer(admin),
        json={"username": "ops1", "password": "short", "role": "operator"},
    ) as r:
        assert r.status == 400
        assert "password" in (await r.json())["error"]["message"]
    async with http.post(
        srv.url + "/api/users",
        headers=bearer(admin),
        json={"username": "ops1", "password": "long-enough", "role": "operator"},
    ) as r:
        assert r.status == 201
        user = await r.json()
    async with http.post(
        srv.url + "/api/users",
        headers=bearer(admin),
        json={"username": "ops1", "password": "long-enough"},
    ) as r:
        assert r.status == 409
    async with http.patch(
        f"{srv.url}/api/users/{user['id']}",
        headers=bearer(admin),
        json={"role": "viewer", "bogus": 1},
    ) as r:
        assert r.status == 400
        assert "bogus: unknown field" in (await r.json())["error"]["message"]
    async with http.patch(
        f"{srv.url}/api/users/{user['id']}", headers=bearer(admin), json={"role": "viewer"}
    ) as r:
        assert (await r.json())["role"] == "viewer"
    async with http.get(srv.url + "/api/audit?action=user.", headers=bearer(admin)) as r:
        assert [e["action"] for e in await r.json()] == ["user.change", "user.create"]
