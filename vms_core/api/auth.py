"""Authentication and authorisation for every route.

A request is authenticated by the ``vms_session`` cookie (web client) or an
``Authorization: Bearer`` API token (integrations). The endpoint table says which role each
route needs; routes it does not know (404/405) fall through to the error middleware.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from vms_core.api import accounts
from vms_core.api.errors import error_response
from vms_core.plugins.http import PLUGIN_ROUTE_CANONICAL

if TYPE_CHECKING:
    from vms_core.server import VmsServer

SESSION_COOKIE = "vms_session"
PRINCIPAL: web.RequestKey[accounts.Principal] = web.RequestKey("vms.principal", accounts.Principal)


def principal(request: web.Request) -> accounts.Principal:
    found: accounts.Principal | None = request.get(PRINCIPAL)
    if found is None:  # only reachable if a route forgot its role in the table
        raise web.HTTPUnauthorized()
    return found


def own_credential(request: web.Request) -> tuple[str | None, str | None]:
    """``(cookie, token)``: the session cookie or the API token ``request`` was
    authenticated with (the other is ``None``)."""
    if principal(request).via == "token":
        return None, request.headers.get("Authorization", "")[7:].strip()
    return request.cookies.get(SESSION_COOKIE), None


def remote(request: web.Request) -> str:
    return request.remote or ""


async def authenticate(server: VmsServer, request: web.Request) -> accounts.Principal | None:
    """Who sent ``request`` (bearer token or session cookie), or ``None``. Reads the
    catalog only: a token's use is recorded in memory (``server.token_usage``)."""
    header = request.headers.get("Authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    async with server.db.session() as session:
        if header.lower().startswith("bearer "):
            found = await accounts.token_owner(session, header[7:].strip())
            if found is None:
                return None
            token_id, user = found
            server.token_usage.touch(token_id)
            return await accounts.principal_for(session, user, "token")
        if cookie:
            owner = await server.sessions.user_for(session, cookie)
            return (
                None if owner is None else await accounts.principal_for(session, owner, "session")
            )
        return None


def auth_middleware(server: VmsServer) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route
        resource = route.resource
        endpoint = None
        if resource is not None:
            endpoint = server.api.lookup(request.method, resource.canonical)
            if endpoint is None and request.method == "HEAD":
                endpoint = server.api.lookup("GET", resource.canonical)
        if endpoint is None:
            # A route outside the table must never be served unauthenticated.
            untabled = (
                resource is not None
                and request.path.startswith("/api/")
                and request.match_info.http_exception is None
            )
            if untabled:
                return error_response(404, f"no such resource: {request.path}")
            response: web.StreamResponse = await handler(request)
            return response
        # A plug-in's webhook declared public checks its own signature instead.
        public_plugin_route = endpoint.path == PLUGIN_ROUTE_CANONICAL and (
            server.plugins.http.is_public(request.method, request.path)
        )
        if endpoint.role is not None and not public_plugin_route:
            who = await authenticate(server, request)
            if who is None:
                return error_response(
                    401,
                    "authentication required: log in or send an API token",
                    headers={"WWW-Authenticate": 'Bearer realm="vms"'},
                )
            if not who.has_role(endpoint.role):
                return error_response(
                    403, f"this needs the {endpoint.role} role; {who.username} is {who.role}"
                )
            request[PRINCIPAL] = who
        response = await handler(request)
        return response

    return middleware
