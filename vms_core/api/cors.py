"""Cross-origin requests: refused, except live view (WHEP) from the listed origins.

A browser says where a request comes from in ``Origin``. Requests without it (curl,
integrations, same-origin GETs) and same-origin ones pass untouched. A cross-origin request
passes only when its origin is in ``[server] cors_origins`` and it goes to an endpoint that
third-party players need (the WHEP endpoints); it then gets the CORS headers the WHEP
specification asks for. Everything else cross-origin is refused with 403, which also stops
cross-site request forgery from sites that share our cookies' "site" (another port on the
same host, a sibling sub-domain).

Cross-origin callers authenticate with a bearer token, never the session cookie: the
preflight never allows credentials, and a cross-origin request that carries the cookie but
no token (a "simple" request needs no preflight) is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from vms_core.api.auth import SESSION_COOKIE
from vms_core.api.errors import error_response
from vms_core.config.settings import canonical_origin

ALLOW_HEADERS = "Authorization, Content-Type"
# What a WHEP player reads: the session URL, ICE servers, the ICE session tag, why not.
EXPOSE_HEADERS = "Location, Link, ETag, Retry-After, X-Vms-Stream, X-Vms-Note"
PREFLIGHT_MAX_AGE = "600"


class CorsPolicy:
    def __init__(self, allowed: Iterable[str], paths: Iterable[str], public_url: str = "") -> None:
        self.allowed = frozenset(canonical_origin(o) for o in allowed)
        self.paths = frozenset(paths)  # canonical route paths open to allowed origins
        self.own = canonical_origin(public_url) if public_url else None

    def same_origin(self, request: web.Request, origin: str) -> bool:
        # The browser's own verdict first: right behind a proxy that rewrites Host.
        if request.headers.get("Sec-Fetch-Site") == "same-origin":
            return True
        try:
            sent = canonical_origin(origin)
            ours = canonical_origin(f"{request.scheme}://{request.host}")
        except ValueError:
            return False  # "null", or a Host header that is no host
        return sent in (ours, self.own)

    def refusal(self, request: web.Request, origin: str) -> web.Response | None:
        """Why this cross-origin request is refused (a 403 to send), or None."""
        if canonical(origin) not in self.allowed:
            return error_response(
                403,
                f"cross-origin request from {origin} refused: "
                "that origin is not in [server] cors_origins",
            )
        if _route_path(request) not in self.paths:
            return error_response(
                403,
                f"cross-origin requests may use live view (WHEP) only, not "
                f"{request.method} {request.path}",
                headers=self.headers(origin),
            )
        bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
        if SESSION_COOKIE in request.cookies and not bearer:
            return error_response(
                403,
                "a cross-origin request must authenticate with a bearer token, "
                "not the session cookie",
                headers=self.headers(origin),
            )
        return None

    def headers(self, origin: str) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": EXPOSE_HEADERS,
            "Vary": "Origin",
        }

    def preflight_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Complete a preflight answer: the route's methods (its ``Allow``), our headers."""
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "OPTIONS")
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE


def canonical(origin: str) -> str | None:
    try:
        return canonical_origin(origin)
    except ValueError:
        return None


def _route_path(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    return resource.canonical


def cors_middleware(policy: CorsPolicy) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or policy.same_origin(request, origin):
            response: web.StreamResponse = await handler(request)
            return response
        refused = policy.refusal(request, origin)
        if refused is not None:
            return refused
        response = await handler(request)
        response.headers.update(policy.headers(origin))
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            policy.preflight_headers(request, response)
        return response

    return middleware
