"""Serving plug-ins' routes under ``/api/plugins/<name>/`` with aiohttp.

One catch-all aiohttp route dispatches to the plug-ins' current routes, so a reload
that changes a plug-in's routes needs no change to the (frozen) aiohttp router. The
aiohttp request is translated into an SDK ``HttpRequest`` and the plug-in's
``HttpResponse`` back, so plug-ins never depend on aiohttp. Authentication is the
server's middleware; it asks :meth:`PluginHttp.is_public` whether a route opted out.

Before a handler runs, the host does what a client's bad input could otherwise turn
into the plug-in's failure: it checks the route's minimum role (403), the body's size
(413) and, for a JSON body, that it parses and is not nested too deeply (400). A
handler's :class:`~vms_sdk.HttpError` is its answer, sent as a JSON error and not
counted against its health.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from vms_sdk import HttpError, HttpRequest, Principal, Route, parse_json
from vms_sdk.routing import find_route, refusal

from vms_core.plugins.manager import PluginCallError, PluginManager, PluginState

PREFIX = "/api/plugins/"
# The catch-all: aiohttp matches any depth below the plug-in's name; the API table (auth,
# OpenAPI) knows it by its canonical form.
PLUGIN_ROUTE = PREFIX + "{plugin}/{tail:.*}"
PLUGIN_ROUTE_CANONICAL = PREFIX + "{plugin}/{tail}"
PLUGIN_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

log = logging.getLogger(__name__)

# (plug-in name, request, status, reason): told of every 4xx a public route answers.
RefusalListener = Callable[[str, web.Request, int, str], Awaitable[None]]
# Who sent the request, as plug-ins see it; None when nobody is logged in.
PrincipalOf = Callable[[web.Request], Principal | None]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# JSON bodies larger than this are parsed in a thread, off the event loop.
_PARSE_INLINE_BYTES = 64 * 1024


def error_response(status: int, code: str, message: str) -> web.Response:
    """The project's JSON error shape."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class PluginHttp:
    """Routes HTTP requests to plug-ins' ``Route`` handlers."""

    def __init__(
        self,
        manager: PluginManager,
        on_refused: RefusalListener | None = None,
        *,
        principal_of: PrincipalOf | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._manager = manager
        # Public routes are reached by anyone on the network (webhooks): the server audits
        # what they refuse, since the plug-in itself cannot write the audit log.
        self._on_refused = on_refused
        self._principal_of = principal_of
        self.max_body_bytes = max_body_bytes

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
        match = find_route(routes, method, "/" + tail)
        return name, match.route, match.params, match.path_known

    def is_public(self, method: str, path: str) -> bool:
        """Whether the route at ``method`` ``path`` was declared ``public=True``."""
        _, route, _, _ = self.find(method, path)
        return route is not None and route.public

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for everything under ``/api/plugins/``."""
        name, route, params, path_known = self.find(request.method, request.path)
        record = self._manager.get(name)
        if record is not None and record.state in (
            PluginState.RESTARTING,
            PluginState.QUARANTINED,
        ):
            return error_response(
                503, "plugin_unavailable", f"plug-in {name!r} is {record.state}: {record.reason}"
            )
        if record is None or record.state is not PluginState.RUNNING:
            return error_response(404, "not_found", f"no running plug-in named {name!r}")
        if not record.callable:
            return error_response(503, "plugin_unavailable", f"plug-in {name!r} is not answering")
        if route is None:
            if path_known:
                return error_response(
                    405, "method_not_allowed", f"{request.method} not allowed here"
                )
            return error_response(404, "not_found", f"plug-in {name!r} has no such route")
        caller = None
        if not route.public and self._principal_of is not None:
            caller = self._principal_of(request)
        refused = refusal(route, caller)
        if refused is not None:
            error = refused.decoded_json()["error"]
            return error_response(refused.status, error["code"], error["message"])
        try:
            body = await self._read_body(request)
            sdk_request = HttpRequest(
                method=request.method,
                path=_text("/" + request.match_info.get("tail", "")),
                query={_text(k): _text(request.query[k]) for k in request.query},
                headers={_text(k): _text(v) for k, v in request.headers.items()},
                body=body,
                params={k: _text(v) for k, v in params.items()},
                principal=caller,
            )
            response = await self._manager.handle_request(name, route, sdk_request)
        except HttpError as exc:
            return await self._refusal(name, route, request, exc.status, exc.code, exc.message)
        except PluginCallError as exc:
            if exc.timed_out:
                return error_response(504, "plugin_timeout", f"plug-in {name!r} did not answer")
            return error_response(500, "plugin_error", f"plug-in {name!r} failed (see log)")
        body, content_type = response.payload()
        if route.public and 400 <= response.status < 500:
            await self._audit_refusal(name, request, response.status, _reason(body))
        headers = dict(response.headers)
        headers["Content-Type"] = content_type
        return web.Response(status=response.status, body=body, headers=headers)

    async def _read_body(self, request: web.Request) -> bytes:
        """The body, within the size limit and, when it says it is JSON, valid JSON.

        :raises HttpError: 413 for a body over the limit, 400 for bad JSON.
        """
        limit = self.max_body_bytes
        too_large = HttpError(
            f"request body is larger than the {limit} bytes a plug-in route accepts",
            status=413,
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None
        if len(body) > limit:
            raise too_large
        if _is_json(request.content_type) and body:
            if len(body) > _PARSE_INLINE_BYTES:
                await asyncio.to_thread(parse_json, body)
            else:
                parse_json(body)
        return body

    async def _refusal(
        self, name: str, route: Route, request: web.Request, status: int, code: str, message: str
    ) -> web.Response:
        if route.public:
            await self._audit_refusal(name, request, status, message[:200])
        return error_response(status, code, message)

    async def _audit_refusal(
        self, name: str, request: web.Request, status: int, reason: str
    ) -> None:
        if self._on_refused is None:
            return
        try:
            await self._on_refused(name, request, status, reason)
        except Exception:
            log.exception("could not audit a refused request to plug-in %s", name)


def _text(value: str) -> str:
    """Valid UTF-8 text for the plug-in: bytes aiohttp could not decode (kept as surrogate
    escapes) become U+FFFD, so they can cross to the runner."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


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
