from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from vms_sdk import Principal

from tests.plugins import plugin_sources as src
from tests.plugins.conftest import MemoryServices, granted, started
from vms_core.plugins import CallBudgets, PluginHttp, PluginManager

# Who the auth middleware would have found, picked by a test header.
CALLERS = {
    "admin": Principal(1, "ada", "admin"),
    "viewer": Principal(7, "vic", "viewer", frozenset({"c1"})),
}


def caller(request: web.Request) -> Principal | None:
    return CALLERS.get(request.headers.get("X-Test-Caller", "admin"))


@pytest.fixture
async def client(
    services: MemoryServices,
    plugin_dir: Callable[[str, str], Path],
    aiohttp_client: Callable[..., Any],
) -> AsyncIterator[tuple[TestClient[Any, Any], PluginHttp]]:
    folder = plugin_dir("good", src.GOOD)
    manager = await started(
        PluginManager(
            services,
            granted("good"),
            [folder],
            use_entry_points=False,
            budgets=CallBudgets(http=0.3),
        )
    )
    http = PluginHttp(manager, principal_of=caller, max_body_bytes=64 * 1024)
    app = web.Application()
    http.add_routes(app.router)
    yield await aiohttp_client(app), http
    await manager.stop()


async def test_routes_are_served_under_the_plugin_prefix(
    client: tuple[TestClient[Any, Any], PluginHttp],
) -> None:
    c, _ = client
    resp = await c.get("/api/plugins/good/hello/ana?x=1")
    assert resp.status == 200
    assert await resp.json() == {"hello": "ana", "q": {"x": "1"}}

    resp = await c.post("/api/plugins/good/echo", json={"a": [1, 2]})
    assert resp.status == 201
    assert resp.headers["X-Plugin"] == "good"
    assert await resp.json() == {"a": [1, 2]}

    resp = await c.post("/api/plugins/good/hook", data=b"abc")
    assert resp.content_type == "application/octet-stream"
    assert await resp.read() == b"cba"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/plugins/good/nothing", 404, "not_found"),
        ("GET", "/api/plugins/nobody/hello/x", 404, "not_found"),
        ("DELETE", "/api/plugins/good/echo", 405, "method_not_allowed"),
        ("GET", "/api/plugins/good/boom", 500, "plugin_error"),
        ("GET", "/api/plugins/good/slow", 504, "plugin_timeout"),
    ],
)
async def test_errors_are_json(
    client: tuple[TestClient[Any, Any], PluginHttp], method: str, path: str, status: int, code: str
) -> None:
    c, _ = client
    resp = await c.request(method, path)
    assert resp.status == status
    body = await resp.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "route bug" not in body["error"]["message"]  # no internals leak to clients


async def test_public_flag_is_visible_to_the_auth_middleware(
    client: tuple[TestClient[Any, Any], PluginHttp],
) -> None:
    _, http = client
    assert http.is_public("POST", "/api/plugins/good/hook")
    assert not http.is_public("POST", "/api/plugins/good/echo")
    assert not http.is_public("GET", "/api/plugins/nobody/hook")


VIEWER = {"X-Test-Caller": "viewer"}


async def test_a_route_knows_its_caller_and_their_cameras(
    client: tuple[TestClient[Any, Any], PluginHttp],
) -> None:
    c, _ = client
    resp = await c.get("/api/plugins/good/whoami", headers=VIEWER)
    assert await resp.json() == {"user": "vic", "role": "viewer", "cameras": ["c1"]}
    resp = await c.get("/api/plugins/good/whoami")
    assert await resp.json() == {"user": "ada", "role": "admin", "cameras": None}
    assert (await c.get("/api/plugins/good/cameras/c1", headers=VIEWER)).status == 200
    hidden = await c.get("/api/plugins/good/cameras/c2", headers=VIEWER)
    assert hidden.status == 404 and (await hidden.json())["error"]["code"] == "not_found"
    assert (await c.get("/api/plugins/good/cameras/c2")).status == 200


async def test_a_route_declared_for_admins_refuses_others_before_the_plugin_runs(
    client: tuple[TestClient[Any, Any], PluginHttp],
) -> None:
    c, _ = client
    resp = await c.put("/api/plugins/good/settings", headers=VIEWER)
    assert resp.status == 403
    assert "admin" in (await resp.json())["error"]["message"]
    resp = await c.put("/api/plugins/good/settings")
    assert await resp.json() == {"changed": 1}, "the viewer's request never reached the plug-in"


async def test_bad_input_is_answered_4xx_and_never_counts_against_the_plugin(
    client: tuple[TestClient[Any, Any], PluginHttp],
) -> None:
    c, http = client
    threshold = http._manager.failure_threshold
    nested = b"[" * 3000 + b"]" * 3000
    for _ in range(threshold * 2):
        resp = await c.get("/api/plugins/good/picky")
        assert resp.status == 400
        assert await resp.json() == {
            "error": {"code": "bad_query", "message": "limit: must be 1..10"}
        }
        resp = await c.post(
            "/api/plugins/good/echo", data=nested, headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        assert "nested deeper than" in (await resp.json())["error"]["message"]
        resp = await c.post(
            "/api/plugins/good/echo", data=b"{no", headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        resp = await c.post("/api/plugins/good/hook", data=b"x" * (64 * 1024 + 1))
        assert resp.status == 413
    record = http._manager.get("good")
    assert record is not None and record.callable
    assert record.health.errors == 0
    assert (await c.post("/api/plugins/good/echo", json={"a": 1})).status == 201
