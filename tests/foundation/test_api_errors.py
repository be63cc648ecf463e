"""Every failure is JSON {"error": {"code", "message"}} with the right status; the OpenAPI
document describes exactly the routes the server has."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.conftest import bearer
from vms_core.server import VmsServer


async def _expect(http, method: str, url: str, status: int, code: str, **kw) -> dict:
    async with http.request(method, url, **kw) as r:
        assert r.status == status, await r.text()
        assert r.content_type == "application/json"
        body = await r.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


@pytest.mark.allow_error_logs(
    "unhandled error in GET /api/test/boom",
    reason="the route raises on purpose to check the 500 shape",
)
async def test_error_shapes(make_server, http) -> None:
    def add_failing_route(server: VmsServer) -> None:
        async def boom(request: web.Request) -> web.Response:
            raise RuntimeError("kaboom")

        server.api.route("GET", "/api/test/boom", summary="fails", tag="test", role=None)(boom)
        server.app.router.add_get("/api/test/boom", boom)

    srv = await make_server(before_start=add_failing_route)
    admin = await srv.admin_token()
    await _expect(http, "GET", srv.url + "/api/nowhere", 404, "not_found")
    await _expect(http, "GET", srv.url + "/no/such/page", 404, "not_found")
    await _expect(http, "DELETE", srv.url + "/api/health", 405, "method_not_allowed")
    body = await _expect(http, "GET", srv.url + "/api/test/boom", 500, "internal_error")
    assert "kaboom" not in body["error"]["message"]  # internals stay in the log
    big = b"{" + b" " * (srv.server.settings.server.max_request_bytes + 10) + b"}"
    await _expect(
        http,
        "POST",
        srv.url + "/api/tokens",
        413,
        "request_too_large",
        data=big,
        headers={**bearer(admin), "Content-Type": "application/json"},
    )
    await _expect(
        http,
        "POST",
        srv.url + "/api/tokens",
        400,
        "bad_request",
        data=b"{nope",
        headers={**bearer(admin), "Content-Type": "application/json"},
    )
    await _expect(
        http,
        "POST",
        srv.url + "/api/tokens",
        415,
        "unsupported_media_type",
        data=b"x",
        headers=bearer(admin),
    )
    await _expect(
        http,
        "GET",
        srv.url + "/api/audit?since=yesterday",
        400,
        "bad_request",
        headers=bearer(admin),
    )
    await _expect(
        http, "GET", srv.url + "/api/cameras/abc", 404, "not_found", headers=bearer(admin)
    )


async def test_openapi_matches_routes(make_server, http) -> None:
    srv = await make_server()
    async with http.get(srv.url + "/api/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for resource in srv.server.app.router.resources():
        for route in resource:
            if route.method != "HEAD" and resource.canonical.startswith("/api/"):
                served.add((route.method, resource.canonical))
    assert documented == served
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (method, path)
            if (method, path) != ("get", "/api/health"):
                assert op["operationId"]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
