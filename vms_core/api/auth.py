"""Authentication and authorisation for every route.

A request is authenticated by the ``vms_session`` cookie (web client) or an
``Authorization: Bearer`` API token (integrations). The endpoint table says which role each
route needs; routes it does not know (404/405) fall through to the error middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from vms_sdk import Principal as SdkPrincipal
from vms_sdk import Role

from vms_core.accounts.principal import Principal
from vms_core.accounts.service import AccountService
from vms_core.api.errors import error_response
from vms_core.api.registry import ApiRegistry
from vms_core.plugins.http import PLUGIN_ROUTE_CANONICAL

SESSION_COOKIE = "vms_session"
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("vms.principal", Principal)


def principal(request: web.Request) -> Principal:
    found: Principal | None = request.get(PRINCIPAL)
    if found is None:  # only reachable if a route forgot its role in the table
        raise web.HTTPUnauthorized()
    return found


def own_credential(request: web.Request) -> tuple[str | None, str | None]:
    """``(cookie, token)``: the session cookie or the API token ``request`` was
    authenticated with (the other is ``None``)."""
    if principal(request).via == "token":
        return None, request.headers.get("Authorization", "")[7:].strip()
    return request.cookies.get(SESSION_COOKIE), None


def sdk_caller(request: web.Request) -> SdkPrincipal | None:
    """The logged-in caller of a plug-in route, as the SDK describes it (camera ids are
    strings there, as everywhere in the SDK)."""
    who: Principal | None = request.get(PRINCIPAL)
    if who is None:
        return None
    cameras = None if who.camera_ids is None else frozenset(str(c) for c in who.camera_ids)
    # The catalog only holds the three roles; the SDK's Principal checks it again.
    return SdkPrincipal(who.user_id, who.username, cast(Role, who.role), cameras)


def remote(request: web.Request) -> str:
    return request.remote or ""


async def authenticate(accounts: AccountService, request: web.Request) -> Principal | None:
    """Who sent ``request`` (bearer token, else session cookie), or ``None``."""
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    return await accounts.authenticate(bearer, request.cookies.get(SESSION_COOKIE))


def auth_middleware(
    api: ApiRegistry, accounts: AccountService, is_public_plugin_route: Callable[[str, str], bool]
) -> Any:
    """Authenticates every request to an endpoint of ``api`` that needs a role, and
    refuses routes under /api/ that the table does not list. ``is_public_plugin_route``
    says whether a plug-in declared one of its routes public."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route
        resource = route.resource
        endpoint = None
        if resource is not None:
            endpoint = api.lookup(request.method, resource.canonical)
            if endpoint is None and request.method == "HEAD":
                endpoint = api.lookup("GET", resource.canonical)
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
            is_public_plugin_route(request.method, request.path)
        )
        if endpoint.role is not None and not public_plugin_route:
            who = await authenticate(accounts, request)
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
