from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.plugins import plugin_sources as src
from tests.plugins.conftest import MemoryServices, started
from vms_core.plugins import CallBudgets, PluginHttp, PluginManager


@pytest.fixture
async def client(
    services: MemoryServices,
    plugin_dir: Callable[[str, str], Path],
    aiohttp_client: Callable[..., Any],
) -> AsyncIterator[tuple[TestClient[Any, Any], PluginHttp]]:
    folder = plugin_dir("good", src.GOOD)
    manager = await started(
        PluginManager(
            services, folders=[folder], use_entry_points=False, budgets=CallBudgets(http=0.3)
        )
    )
    http = PluginHttp(manager)
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
