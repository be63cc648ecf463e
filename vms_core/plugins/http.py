"""Serving plug-ins' routes under ``/api/plugins/<name>/`` with aiohttp.

One catch-all aiohttp route dispatches to the plug-ins' current routes, so a reload
that changes a plug-in's routes needs no change to the (frozen) aiohttp router. The
aiohttp request is translated into an SDK ``HttpRequest`` and the plug-in's
``HttpResponse`` back, so plug-ins never depend on aiohttp. Authentication is the
server's middleware; it asks :meth:`PluginHttp.is_public` whether a route opted out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from vms_sdk import HttpRequest, Route

from vms_core.plugins.isolation import PluginCallError
from vms_core.plugins.manager import PluginManager, PluginState

PREFIX = "/api/plugins/"
# The catch-all: aiohttp matches any depth below the plug-in's name; the API table (auth,
# OpenAPI) knows it by its canonical form.
PLUGIN_ROUTE = PREFIX + "{plugin}/{tail:.*}"
PLUGIN_ROUTE_CANONICAL = PREFIX + "{plugin}/{tail}"
PLUGIN_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

log = logging.getLogger(__name__)

# (plug-in name, request, status, reason): told of every 4xx a public route answers.
RefusalListener = Callable[[str, web.Request, int, str], Awaitable[None]]


def error_response(status: int, code: str, message: str) -> web.Response:
    """The project's JSON error shape."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class PluginHttp:
    """Routes HTTP requests to plug-ins' ``Route`` handlers."""

    def __init__(self, manager: PluginManager, on_refused: RefusalListener | None = None) -> None:
        self._manager = manager
        # Public routes are reached by anyone on the network (webhooks): the server audits
        # what they refuse, since the plug-in itself cannot write the audit log.
        self._on_refused = on_refused

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the catch-all route, per method, on an application's router."""
        for method in PLUGIN_METHODS:
            router.add_route(method, PLUGIN_ROUTE, self.handle)

    def find(self, method: str, path: str) -> tuple[str, Route | None, dict[str, str], bool]:
        """Resolve ``path`` (full URL path) to ``(plugin, route, params, path_known)``."""
        rest = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        name, _, tail = rest.partition("/")
        record = self._manager.get(name)
        routes = record.routes if record is not None else []
        sub_path = "/" + tail
        path_known = False
        for route in routes:
            if route.match_path(sub_path) is None:
                continue
            path_known = True
            params = route.match(method, sub_path)
            if params is not None:
                return name, route, params, True
        return name, None, {}, path_known

    def is_public(self, method: str, path: str) -> bool:
        """Whether the route at ``method`` ``path`` was declared ``public=True``."""
        _, route, _, _ = self.find(method, path)
        return route is not None and route.public

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for everything under ``/api/plugins/``."""
        name, route, params, path_known = self.find(request.method, request.path)
        record = self._manager.get(name)
        if record is None or record.state is not PluginState.RUNNING:
            return error_response(404, "not_found", f"no running plug-in named {name!r}")
        if not record.callable:
            return error_response(503, "plugin_unavailable", f"plug-in {name!r} is unhealthy")
        if route is None:
            if path_known:
                return error_response(
                    405, "method_not_allowed", f"{request.method} not allowed here"
                )
            return error_response(404, "not_found", f"plug-in {name!r} has no such route")
        sdk_request = HttpRequest(
            method=request.method,
            path="/" + request.match_info.get("tail", ""),
            query={k: request.query[k] for k in request.query},
            headers={k: v for k, v in request.headers.items()},
            body=await request.read(),
            params=params,
        )
        try:
            response = await self._manager.handle_request(name, route, sdk_request)
        except PluginCallError as exc:
            if exc.timed_out:
                return error_response(504, "plugin_timeout", f"plug-in {name!r} did not answer")
            return error_response(500, "plugin_error", f"plug-in {name!r} failed (see log)")
        except TypeError as exc:
            return error_response(500, "plugin_error", str(exc))
        body, content_type = response.payload()
        if route.public and 400 <= response.status < 500 and self._on_refused is not None:
            try:
                await self._on_refused(name, request, response.status, _reason(body))
            except Exception:
                log.exception("could not audit a refused request to plug-in %s", name)
        headers = dict(response.headers)
        headers["Content-Type"] = content_type
        return web.Response(status=response.status, body=body, headers=headers)


def _reason(body: bytes) -> str:
    """The message of a JSON error body (the project's shape, or a plain string)."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:200].decode(errors="replace")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")[:200]
    return str(error or parsed)[:200]
